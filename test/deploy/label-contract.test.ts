// The label contract (deploy/label-contract.yaml), checked from the upstream code that produces labels:
// for compose, compose's prometheus.yml and the collector's scrape config go through Prometheus's own
// config loading and relabelling; for Kubernetes, prometheus-operator v0.93.1's config generator
// (kube-prometheus-stack 88.5.3's appVersion) renders the scrape configuration of every monitor (the dice
// chart's, helm template with the production values, and the official charts', rendered with
// deploy/values/ into deploy/values/upstream-rendered/monitoring.yaml), Prometheus v0.314.0's Kubernetes
// discovery finds the targets among the cluster's objects (test/deploy/support/cluster.ts), and
// scrape.PopulateLabels applies the relabelling (deploy/tools/label-contract). Then every selector of
// every panel, dashboard variable, recording rule and alert must select series on both platforms.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { RELEASE, NAMESPACE, PRODUCTION, template, type K8sObject } from './support/chart.ts';
import { endpointsOf, kubeletObjects, NODES, operatorPods, podsOf, type Labels, type Obj } from './support/cluster.ts';
import { ROOT, run } from './support/tools.ts';

const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const contract = parse(read('deploy/label-contract.yaml')) as { labels: Record<string, string>; jobs: Record<string, { compose: string; kubernetes: string }> };
const CONTRACT_LABELS = Object.keys(contract.labels);

type Out = { config: string; series: { scrape: string; labels: Labels; samples?: Labels[] }[] };

