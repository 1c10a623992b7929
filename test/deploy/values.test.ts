// The values files of the official charts (deploy/values) against the pinned charts' own keys,
// against each other (endpoints, retention), and against .env and the SLO spec. Offline: the key
// lists were extracted from the upstream tags by scripts/deploy/chart-keys.ts. With chart mirrors and
// helm at hand (DICE_CHART_MIRRORS=<grafana-community git dir>:<prometheus-community git dir>), the
// last test also renders the four charts and checks the Services endpoints.yaml names exist.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { keyPaths, loadKeyList, parseKeyList, unknownKeys } from '../../scripts/deploy/chart-keys.ts';
import { durationSeconds } from '../../scripts/deploy/sizing.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const yaml = (p: string) => parse(read(p));
const env = Object.fromEntries(
  read('.env').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);

/** Each values file, its chart, the pinned version, the .env version its app must match. */
const CHARTS = [
  { file: 'tempo-distributed.yaml', chart: 'tempo-distributed', version: '3.3.0', app: env.TEMPO_VERSION },
  { file: 'loki.yaml', chart: 'loki', version: '18.11.0', app: env.LOKI_VERSION },
  { file: 'grafana.yaml', chart: 'grafana', version: '12.11.1', app: env.GRAFANA_VERSION },
  // kube-prometheus-stack's appVersion is the operator's; the Prometheus it runs is in the key-list
  // header's line "prometheus image".
  { file: 'kube-prometheus-stack.yaml', chart: 'kube-prometheus-stack', version: '88.5.3', app: undefined },
  { file: 'kube-prometheus-stack-yours.yaml', chart: 'kube-prometheus-stack', version: '88.5.3', app: undefined },
];

/**
 * Keys the charts take although their values.yaml does not list them, each with the template or
 * comment that says so. Anything below one of these is passed through as it is.
 */
const PASS_THROUGH: Record<string, { path: string; why: string }[]> = {
  'tempo-distributed': [{ path: 'storage.trace.s3', why: 'templates/configmap-tempo.yaml: `s3: {{- toYaml .Values.storage.trace.s3 }}` when backend is s3' }],
  loki: [
    { path: 'loki.storage.bucketNames', why: 'values.yaml 18.11.0, loki.storage: "# bucketNames: chunks: FIXME ruler: FIXME" (commented example)' },
    { path: 'loki.limits_config', why: 'values.yaml 18.11.0 loki.config: `limits_config: {{- tpl (. | toYaml) $ }}` of .Values.loki.limits_config, whole' },
  ],
  grafana: [{ path: '"grafana.ini"', why: 'templates/_config.tpl renders every section and key of "grafana.ini" into grafana.ini' }],
  'kube-prometheus-stack': [],
};

function withPassThrough(chart: string, list: ReturnType<typeof parseKeyList>) {
  for (const p of PASS_THROUGH[chart] ?? []) list.freeForm.add(p.path), list.paths.add(p.path);
  return list;
}

