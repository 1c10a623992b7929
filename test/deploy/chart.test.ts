// The dice-stack Helm chart (deploy/helm/dice-stack), checked without a cluster: helm lint and
// template for the default and the production values, every rendered object validated as the API
// server would (kube-validate, with the prometheus-operator CRDs), and the objects that carry
// compose's configs compared with their sources: PrometheusRules with the promtool-tested rule files,
// the collector's ConfigMap with the generated config (which otelcol-dice validates), the Grafana
// ConfigMaps with the committed dashboards and data sources, the Alertmanager values with
// alertmanager.yml (which amtool checks).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { COLLECTOR_OVERRIDES, renderChartFiles, renderCollectorConfig } from '../../scripts/deploy/generate-chart-files.ts';
import { composeReplicaEnv, replicaNodeArgs } from '../../scripts/native/replica-env.ts';
import { binary, ROOT, run } from '../config/support/tools.ts';
import { CHART, KUBE_VERSION, NAMESPACE, one, PRODUCTION, RELEASE, template, VALUE_SETS, type K8sObject } from './support/chart.ts';
import { helm, validate } from './support/tools.ts';

const API = `${RELEASE}-dice-stack-api`;

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');


describe('helm lint and template, default and production values', () => {
  it.each(VALUE_SETS)('helm lint --strict passes with the %s', (_name, args) => {
    const result = helm(['lint', '--strict', CHART, '--kube-version', KUBE_VERSION, ...args]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it.each(VALUE_SETS)('every object rendered with the %s is valid for the API server (kube-validate, operator CRDs)', (_name, args) => {
    const { text, objects } = template(args);
    expect(objects.length).toBeGreaterThan(10);
    const result = validate(text);
    expect(result.status, result.output).toBe(0);
  });

  it('values.schema.json refuses a misspelt key and a bad enum', () => {
    const misspelt = helm(['template', RELEASE, CHART, '--kube-version', KUBE_VERSION, '--set', 'api.autoscalling.enabled=true']);
    expect(misspelt.status).not.toBe(0);
    expect(misspelt.output).toMatch(/additional properties 'autoscalling' not allowed/);
    const volume = helm(['template', RELEASE, CHART, '--kube-version', KUBE_VERSION, '--set', 'collector.queueVolume.type=pvc']);
    expect(volume.status).not.toBe(0);
  });

  it('helm package stores the dashboards and data sources behind the symlinks as files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dice-chart-'));
    try {
      const packed = helm(['package', CHART, '--destination', dir]);
      expect(packed.status, packed.output).toBe(0);
      const listing = run('tar', ['tzvf', join(dir, 'dice-stack-0.1.0.tgz')]);
      expect(listing.status, listing.output).toBe(0);
      for (const name of readdirSync(join(ROOT, 'observability/grafana/dashboards'))) {
        expect(listing.output).toMatch(new RegExp(`^-.* dice-stack/files/dashboards/${name.replace('.', '\\.')}$`, 'm'));
      }
      expect(listing.output).toMatch(/^-.* dice-stack\/files\/grafana\/datasources\.yaml$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the dice API', () => {
  // Rendered once per describe; a template error fails every test below with helm's message.
  let objects: K8sObject[], deployment: K8sObject, pod: any, container: any, env: Record<string, string>;
  beforeAll(() => {
    objects = template().objects;
    deployment = one(objects, 'Deployment', API);
    pod = deployment.spec.template.spec;
    container = pod.containers[0];
    env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
  });

  it("runs the image of the chart's appVersion, which is the app's version (package.json, compose's service.version)", () => {
    const appVersion = parse(read(`${CHART}/Chart.yaml`)).appVersion;
    expect(appVersion).toBe(JSON.parse(read('package.json')).version);
    expect(read('docker-compose.yml')).toContain(`service.version=${appVersion},`);
    expect(container.image).toBe(`dice-api:${appVersion}`);
    expect(env.OTEL_RESOURCE_ATTRIBUTES).toContain(`service.version=${appVersion},`);
  });

  it("runs with compose's replica environment (x-dice-api-env), changed only where Kubernetes differs", () => {
    // Each difference with its reason; any other variable of compose's must be here with its value,
    // so a setting added for users (Node flags, OTEL_* batching) reaches Kubernetes too.
    const differs: Record<string, string> = {
      ADMIN_HOST: 'loopback only: the fault-injection API is never reachable from the network',
      OTEL_EXPORTER_OTLP_ENDPOINT: "the agent on the replica's node",
    };
    for (const [name, value] of Object.entries(composeReplicaEnv())) {
      if (name in differs) expect(env[name], name).toBeDefined();
      else expect(env[name], `${name} as compose sets it`).toBe(value);
    }
  });

  it("runs the image's own command line, the one compose, the native stack and the benchmark run", () => {
    // Node's heap flags are in the Dockerfile's CMD (V8 refuses them in NODE_OPTIONS); a command or
    // args here would drop them in Kubernetes only.
    expect(container.command).toBeUndefined();
    expect(container.args).toBeUndefined();
    expect(replicaNodeArgs().at(-1)).toBe('./dist/apps/dice-api/src/main.js');
  });

  it('probes the existing health endpoints on the public port, and declares no other port', () => {
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
  });

  it('keeps the admin API on loopback, away from the network', () => {
    expect(env.ADMIN_HOST).toBe('127.0.0.1');
    expect(env.ADMIN_PORT).toBe('9000');
    const service = one(objects, 'Service', `${RELEASE}-dice-stack-api`);
    expect(service.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual(['http']);
  });

  it('drains within terminationGracePeriodSeconds, and the chart refuses a grace period too short for the drain', () => {
    const drainS = Number(env.SHUTDOWN_DRAIN_MS) / 1000;
    expect(drainS).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(drainS + 15);
    const short = helm(['template', RELEASE, CHART, '--kube-version', KUBE_VERSION, '--set', 'api.terminationGracePeriodSeconds=12']);
    expect(short.status).not.toBe(0);
    expect(short.output).toContain('api.terminationGracePeriodSeconds (12) must be at least');
  });

  it('runs as a non-root user on a read-only root filesystem, without capabilities', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('names itself by pod on every signal and sends OTLP to the agent Service that stays on its node', () => {
    expect(env.OTEL_RESOURCE_ATTRIBUTES).toContain('service.instance.id=$(POD_NAME)');
    const podName = container.env.find((e: { name: string }) => e.name === 'POD_NAME');
    expect(podName.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    const agent = one(objects, 'Service', `${RELEASE}-dice-stack-otel-agent`);
    expect(agent.spec.internalTrafficPolicy).toBe('Local');
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://${agent.metadata.name}.${NAMESPACE}.svc:4318`);
    // The agent discovers exactly the Deployment's pods.
    const daemonSet = one(objects, 'DaemonSet');
    const selector = daemonSet.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'DICE_API_POD_SELECTOR').value as string;
    const labels = Object.fromEntries(selector.split(',').map((pair) => pair.split('=')));
    expect(labels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('default: a fixed count, a PDB, soft spread; production: an HPA, a PDB, hard spread across zones', () => {
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    expect(deployment.spec.replicas).toBe(2);
    expect(one(objects, 'PodDisruptionBudget', API).spec.maxUnavailable).toBe(1);
    const prod = template(['-f', PRODUCTION]).objects;
    const hpa = one(prod, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 20, scaleTargetRef: { kind: 'Deployment', name: deployment.metadata.name } });
    const prodDeployment = one(prod, 'Deployment', API);
    expect(prodDeployment.spec.replicas, 'the HPA owns the replica count').toBeUndefined();
    const spread = prodDeployment.spec.template.spec.topologySpreadConstraints;
    expect(spread).toContainEqual(expect.objectContaining({ topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }));
    expect(one(prod, 'PodDisruptionBudget', API).spec.selector.matchLabels).toEqual(prodDeployment.spec.selector.matchLabels);
  });

  it("requests and limits cover the benchmark's measured peak RSS with headroom (docs/benchmarks.json)", () => {
    const bench = JSON.parse(read('docs/benchmarks.json'));
    const peakMiB = bench.throughput.variants.instrumented.peakRssBytes / 2 ** 20;
    const collectorPeakMiB = Math.max(...bench.footprint.load.processes.filter((p: { name: string }) => p.name === 'otel-collector').map((p: { peakRssBytes: number }) => p.peakRssBytes)) / 2 ** 20;
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? NaN);
    for (const [name, args] of VALUE_SETS) {
      const rendered = template(args).objects;
      const api = one(rendered, 'Deployment', API).spec.template.spec.containers[0].resources;
      expect(mib(api.limits.memory), `${name}: api memory limit vs ${peakMiB.toFixed(0)} MiB x 1.2`).toBeGreaterThanOrEqual(peakMiB * 1.2);
      const agent = one(rendered, 'DaemonSet').spec.template.spec.containers[0].resources;
      expect(mib(agent.requests.memory), `${name}: agent memory request vs ${collectorPeakMiB.toFixed(0)} MiB`).toBeGreaterThanOrEqual(collectorPeakMiB * 1.2);
    }
  });

  // The CPU requests, derived from the benchmark docs/benchmarks.json holds at the rate each values
  // file sizes a pod for (the rates the values' comments give): a re-measured replica, collector or
  // HAProxy changes what the chart must request, and this fails until the values follow.
  it("CPU requests are the benchmark's CPU at each pod's design rate (docs/benchmarks.json), rounded up to 50m", () => {
    const bench = JSON.parse(read('docs/benchmarks.json'));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const moderate = bench.throughput.cases.find((c: { id: string }) => c.id === 'roll-moderate');
    // CPU-s per 1k requests of an instrumented replica at a steady 500 req/s (the conservative figure:
    // at saturation batching amortises more).
    const apiPer1k = median(moderate.rounds.instrumented.map((r: { cpuSecondsPer1k: number }) => r.cpuSecondsPer1k));
    const load = bench.footprint.load;
    const per100 = (name: string) => load.processes.find((p: { name: string }) => p.name === name).cpuPercent * 10 / (load.rate / 100); // millicores per 100 req/s
    const up50 = (m: number) => Math.ceil(m / 50) * 50;
    const milli = (q: string) => (q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000);
    const design = {
      default: { api: 200, agent: 450, edge: 300, hpaTarget: 0.7 },
      production: { api: 500, replicasPerNode: 4, maxReplicas: 20, edgePods: 2, hpaTarget: 0.7 },
    };
    // Production: at the autoscaler's target a replica serves 70% of its request's worth of requests;
    // an agent serves a node's replicas; an edge pod's request covers half of its share of the peak
    // (both rarely see it together) and its limit the whole.
    const prodApi = up50(design.production.api * apiPer1k);
    const perReplica = (prodApi * design.production.hpaTarget) / apiPer1k;
    const edgePeakPerPod = (design.production.maxReplicas * perReplica) / design.production.edgePods;
    const expected = {
      default: { api: up50(design.default.api * apiPer1k), agent: up50((design.default.agent / 100) * per100('otel-collector')), edge: up50((design.default.edge / 100) * per100('load-balancer')) },
      production: {
        api: prodApi,
        agent: up50(((design.production.replicasPerNode * perReplica) / 100) * per100('otel-collector')),
        edge: up50((edgePeakPerPod / 2 / 100) * per100('load-balancer')),
      },
    };
    for (const [name, args] of VALUE_SETS) {
      const key = name.startsWith('production') ? 'production' : 'default';
      const rendered = template(args).objects;
      const requests = {
        api: milli(one(rendered, 'Deployment', API).spec.template.spec.containers[0].resources.requests.cpu),
        agent: milli(one(rendered, 'DaemonSet').spec.template.spec.containers[0].resources.requests.cpu),
        edge: milli(one(rendered, 'Deployment', `${RELEASE}-dice-stack-edge`).spec.template.spec.containers[0].resources.requests.cpu),
      };
      expect(requests, `${name} values, from ${apiPer1k} CPU-s per 1k at 500 req/s`).toEqual(expected[key]);
      if (key === 'production') {
        const edgeLimit = milli(one(rendered, 'Deployment', `${RELEASE}-dice-stack-edge`).spec.template.spec.containers[0].resources.limits.cpu);
        expect(edgeLimit, 'the edge limit covers a pod\'s share of the peak').toBeGreaterThanOrEqual((edgePeakPerPod / 100) * per100('load-balancer'));
      }
    }
  });
});

describe('the collector agent', () => {
  let objects: K8sObject[], configMap: K8sObject, daemonSet: K8sObject, container: any;
  beforeAll(() => {
    objects = template().objects;
    configMap = one(objects, 'ConfigMap', `${RELEASE}-dice-stack-otel-agent`);
    daemonSet = one(objects, 'DaemonSet');
    container = daemonSet.spec.template.spec.containers[0];
  });

  it('the generated chart files are what the generator makes of compose\'s configs (generate-chart-files.ts --check)', () => {
    for (const [path, content] of Object.entries(renderChartFiles())) {
      expect(read(path), `${path} is stale or hand-edited: run node scripts/deploy/generate-chart-files.ts`).toBe(content);
    }
    const check = run(process.execPath, ['scripts/deploy/generate-chart-files.ts', '--check']);
    expect(check.status, check.output).toBe(0);
  });

  it('the generator stops when compose\'s config changes where an override applies', () => {
    const source = read('otel-collector/config.yaml');
    expect(() => renderCollectorConfig(source.replace('endpoint: http://tempo:4318', 'endpoint: http://tempo:14318'))).toThrow(/exporters\.otlp_grpc\/tempo\.endpoint/);
  });

  it('the generator stops when the exporter it renames is gone or renamed in compose', () => {
    const source = read('otel-collector/config.yaml');
    expect(() => renderCollectorConfig(source.replaceAll('otlp_http/tempo', 'otlp_grpc/tempo'))).toThrow(/renames key otlp_http\/tempo to otlp_grpc\/tempo/);
  });

  /** Runs otelcol-dice validate on the ConfigMap's files, in the DaemonSet's --config order and environment. */
  function validateAgentConfig(map: K8sObject, agent: any): { status: number | null; output: string } {
    const dir = mkdtempSync(join(tmpdir(), 'dice-chart-otelcol-'));
    try {
      for (const [name, content] of Object.entries(map.data!)) writeFileSync(join(dir, name), content);
      const configs = (agent.args as string[]).map((arg) => arg.replace(/^--config=\/etc\/otelcol\//, `--config=${dir}/`));
      const env = Object.fromEntries(agent.env.map((e: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }) => [e.name, e.value ?? `from-${e.valueFrom!.fieldRef.fieldPath}`]));
      return run(binary('otelcol-dice'), ['validate', ...configs], { ...env, OTELCOL_STORAGE_DIR: join(dir, 'queues') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('the ConfigMap holds the generated config byte for byte, and otelcol-dice validates it with the DaemonSet\'s arguments and environment', () => {
    const config = configMap.data!['config.yaml']!;
    expect(config).toBe(read(`${CHART}/files/otel-collector.yaml`));
    // Every ${env:X} without a default must be set by the DaemonSet, or the collector would not start.
    const needed = [...config.matchAll(/\$\{env:([A-Z0-9_]+)\}/g)].map((m) => m[1]!);
    const set = new Set(container.env.map((e: { name: string }) => e.name));
    expect(needed.filter((name) => !set.has(name))).toEqual([]);
    expect(container.args).toEqual(['--config=/etc/otelcol/config.yaml', '--config=/etc/otelcol/prometheus-replicas.yaml']);
    const result = validateAgentConfig(configMap, container);
    expect(result.status, result.output).toBe(0);
  });

  it('pushes metrics to every Prometheus replica, each exporter the config\'s otlp_http/prometheus with its own endpoint', () => {
    const base = parse(configMap.data!['config.yaml']!);
    const overlay = parse(configMap.data!['prometheus-replicas.yaml']!);
    const endpoints = parse(read(`${CHART}/values.yaml`)).collector.endpoints.prometheusOtlpHttp as string[];
    expect(endpoints.length).toBeGreaterThan(1);
    expect(container.env).toContainEqual({ name: 'PROMETHEUS_OTLP_HTTP_ENDPOINT', value: endpoints[0] });
    const added = Object.entries(overlay.exporters as Record<string, { endpoint: string }>);
    expect(added.map(([, e]) => e.endpoint)).toEqual(endpoints.slice(1));
    for (const [name, exporter] of added) expect({ ...exporter, endpoint: 'x' }, name).toEqual({ ...base.exporters['otlp_http/prometheus'], endpoint: 'x' });
    expect(overlay.service).toEqual({ pipelines: { metrics: { exporters: [...base.service.pipelines.metrics.exporters, ...added.map(([name]) => name)] } } });
    // One replica: compose's single exporter, no second file.
    const single = template(['--set', `collector.endpoints.prometheusOtlpHttp={${endpoints[0]}}`]).objects;
    const singleMap = one(single, 'ConfigMap', `${RELEASE}-dice-stack-otel-agent`);
    expect(Object.keys(singleMap.data!)).toEqual(['config.yaml']);
    const singleAgent = one(single, 'DaemonSet').spec.template.spec.containers[0];
    expect(singleAgent.args).toEqual(['--config=/etc/otelcol/config.yaml']);
    const result = validateAgentConfig(singleMap, singleAgent);
    expect(result.status, result.output).toBe(0);
  });

  const endpointsFile = join(ROOT, 'deploy/values/endpoints.yaml');
  it.skipIf(!existsSync(endpointsFile))('sends to and reads from the addresses of deploy/values/endpoints.yaml (skipped while that file, of the official charts\' values, is absent)', () => {
    const endpoints = parse(read('deploy/values/endpoints.yaml'));
    const values = parse(read(`${CHART}/values.yaml`));
    expect(values.collector.endpoints).toEqual({
      tempoOtlpGrpc: endpoints.traces.otlpGrpc,
      lokiOtlpHttp: endpoints.logs.otlpHttp,
      prometheusOtlpHttp: endpoints.metrics.otlpHttp,
    });
    expect(values.grafana.datasources.urls).toMatchObject({ prometheus: endpoints.metrics.query, tempo: endpoints.traces.query, loki: endpoints.logs.query });
  });

  it("keeps compose's pipelines, processors, span-metrics connector (exemplars on) and file-backed queues; only the listed keys differ", () => {
    const compose = parse(read('otel-collector/config.yaml'));
    const chart = parse(configMap.data!['config.yaml']!);
    for (const key of ['extensions', 'processors', 'connectors'] as const) expect(chart[key], key).toEqual(compose[key]);
    expect(chart.service.pipelines.traces.exporters, 'the chart sends traces over gRPC').toEqual(['otlp_grpc/tempo']);
    expect(chart.connectors.span_metrics.exemplars.enabled).toBe(true);
    // Put compose's values back at the overridden paths, last override first (a renamed key's
    // overrides come after its rename): what remains must be compose's config.
    for (const { path, from, to, renameKey } of [...COLLECTOR_OVERRIDES].reverse()) {
      const parent = path.slice(0, -1).reduce((node: any, key) => node[key], chart);
      if (renameKey) {
        parent[from as string] = parent[to as string];
        delete parent[to as string];
      } else if (from === undefined) delete parent[path.at(-1)!];
      else parent[path.at(-1)!] = from;
    }
    expect(chart).toEqual(compose);
  });

  it('queues on a per-node, per-release hostPath owned by the collector, and uses the image versions of .env', () => {
    const dotenv = Object.fromEntries([...read('.env').matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(container.image).toBe(`otel/opentelemetry-collector-contrib:${dotenv.OTELCOL_VERSION}`);
    const init = daemonSet.spec.template.spec.initContainers[0];
    expect(init.image).toBe(`busybox:${dotenv.BUSYBOX_VERSION}`);
    const queues = daemonSet.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'queues');
    expect(queues.hostPath).toEqual({ path: `/var/lib/otelcol-dice/${NAMESPACE}-${RELEASE}`, type: 'DirectoryOrCreate' });
    expect(container.volumeMounts).toContainEqual({ name: 'queues', mountPath: '/var/lib/otelcol' });
    expect(container.env).toContainEqual({ name: 'OTELCOL_STORAGE_DIR', value: '/var/lib/otelcol/queues' });
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    const restricted = template(['--set', 'collector.queueVolume.type=emptyDir']).objects;
    const podSpec = one(restricted, 'DaemonSet').spec.template.spec;
    expect(podSpec.initContainers, 'no root init container without a hostPath').toBeUndefined();
    expect(podSpec.volumes.find((v: { name: string }) => v.name === 'queues').emptyDir).toBeDefined();
  });

  it("is scraped as compose's job otel-collector (the PodMonitor selects the agents' pods)", () => {
    const monitor = one(objects, 'PodMonitor', `${RELEASE}-dice-stack-otel-agent`);
    expect(monitor.spec.selector.matchLabels).toEqual(daemonSet.spec.selector.matchLabels);
    const endpoint = monitor.spec.podMetricsEndpoints[0];
    expect(container.ports).toContainEqual({ name: endpoint.port, containerPort: 8888, protocol: 'TCP' });
    expect(endpoint.relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: 'otel-collector' });
    expect(monitor.metadata.labels).toMatchObject(parse(read(`${CHART}/values.yaml`)).monitoring.labels);
  });
});

describe('alerting and dashboards from the same sources as compose', () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = template().objects;
  });

  it('the PrometheusRules hold exactly the groups of the promtool-tested rule files, one object per file', () => {
    const rules = objects.filter((o) => o.kind === 'PrometheusRule');
    const files = readdirSync(join(ROOT, 'observability/prometheus/rules')).filter((f) => f.endsWith('.yml'));
    expect(rules.map((r) => r.metadata.name).sort()).toEqual(files.map((f) => `${RELEASE}-dice-stack-${f.replace(/\.yml$/, '')}`).sort());
    for (const file of files) {
      const rule = rules.find((r) => r.metadata.name === `${RELEASE}-dice-stack-${file.replace(/\.yml$/, '')}`)!;
      // Only compose's Grafana address differs: the default externalUrl is empty (links relative to Grafana's root).
      const source = read(`observability/prometheus/rules/${file}`).replaceAll('http://localhost:3000', '');
      expect(rule.spec, `PrometheusRule for ${file}`).toEqual(parse(source));
      expect(rule.metadata.labels).toMatchObject(parse(read(`${CHART}/values.yaml`)).monitoring.labels);
    }
  });

  it("every file-backed queue of the agent's config is capped in bytes (the node's disk), not in requests", () => {
    const cfg = parse(read(`${CHART}/files/otel-collector.yaml`));
    const queued = Object.entries(cfg.exporters as Record<string, { sending_queue?: { storage?: string; sizer?: string; queue_size?: number } }>).filter(([, e]) => e.sending_queue?.storage);
    expect(queued.length).toBeGreaterThanOrEqual(3);
    for (const [name, e] of queued) {
      expect(e.sending_queue!.sizer, name).toBe('bytes');
      expect(e.sending_queue!.queue_size, name).toBeLessThanOrEqual(1024 ** 3);
    }
  });

  it('production: the agents run under a PriorityClass above the replicas they serve (a full node preempts a replica, not the agent)', () => {
    const prod = template(['-f', PRODUCTION]).objects;
    const pc = one(prod, 'PriorityClass');
    const ds = one(prod, 'DaemonSet');
    expect(ds.spec.template.spec.priorityClassName).toBe(pc.metadata.name);
    const api = prod.find((o) => o.kind === 'Deployment' && o.metadata.name === API)!;
    expect(api.spec.template.spec.priorityClassName ?? '').toBe(''); // priority 0
    expect((pc as unknown as { value: number }).value).toBeGreaterThan(0);
    expect(one(template().objects, 'DaemonSet').spec.template.spec.priorityClassName).toBeUndefined(); // defaults: none created
  });

  it('production: NetworkPolicies let only the edge and the agents reach the API, only the API pods send OTLP to the agents', () => {
    const prod = template(['-f', PRODUCTION]).objects;
    const policies = prod.filter((o) => o.kind === 'NetworkPolicy');
    expect(policies).toHaveLength(3);
    const selectorOf = (kind: string, name: string) => prod.find((o) => o.kind === kind && o.metadata.name === name)!.spec.selector.matchLabels;
    const api = policies.find((p) => p.metadata.name === API)!;
    expect(api.spec.podSelector.matchLabels).toEqual(selectorOf('Deployment', API));
    const froms = api.spec.ingress.flatMap((r: { from: { podSelector?: { matchLabels: object } }[] }) => r.from.map((f) => f.podSelector?.matchLabels));
    expect(froms).toEqual([selectorOf('Deployment', `${RELEASE}-dice-stack-edge`), one(prod, 'DaemonSet').spec.selector.matchLabels]);
    const agent = policies.find((p) => p.metadata.name === `${RELEASE}-dice-stack-otel-agent`)!;
    expect(agent.spec.ingress[0].from).toEqual([{ podSelector: { matchLabels: selectorOf('Deployment', API) } }]);
    expect(template().objects.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]); // off by default
  });

  it("no alert links to compose's localhost: the production values' dashboard links reach grafana.externalUrl", () => {
    const prod = template(['-f', PRODUCTION]).objects.filter((o) => o.kind === 'PrometheusRule');
    const url = parse(read(PRODUCTION)).grafana.externalUrl;
    const text = JSON.stringify(prod.map((r) => r.spec));
    expect(text).not.toContain('localhost');
    const links = [...text.matchAll(/"dashboard_url":"([^"]+)"/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(0);
    for (const l of links) expect(l.startsWith(`${url}/d/`), l).toBe(true);
  });

  it('one ConfigMap per committed dashboard, labelled for the sidecar, holding the JSON byte for byte', () => {
    const maps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
    const files = readdirSync(join(ROOT, 'observability/grafana/dashboards')).filter((f) => f.endsWith('.json'));
    expect(maps.flatMap((m) => Object.keys(m.data!)).sort()).toEqual(files.sort());
    for (const map of maps) {
      const [name, json] = Object.entries(map.data!)[0]!;
      expect(`${json}\n`, name).toBe(read(`observability/grafana/dashboards/${name}`));
      expect(map.metadata.annotations?.grafana_folder).toBe('Dice stack');
    }
  });

  it("the data sources are compose's provisioning file with in-cluster urls, and the chart refuses a data source without one", () => {
    const map = one(objects, 'ConfigMap', `${RELEASE}-dice-stack-datasources`);
    expect(map.metadata.labels?.grafana_datasource).toBe('1');
    const rendered = parse(map.data!['dice-stack-datasources.yaml']!);
    const compose = parse(read('observability/grafana/provisioning/datasources/datasources.yaml'));
    const urls = parse(read(`${CHART}/values.yaml`)).grafana.datasources.urls as Record<string, string>;
    expect(rendered.datasources.map((d: { uid: string; url: string }) => [d.uid, d.url])).toEqual(compose.datasources.map((d: { uid: string }) => [d.uid, urls[d.uid]]));
    const withoutUrl = (ds: { url?: string }[]) => ds.map(({ url: _url, ...rest }) => rest);
    expect(withoutUrl(rendered.datasources)).toEqual(withoutUrl(compose.datasources));
    expect({ ...rendered, datasources: [] }).toEqual({ ...compose, datasources: [] });
    const missing = helm(['template', RELEASE, CHART, '--kube-version', KUBE_VERSION, '--set', 'grafana.datasources.urls.tempo=null']);
    expect(missing.status).not.toBe(0);
    expect(missing.output).toContain('grafana.datasources.urls.tempo is required');
  });

  it("the Alertmanager values keep alertmanager.yml's routes and inhibition (the merged result is routed in alerting.test.ts)", () => {
    const fragment = parse(read('deploy/helm/kube-prometheus-stack.alertmanager.yaml')).alertmanager.config;
    const compose = parse(read('observability/alertmanager/alertmanager.yml'));
    for (const r of compose.route.routes) expect(fragment.route.routes).toContainEqual(r);
    for (const r of compose.inhibit_rules) expect(fragment.inhibit_rules).toContainEqual(r);
    const { routes: _a, group_by: _b, ...composeRoot } = compose.route;
    expect(fragment.route).toMatchObject(composeRoot);
    expect(fragment.receivers.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(compose.receivers.map((r: { name: string }) => r.name)));
  });
});
