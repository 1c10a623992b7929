// What the official charts give Prometheus to scrape, with our values: their ServiceMonitors and
// PodMonitors, the Services those select, the workloads behind them (trimmed to names, replicas,
// pod labels and container ports) and kube-prometheus-stack's Prometheus and Alertmanager resources.
// Rendered with helm template from git mirrors of the chart repositories (scripts/deploy/render-charts.ts)
// and committed, so that the label contract (test/deploy/label-contract.test.ts) runs offline.
//   HELM=<helm> node scripts/deploy/render-monitoring.ts --grafana-community <git dir> --prometheus-community <git dir> [--check]
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { CHARTS, renderChart } from './render-charts.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RENDERED = 'deploy/values/upstream-rendered/monitoring.yaml';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any };

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Workloads trimmed to what discovery sees of their pods. */
function trimWorkload(o: Obj): Obj {
  const t = o.spec.template;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name: o.metadata.name, namespace: o.metadata.namespace, labels: o.metadata.labels },
    spec: {
      replicas: o.spec.replicas,
      template: {
        metadata: { labels: t.metadata?.labels },
        spec: { containers: (t.spec.containers ?? []).map((c: any) => ({ name: c.name, ports: c.ports })) },
      },
    },
  };
}

export function pick(manifests: Record<string, string>): Obj[] {
  const out: Obj[] = [];
  for (const [chart, text] of Object.entries(manifests)) {
    const objs = parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((o) => o?.kind);
    for (const o of objs) o.metadata.namespace ??= 'observability';
    const monitors = objs.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor');
    const services = objs.filter((o) => o.kind === 'Service' && monitors.some((m) => m.kind === 'ServiceMonitor' && matches(m.spec.selector?.matchLabels, o.metadata.labels)));
    const workloads = objs.filter(
      (o) =>
        ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind) &&
        (services.some((s) => matches(s.spec.selector, o.spec.template.metadata?.labels)) ||
          monitors.some((m) => m.kind === 'PodMonitor' && matches(m.spec.selector?.matchLabels, o.spec.template.metadata?.labels))),
    );
    const crs = objs.filter((o) => o.kind === 'Prometheus' || o.kind === 'Alertmanager').map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata, spec: o.spec }));
    console.log(`${chart}: ${monitors.length} monitors, ${services.length} services, ${workloads.length} workloads, ${crs.length} operator resources`);
    out.push(...monitors, ...services, ...workloads.map(trimWorkload), ...crs);
  }
  return out;
}

function render(): string {
  const arg = (n: string) => {
    const i = process.argv.indexOf(`--${n}`);
    if (i < 0 || !process.argv[i + 1]) throw new Error(`missing --${n}`);
    return process.argv[i + 1]!;
  };
  const out = join(tmpdir(), `dice-render-monitoring-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  const helm = process.env.HELM ?? 'helm';
  const mirrors = { 'grafana-community': arg('grafana-community'), 'prometheus-community': arg('prometheus-community') };
  const manifests: Record<string, string> = {};
  for (const c of CHARTS) if (c.chart !== 'grafana') manifests[c.chart] = renderChart(helm, c, mirrors, [c.values], out);
  // The main path: a user's kube-prometheus-stack (chart defaults, node-exporter and kube-state-metrics
  // on) with kube-prometheus-stack-yours.yaml: only its node-exporter is taken (the host panels read it).
  const kps = CHARTS.find((c) => c.chart === 'kube-prometheus-stack')!;
  // Its grafana subchart is another repository's (grafana-community): off here, it scrapes nothing we read.
  mkdirSync(out, { recursive: true });
  const noGrafana = join(out, 'no-grafana.yaml');
  writeFileSync(noGrafana, 'grafana:\n  enabled: false\n');
  const yours = renderChart(helm, { ...kps, release: 'yours' }, mirrors, ['kube-prometheus-stack-yours.yaml', noGrafana], out, 'kps-yours');
  manifests['kube-prometheus-stack (yours: node-exporter only)'] = parseAllDocuments(yours)
    .map((d) => d.toJS() as Obj)
    .filter((o) => o?.metadata?.name?.includes('node-exporter'))
    .map((o) => stringify(o))
    .join('---\n');
  const header =
    '# GENERATED by scripts/deploy/render-monitoring.ts: what the official charts give Prometheus to scrape, with\n' +
    '# deploy/values/: monitors, the Services they select, their workloads (trimmed) and the Prometheus/Alertmanager\n' +
    `# resources, from helm template of ${CHARTS.filter((c) => c.chart !== 'grafana').map((c) => c.tag).join(', ')} (git mirrors of\n` +
    '# grafana-community/helm-charts and prometheus-community/helm-charts), and the node-exporter of a user\'s\n' +
    '# kube-prometheus-stack (release "yours", kube-prometheus-stack-yours.yaml). Regenerate after changing those values.\n';
  return header + pick(manifests).map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = render();
  const file = join(ROOT, RENDERED);
  if (process.argv.includes('--check')) {
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
      console.error(`${RENDERED} is stale: regenerate it (without --check)`);
      process.exit(1);
    }
    console.log(`${RENDERED} is up to date`);
  } else {
    writeFileSync(file, text);
    console.log(`wrote ${RENDERED}`);
  }
}