describe('values files of the official charts', () => {
  for (const c of CHARTS) {
    describe(c.file, () => {
      const keysFile = `deploy/values/upstream-keys/${c.chart}-${c.version}.txt`;

      it('opens with 2-4 comment lines naming the chart and its pinned version', () => {
        const lines = read(`deploy/values/${c.file}`).split('\n');
        const head = lines.slice(0, lines.findIndex((l) => !l.startsWith('#')));
        expect(head.length).toBeGreaterThanOrEqual(2);
        expect(head.length).toBeLessThanOrEqual(4);
        expect(head.join(' ')).toContain(`${c.chart} ${c.version}`);
      });

      it("pins the chart version whose app is .env's", () => {
        const header = read(keysFile).split('\n').filter((l) => l.startsWith('#')).join('\n');
        expect(header).toContain(`${c.chart} chart ${c.version} `);
        if (c.app) expect(header).toContain(`(appVersion ${c.app})`);
        else expect(header).toContain(`prometheus image v${env.PROMETHEUS_VERSION}`);
      });

      it("uses only keys the pinned chart's values.yaml has", () => {
        const ours = yaml(`deploy/values/${c.file}`);
        expect(unknownKeys(ours, withPassThrough(c.chart, loadKeyList(join(ROOT, keysFile))))).toEqual([]);
      });
    });
  }

  it("the generated Alertmanager values (deploy/helm/kube-prometheus-stack.alertmanager.yaml) use only kube-prometheus-stack 88.5.3's keys", () => {
    const list = loadKeyList(join(ROOT, 'deploy/values/upstream-keys/kube-prometheus-stack-88.5.3.txt'));
    // alertmanager.config is the chart's free-form Alertmanager configuration below its listed keys (amtool checks it).
    const fragment = yaml('deploy/helm/kube-prometheus-stack.alertmanager.yaml');
    const { config: _config, ...rest } = fragment.alertmanager;
    expect(unknownKeys({ alertmanager: rest }, list)).toEqual([]);
  });

  it('the key check catches a misspelt or moved key (mutations of our own files)', () => {
    const kps = yaml('deploy/values/kube-prometheus-stack.yaml');
    const list = loadKeyList(join(ROOT, 'deploy/values/upstream-keys/kube-prometheus-stack-88.5.3.txt'));
    expect(unknownKeys(kps, list)).toEqual([]);
    kps.prometheus.prometheusSpec.retentionTime = kps.prometheus.prometheusSpec.retention; // a plausible misspelling
    kps.prometheus.exemplars = { maxSize: 1 }; // right key, wrong level
    expect(unknownKeys(kps, list).sort()).toEqual(['prometheus.exemplars', 'prometheus.prometheusSpec.retentionTime']);
    const tempo = yaml('deploy/values/tempo-distributed.yaml');
    tempo.compactor = { compaction: { block_retention: '1h' } }; // Tempo 2's key: gone in chart 3.x
    expect(unknownKeys(tempo, withPassThrough('tempo-distributed', loadKeyList(join(ROOT, 'deploy/values/upstream-keys/tempo-distributed-3.3.0.txt'))))).toEqual(['compactor']);
  });

  it('free-form maps upstream accept any key below them, and only there', () => {
    const list = parseKeyList('a\na.b {}\na.c\na.c.d\n');
    expect(unknownKeys({ a: { b: { anything: { deep: 1 } }, c: { d: 1 } } }, list)).toEqual([]);
    expect(unknownKeys({ a: { c: { e: 1 } } }, list)).toEqual(['a.c.e']);
    expect(keyPaths({ x: { 'a.b': 1, y: {} } })).toEqual([
      { path: 'x', freeForm: false },
      { path: 'x."a.b"', freeForm: false },
      { path: 'x.y', freeForm: true },
    ]);
  });
});