let dumped = 0;
function labelContract(input: unknown): Out {
  const check = run('bash', ['deploy/tools/label-contract/build.sh', '--check']);
  if (check.status !== 0) throw new Error(check.output.trim());
  const bin = run('bash', ['deploy/tools/label-contract/build.sh', '--print-path']).output.trim();
  // DICE_LABEL_CONTRACT_DUMP=<dir>: keep each input for running the tool by hand.
  const dump = process.env.DICE_LABEL_CONTRACT_DUMP;
  if (dump) writeFileSync(join(dump, `input-${++dumped}.json`), JSON.stringify(input, null, 1));
  const r = spawnSync(bin, [], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`label-contract failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Out;
}

/** Series label sets: a target's own (up, scrape_*) and each of its exporter samples after metric relabelling. */
const universe = (out: Out): Labels[] => out.series.flatMap((s) => [s.labels, ...(s.samples ?? [])]);

// ---------- compose ----------
function composeSeries(): Labels[] {
  const prometheus = labelContract({ config: read('observability/prometheus/prometheus.yml'), samples: composeSamples() });
  // The collector's own scrape of the replicas; the prometheus receiver turns job and instance into
  // service.name and service.instance.id, which Prometheus's OTLP endpoint turns back into job and instance.
  const collector = parse(read('otel-collector/config.yaml')).receivers.prometheus.config;
  const pushed = labelContract({ config: JSON.stringify(collector).replaceAll('$$', '$') });
  return [...universe(prometheus), ...universe(pushed)];
}

function composeSamples(): Record<string, Labels[]> {
  const services = Object.keys(parse(read('docker-compose.yml')).services);
  const servers = [...read('observability/haproxy/haproxy.cfg').matchAll(/^\s*server (\S+) /gm)].map((m) => m[1]!);
  return {
    // cAdvisor exports a container's Docker labels as container_label_*: compose labels each container with its service.
    cadvisor: services.map((s) => ({ container_label_com_docker_compose_service: s, name: s })),
    'load-balancer': servers.map((s) => ({ proxy: 'dice-api', server: s })),
  };
}

// ---------- Kubernetes ----------
function kubernetesSeries(): Labels[] {
  const chart = template(['-f', PRODUCTION]).objects as unknown as Obj[];
  for (const o of chart) o.metadata.namespace ??= NAMESPACE;
  const upstream = parseAllDocuments(read('deploy/values/upstream-rendered/monitoring.yaml')).map((d) => d.toJS() as Obj);
  const all = [...chart, ...upstream];
  const workloads = all.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind));
  const crs = all.filter((o) => o.kind === 'Prometheus' || o.kind === 'Alertmanager');
  const pods = [...workloads.flatMap(podsOf), ...crs.flatMap(operatorPods)];
  const services = all.filter((o) => o.kind === 'Service');
  const prometheus = crs.find((o) => o.kind === 'Prometheus')!;
  const kubelet = kubeletObjects(`${prometheus.metadata.name.replace(/-prometheus$/, '')}-kubelet`);
  const objects = [...pods, ...services, ...endpointsOf(services, pods), ...kubelet];
  // Monitors the side-by-side Prometheus selects (its serviceMonitorSelector/podMonitorSelector
  // matchLabels; none: every one) and, on the main path, the user's (release "yours", whose
  // node-exporter the rendered file holds).
  const selects = (o: Obj) => {
    const sel = (o.kind === 'ServiceMonitor' ? prometheus.spec.serviceMonitorSelector : prometheus.spec.podMonitorSelector)?.matchLabels ?? {};
    return Object.entries(sel).every(([k, v]) => o.metadata.labels?.[k] === v) || o.metadata.labels?.release === 'yours';
  };
  const monitors = all.filter((o) => (o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor') && selects(o));

  const edge = all.find((o) => o.kind === 'Deployment' && o.metadata.name === `${RELEASE}-dice-stack-edge`)!;
  const slots = Number(edge.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'DICE_API_SLOTS').value);
  const dicePods = pods.filter((p) => p.metadata.namespace === NAMESPACE);
  const samples: Record<string, Labels[]> = {
    // The kubelet's cAdvisor labels each container's series with container, pod and namespace
    // (k8s.io/kubernetes pkg/kubelet/server/server.go containerPrometheusLabelsFunc, v1.37.2).
    [`serviceMonitor/${NAMESPACE}/${RELEASE}-dice-stack-cadvisor/`]: pods.flatMap((p) => [
      ...p.spec.containers.map((c: { name: string }) => ({ container: c.name, pod: p.metadata.name, namespace: p.metadata.namespace!, name: 'k8s_x', image: 'x', id: '/kubepods/x' })),
      { container: '', pod: p.metadata.name, namespace: p.metadata.namespace!, id: '/kubepods/pod' }, // the pod's own cgroup
    ]),
    // HAProxy's server-template names its slots <prefix><n>, 1..DICE_API_SLOTS (deploy/helm/dice-stack/files/haproxy.cfg).
    [`podMonitor/${NAMESPACE}/${RELEASE}-dice-stack-edge/`]: Array.from({ length: slots }, (_, i) => ({ proxy: 'dice-api', server: `dice-api-${i + 1}` })),
  };
  // The API server fills in the CRD's defaults (monitoring.coreos.com_prometheuses.yaml at v0.93.1:
  // scrapeInterval and evaluationInterval default to 30s); the image is PROMETHEUS_VERSION's.
  const spec = { scrapeInterval: '30s', evaluationInterval: '30s', ...prometheus.spec, version: 'v3.14.0' };
  const scraped = labelContract({ prometheus: { ...prometheus, spec }, monitors, objects, samples });

  // The agents' scrape of the replicas (the chart's generated collector config, with the DaemonSet's
  // environment); each agent keeps only its node's replicas (a field selector Prometheus's discovery
  // passes to the API server), so the union over nodes is every replica.
  const agent = one(chart, 'DaemonSet');
  const env = Object.fromEntries(agent.spec.template.spec.containers[0].env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
  Object.assign(env, { K8S_NAMESPACE: NAMESPACE, K8S_NODE_NAME: NODES[0] });
  const collector = parse(read('deploy/helm/dice-stack/files/otel-collector.yaml')).receivers.prometheus.config;
  // The SD config's selectors are filters the API server applies (label and field selectors): applied
  // here to the pods handed to discovery, then dropped from the config.
  const subst = (v: string) => v.replace(/\$\{env:(\w+)\}/g, (_, n) => env[n] ?? `<unset ${n}>`);
  const selected = new Set<string>();
  for (const sc of collector.scrape_configs) {
    for (const sd of sc.kubernetes_sd_configs ?? []) {
      for (const sel of sd.selectors ?? []) {
        const wanted = Object.fromEntries(subst(sel.label ?? '').split(',').filter(Boolean).map((kv: string) => kv.split('=') as [string, string]));
        for (const p of dicePods) if (Object.entries(wanted).every(([k, v]) => p.metadata.labels?.[k] === v)) selected.add(p.metadata.name);
      }
      delete sd.selectors;
    }
  }
  expect(selected.size, 'the agents select the API pods by label').toBeGreaterThan(0);
  const collectorText = subst(JSON.stringify(collector).replaceAll('$$', '$'));
  const pushed = labelContract({ config: collectorText, objects: dicePods.filter((p) => selected.has(p.metadata.name)) });
  return [...universe(scraped), ...universe(pushed)];
}

function one(objs: Obj[], kind: string): Obj {
  const found = objs.filter((o) => o.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!;
}

// ---------- selectors ----------
type Matcher = { label: string; op: string; value: string };
type Selector = { metric: string; matchers: Matcher[]; text: string };

const unquote = (s: string) => JSON.parse(s.replace(/^'(.*)'$|^`(.*)`$/s, '"$1$2"')) as string;

function selectors(expr: string): Selector[] {
  const q = expr.replace(/\$__(rate_interval|interval|range)/g, '5m').replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_, a, b) => `VAR_${a ?? b}`);
  const out: Selector[] = [];
  parser.parse(q).iterate({
    enter(n) {
      if (n.name !== 'VectorSelector') return;
      const id = n.node.getChild('Identifier');
      const matchers: Matcher[] = [];
      n.node.getChild('LabelMatchers')?.toTree().iterate({
        enter(m) {
          if (m.name !== 'UnquotedLabelMatcher') return;
          const from = n.node.getChild('LabelMatchers')!.from + m.from;
          const sub = q.slice(from, from + (m.to - m.from));
          const mm = /^\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*(".*"|'.*'|`.*`)\s*$/s.exec(sub);
          if (mm) matchers.push({ label: mm[1]!, op: mm[2]!, value: unquote(mm[3]!) });
        },
      });
      out.push({ metric: id ? q.slice(id.from, id.to) : '', matchers, text: q.slice(n.from, n.to).replace(/\s+/g, ' ') });
    },
  });
  return out;
}

type Query = { where: string; expr: string };

function dashboardQueries(): { queries: Query[]; variables: Record<string, Record<string, { metricSelector: string; label: string }>> } {
  const queries: Query[] = [];
  const variables: Record<string, Record<string, { metricSelector: string; label: string }>> = {};
  for (const f of readdirSync(join(ROOT, 'observability/grafana/dashboards'))) {
    const d = JSON.parse(read(`observability/grafana/dashboards/${f}`));
    const walk = (p: { panels?: any[] }) => {
      for (const x of p.panels ?? []) {
        walk(x);
        for (const t of x.targets ?? []) if (t.expr && (t.datasource?.type ?? x.datasource?.type) !== 'loki') queries.push({ where: `dashboard ${d.title}, panel "${x.title}"`, expr: t.expr });
      }
    };
    walk(d);
    variables[f] = {};
    for (const v of d.templating?.list ?? []) {
      const q = typeof v.query === 'string' ? v.query : v.query?.query;
      const m = q && /^label_values\((.*),\s*(\w+)\)$/s.exec(q);
      if (m) {
        variables[f][v.name] = { metricSelector: m[1]!, label: m[2]! };
        queries.push({ where: `dashboard ${d.title}, variable $${v.name}`, expr: m[1]! });
      }
    }
    for (const q of queries) if (!('file' in q)) Object.assign(q, { file: f });
  }
  return { queries, variables };
}

function ruleQueries(): Query[] {
  return readdirSync(join(ROOT, 'observability/prometheus/rules')).flatMap((f) =>
    (parse(read(`observability/prometheus/rules/${f}`)).groups as { rules: { alert?: string; record?: string; expr: string }[] }[]).flatMap((g) =>
      g.rules.map((r) => ({ where: `rule file ${f}, ${r.alert ? `alert ${r.alert}` : `record ${r.record}`}`, expr: r.expr })),
    ),
  );
}

/** Whether a label set satisfies every matcher on a contract label (other labels are the exporters' own, alike on both platforms). */
function satisfies(l: Labels, matchers: Matcher[], vars: Record<string, Set<string>>): boolean {
  return matchers
    .filter((m) => CONTRACT_LABELS.includes(m.label))
    .every((m) => {
      const v = l[m.label] ?? '';
      const varRef = /^VAR_(\w+)$/.exec(m.value);
      if (varRef) {
        const values = vars[varRef[1]!] ?? new Set();
        const hit = values.has(v);
        return m.op === '=' || m.op === '=~' ? hit : !hit;
      }
      const re = new RegExp(`^(?:${m.value})$`);
      return m.op === '=' ? v === m.value : m.op === '!=' ? v !== m.value : m.op === '=~' ? re.test(v) : !re.test(v);
    });
}

function emptySelectors(series: Labels[], platform: string): string[] {
  const { queries, variables } = dashboardQueries();
  const problems: string[] = [];
  const varValues: Record<string, Record<string, Set<string>>> = {};
  for (const [file, vars] of Object.entries(variables)) {
    varValues[file] = {};
    for (const [name, v] of Object.entries(vars)) {
      const [s] = selectors(v.metricSelector);
      const values = new Set(series.filter((l) => satisfies(l, s!.matchers, varValues[file]!)).map((l) => l[v.label]).filter((x): x is string => !!x));
      // A variable whose label is not a contract label takes every value it is given (e.g. the environment).
      varValues[file][name] = CONTRACT_LABELS.includes(v.label) ? values : new Set(['*']);
    }
  }
  for (const q of [...queries, ...ruleQueries()]) {
    const file = (q as Query & { file?: string }).file;
    for (const s of selectors(q.expr)) {
      if (s.metric.includes(':') || !s.matchers.some((m) => CONTRACT_LABELS.includes(m.label))) continue; // recording rules: their inputs are checked
      const vars = file ? varValues[file]! : {};
      if (!series.some((l) => satisfies(l, s.matchers, vars))) problems.push(`${platform}: ${q.where}: ${s.text} selects nothing`);
    }
  }
  return [...new Set(problems)];
}

describe('one label contract (deploy/label-contract.yaml), from the upstream code that makes the labels', () => {
  // Each platform's series, computed once, on first use (a platform that cannot be computed fails its own tests only).
  const cache: Partial<Record<'compose' | 'kubernetes', Labels[]>> = {};
  const seriesOf = (p: 'compose' | 'kubernetes') => (cache[p] ??= p === 'compose' ? composeSeries() : kubernetesSeries());

  it.each(['compose', 'kubernetes'] as const)('every job of the contract exists on %s, with an instance on every series', (platform) => {
    const series = seriesOf(platform);
    const jobs = new Set(series.map((l) => l.job));
    for (const job of Object.keys(contract.jobs)) expect(jobs, `${platform}: job ${job} (${contract.jobs[job]![platform]})`).toContain(job);
    for (const l of series.filter((x) => Object.keys(contract.jobs).includes(x.job!))) expect(l.instance, JSON.stringify(l)).toBeTruthy();
  });

  const mirrors = process.env.DICE_CHART_MIRRORS?.split(':');
  it.skipIf(!mirrors)(
    'deploy/values/upstream-rendered/monitoring.yaml is what the charts render with deploy/values/ now (set DICE_CHART_MIRRORS=<grafana-community>:<prometheus-community> git dirs to run)',
    () => {
      const r = spawnSync(process.execPath, ['scripts/deploy/render-monitoring.ts', '--grafana-community', mirrors![0]!, '--prometheus-community', mirrors![1]!, '--check'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, HELM: process.env.DICE_HELM ?? run('bash', ['scripts/native/build-backends.sh', '--print-paths']).output.match(/^helm=(.*)$/m)![1]! },
        timeout: 120_000,
      });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    },
  );

  it("the side-by-side Prometheus selects monitors and rules by its release label, not every team's", () => {
    const prometheus = parseAllDocuments(read('deploy/values/upstream-rendered/monitoring.yaml')).map((d) => d.toJS() as Obj).find((o) => o.kind === 'Prometheus')!;
    for (const k of ['serviceMonitorSelector', 'podMonitorSelector', 'ruleSelector']) expect(prometheus.spec[k]?.matchLabels, k).toEqual({ release: 'kps' });
  });

  it('on Kubernetes, a dice-api replica has one instance everywhere: its pod name (scraped, pushed, in cAdvisor)', () => {
    const kubernetes = seriesOf('kubernetes');
    const apiPods = kubernetes.filter((l) => l.job === 'dice-api').map((l) => l.instance);
    expect(apiPods.length).toBeGreaterThan(0);
    for (const p of apiPods) {
      expect(p).toMatch(new RegExp(`^${RELEASE}-dice-stack-api-`));
      expect(kubernetes.some((l) => l.job === 'cadvisor' && l.container_label_com_docker_compose_service === p), `cAdvisor series of ${p}`).toBe(true);
    }
    // Only this release's containers, never another namespace's or a pod's own cgroup.
    const cadvisor = kubernetes.filter((l) => l.job === 'cadvisor' && l.container !== undefined);
    expect(cadvisor.length).toBeGreaterThan(0);
    for (const l of cadvisor) {
      expect(l.namespace).toBe(NAMESPACE);
      expect(l.container).not.toBe('');
    }
  });

  // A selector without a job reads every collector and SDK the Prometheus scrapes or receives
  // (another team's collectors, Alloy's): their backlog would page us and ours would hide in theirs.
  it.each([
    ['otelcol_', 'otel-collector'],
    ['otel_sdk_', 'dice-api'],
  ])('every selector of %s* in panels, recording rules and alerts names its job (%s), not every one the Prometheus has', (prefix, job) => {
    const unscoped = [...dashboardQueries().queries, ...ruleQueries()].flatMap((q) =>
      selectors(q.expr)
        .filter((s) => s.metric.startsWith(prefix) && !s.matchers.some((m) => m.label === 'job' && m.op === '=' && m.value === job))
        .map((s) => `${q.where}: ${s.text}`),
    );
    expect(unscoped).toEqual([]);
  });

  it.each(['compose', 'kubernetes'] as const)('every selector of every panel, variable, recording rule and alert selects series on %s', (platform) => {
    expect(emptySelectors(seriesOf(platform), platform)).toEqual([]);
  });
});