describe('the values files agree with each other', () => {
  const endpoints = yaml('deploy/values/endpoints.yaml');
  const tempo = yaml('deploy/values/tempo-distributed.yaml');
  const loki = yaml('deploy/values/loki.yaml');
  const kps = yaml('deploy/values/kube-prometheus-stack.yaml');
  const grafana = yaml('deploy/values/grafana.yaml');
  const ns = endpoints.namespace;
  const svc = (name: string) => `${name}.${ns}.svc.cluster.local`;

  // Service names as each chart's naming template makes them from fullnameOverride:
  // tempo-distributed templates/_helpers.tpl "tempo.resourceName" = <fullname>-<component>;
  // loki templates/_helpers.tpl "loki.gatewayFullname" = <fullname>-gateway;
  // kube-prometheus-stack templates/prometheus/service.yaml = <fullname>-prometheus, and the
  // operator names the StatefulSet's pods prometheus-<Prometheus name>-<i> under Service prometheus-operated.
  it('OTLP endpoints are the services the charts create', () => {
    // The headless discovery Service (templates/distributor/service-distributor-discovery.yaml), resolved
    // by gRPC's dns resolver: every distributor pod, balanced round_robin by the agent, not one sticky connection.
    expect(endpoints.traces.otlpGrpc).toBe(`dns:///${svc(`${tempo.fullnameOverride}-distributor-discovery`)}:${tempo.traces.otlp.grpc.port}`);
    expect(tempo.tempo.structuredConfig.server.grpc_server_max_connection_age).toBeDefined(); // agents re-resolve
    expect(parse(read('deploy/helm/dice-stack/files/otel-collector.yaml')).exporters['otlp_grpc/tempo'].balancer_name).toBe('round_robin');
    expect(tempo.traces.otlp.grpc.enabled).toBe(true);
    expect(endpoints.logs.otlpHttp).toBe(`http://${svc(`${loki.fullnameOverride}-gateway`)}:${loki.gateway.service.port}/otlp`);
    expect(loki.gateway.enabled).toBe(true);
    const replicas = kps.prometheus.prometheusSpec.replicas;
    expect(endpoints.metrics.otlpHttp).toEqual(
      Array.from({ length: replicas }, (_, i) => `http://prometheus-${kps.fullnameOverride}-prometheus-${i}.${svc('prometheus-operated')}:9090/api/v1/otlp`),
    );
    expect(kps.prometheus.prometheusSpec.enableOTLPReceiver).toBe(true);
  });

  it("Grafana's data source URLs are the charts' query services", () => {
    expect(endpoints.traces.query).toBe(`http://${svc(`${tempo.fullnameOverride}-query-frontend`)}:3200`); // queryFrontend.service.httpMetricsPort default
    expect(endpoints.logs.query).toBe(`http://${svc(`${loki.fullnameOverride}-gateway`)}:${loki.gateway.service.port}`);
    expect(endpoints.metrics.query).toBe(`http://${svc(`${kps.fullnameOverride}-prometheus`)}:9090`);
    // The dice chart's data source and dashboard ConfigMaps are found by these labels.
    expect(grafana.sidecar.datasources).toMatchObject({ enabled: true, label: 'grafana_datasource' });
    expect(grafana.sidecar.dashboards).toMatchObject({ enabled: true, label: 'grafana_dashboard' });
  });

  it('an exemplar never points at an expired trace: Tempo keeps traces at least as long as Prometheus keeps data', () => {
    const prometheus = durationSeconds(kps.prometheus.prometheusSpec.retention);
    const compaction = durationSeconds(tempo.backendScheduler.config.provider.compaction.compaction.block_retention);
    const tenantDefault = durationSeconds(tempo.overrides.defaults.compaction.block_retention);
    expect(compaction).toBeGreaterThanOrEqual(prometheus);
    expect(tenantDefault).toBeGreaterThanOrEqual(prometheus); // read first by Tempo's retention
    expect(kps.prometheus.prometheusSpec.enableFeatures).toContain('exemplar-storage');
  });

  it("Prometheus keeps the SLO period's data, and Loki the longest alert window's logs", () => {
    const spec = yaml('observability/slo/spec.yaml');
    expect(durationSeconds(kps.prometheus.prometheusSpec.retention)).toBeGreaterThan(spec.period_days * 86400);
    const windows = JSON.stringify(spec).match(/"long":"(\d+[mhd])"/g)!.map((m) => durationSeconds(m.slice(8, -1)));
    expect(windows.length).toBeGreaterThan(0);
    expect(durationSeconds(loki.loki.limits_config.retention_period)).toBeGreaterThanOrEqual(Math.max(...windows));
    expect(loki.loki.compactor.retention_enabled).toBe(true); // retention_period is only enforced then
  });

  it("kube-prometheus-stack.yaml gives its Prometheus all that kube-prometheus-stack-yours.yaml asks of the user's", () => {
    const yours = yaml('deploy/values/kube-prometheus-stack-yours.yaml');
    const leaves = (v: unknown, prefix: string[] = []): [string[], unknown][] =>
      typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.entries(v).flatMap(([k, c]) => leaves(c, [...prefix, k])) : [[prefix, v]];
    const needs = leaves(yours);
    expect(needs.map(([p]) => p.join('.'))).toEqual(
      expect.arrayContaining(['prometheus.prometheusSpec.enableOTLPReceiver', 'prometheus.prometheusSpec.tsdb.outOfOrderTimeWindow', 'prometheus.prometheusSpec.otlp.promoteResourceAttributes']),
    );
    for (const [path, value] of needs) expect(path.reduce<any>((o, k) => o?.[k], kps), path.join('.')).toEqual(value);
  });

  it('the side-by-side kube-prometheus-stack takes only its own release\'s monitors and rules, and runs no second node-exporter or kube-state-metrics', () => {
    const spec = kps.prometheus.prometheusSpec;
    for (const k of ['ruleSelectorNilUsesHelmValues', 'serviceMonitorSelectorNilUsesHelmValues', 'podMonitorSelectorNilUsesHelmValues']) {
      expect(spec[k] ?? true, k).toBe(true); // true (the default): selects release=<this release>
    }
    for (const k of ['ruleSelector', 'serviceMonitorSelector', 'podMonitorSelector']) expect(spec[k], k).toBeUndefined();
    expect(kps.nodeExporter?.enabled).toBe(false);
    expect(kps.kubeStateMetrics?.enabled).toBe(false);
    // Everything ours carries that release label: the dice chart's monitors and rules.
    const dice = yaml('deploy/helm/dice-stack/values.yaml');
    expect(dice.monitoring.labels.release).toBe(kps.fullnameOverride);
  });

  it("Grafana reads one Prometheus replica consistently, and only the dice namespace's ConfigMaps (no ClusterRole over every Secret)", () => {
    expect(kps.prometheus.service.sessionAffinity).toBe('ClientIP');
    const dice = yaml('deploy/helm/dice-stack/values.yaml');
    expect(grafana.rbac.namespaced).toBe(true); // grafana 12.11.1 templates/clusterrole.yaml: rules on configmaps and secrets unless namespaced
    expect(grafana.rbac.extraClusterRoleRules).toBeUndefined();
    for (const s of [grafana.sidecar.dashboards, grafana.sidecar.datasources]) {
      expect(s.searchNamespace).toEqual(['dice-stack']);
    }
    // The folder annotation the dice chart writes is the one the sidecar reads (it needs foldersFromFilesStructure).
    expect(grafana.sidecar.dashboards.folderAnnotation).toBe(dice.grafana.dashboards.folderAnnotation);
    expect(grafana.sidecar.dashboards.provider.foldersFromFilesStructure).toBe(true);
    expect(dice.grafana.serviceAccount).toEqual({ name: 'grafana', namespace: ns }); // release "grafana" names its ServiceAccount so
  });

  it("Tempo answers Grafana's streamed search, and as recent as compose's (stream_over_http_enabled, query_end_cutoff)", () => {
    const compose = yaml('observability/tempo/tempo.yaml');
    const datasources = yaml('observability/grafana/provisioning/datasources/datasources.yaml').datasources;
    const tempoSource = datasources.find((d: { type: string }) => d.type === 'tempo');
    // The data source streams search and metrics; Tempo answers those only with streaming over HTTP
    // (tempo-distributed 3.3.0 values.yaml: streamOverHTTPEnabled, default false, rendered as
    // stream_over_http_enabled in its config template).
    expect(Object.values(tempoSource.jsonData.streamingEnabled ?? {})).toContain(true);
    expect(compose.stream_over_http_enabled).toBe(true);
    expect(tempo.streamOverHTTPEnabled).toBe(true);
    expect(tempo.tempo.structuredConfig.query_frontend.query_end_cutoff).toBe(compose.query_frontend.query_end_cutoff);
  });

  it("Tempo runs one block-builder and one live-store per Kafka partition (the chart's rule)", () => {
    const partitions = tempo.ingest.kafka.auto_create_topic_default_partitions;
    expect(tempo.blockBuilder.replicas).toBe(partitions);
    expect(tempo.liveStore.replicas).toBe(partitions);
  });

  const mirrors = process.env.DICE_CHART_MIRRORS?.split(':');
  const helm = process.env.HELM ?? '/work/shared-tools/helm';
  it.skipIf(!mirrors || !existsSync(helm))(
    'rendered (helm template from chart mirrors): the Services endpoints.yaml names exist with those ports (set DICE_CHART_MIRRORS and HELM to run)',
    () => {
      const out = join(tmpdir(), `dice-rendered-charts-${process.pid}`);
      execFileSync(process.execPath, [join(ROOT, 'scripts/deploy/render-charts.ts'), '--grafana-community', mirrors![0]!, '--prometheus-community', mirrors![1]!, '--out', out], {
        env: { ...process.env, HELM: helm },
        stdio: 'pipe',
      });
      const services = new Map<string, number[]>();
      for (const f of ['tempo-distributed', 'loki', 'grafana', 'kube-prometheus-stack']) {
        for (const d of parseAllDocuments(readFileSync(join(out, `${f}.yaml`), 'utf8')).map((x) => x.toJS())) {
          if (d?.kind === 'Service') services.set(d.metadata.name, d.spec.ports.map((p: { port: number }) => p.port));
        }
      }
      const urls = [endpoints.traces.otlpGrpc, endpoints.traces.query, endpoints.logs.otlpHttp, endpoints.logs.query, endpoints.metrics.query];
      for (const u of urls) {
        const m = /^(?:https?:\/\/|dns:\/\/\/)?([a-z0-9-]+)\.[^:]+:(\d+)/.exec(u)!;
        expect(services.get(m[1]!), `${u}: Service ${m[1]}`).toContain(Number(m[2]));
      }
    },
  );
});
