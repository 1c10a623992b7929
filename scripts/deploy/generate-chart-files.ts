// Generates the dice-stack Helm chart's files that must differ from compose's configs, from those
// configs, with the Kubernetes changes applied as the explicit, commented lists of overrides below:
//   node scripts/deploy/generate-chart-files.ts          write them
//   node scripts/deploy/generate-chart-files.ts --check  fail if the committed files differ (CI)
// Outputs:
//   deploy/helm/dice-stack/files/otel-collector.yaml        from otel-collector/config.yaml
//   deploy/helm/dice-stack/files/haproxy.cfg                from observability/haproxy/haproxy.cfg
//   deploy/helm/kube-prometheus-stack.alertmanager.yaml     from observability/alertmanager/alertmanager.yml
// What needs no generated change is not generated: the chart reads the dashboards and data sources
// through symlinks (files/dashboards, files/grafana; its template sets the data sources' urls), and the
// PrometheusRules come from scripts/slo/generate.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { Document, isCollection, parseDocument } from 'yaml';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART = join(ROOT, 'deploy/helm/dice-stack');

type Path = (string | number)[];

/** One change to a compose config for Kubernetes: where, what it must find there, what it becomes, why. */
export interface Override {
  path: Path;
  /** The value the source holds at `path` (undefined: absent). The generator stops when the source
   * changed there, so that an edit to compose's config is looked at for Kubernetes too. */
  from: unknown;
  /** The new value; undefined deletes the key. */
  to: unknown;
  why: string;
  /** Written above the new value in the generated file, for its reader. */
  comment?: string;
  /** Renames the key at `path` instead (`from` and `to` are then the old and new key names): its
   * value stays as it is, anchors included, and later overrides address it by the new name. */
  renameKey?: true;
}

const SCRAPE = ['receivers', 'prometheus', 'config', 'scrape_configs', 0];

/**
 * otel-collector/config.yaml -> the agent DaemonSet's config. Only addresses change: every
 * pipeline, processor, the span_metrics connector (with exemplars) and the file-backed queues stay
 * as compose runs them. The DaemonSet sets the environment variables named here
 * (templates/collector-daemonset.yaml).
 */
export const COLLECTOR_OVERRIDES: Override[] = [
  {
    path: [...SCRAPE, 'static_configs'],
    from: [{ targets: ['dice-api-1:8000', 'dice-api-2:8000'] }],
    to: undefined,
    why: 'replicas come and go with the HorizontalPodAutoscaler: they are discovered, not listed',
  },
  {
    path: [...SCRAPE, 'kubernetes_sd_configs'],
    from: undefined,
    to: [
      {
        role: 'pod',
        namespaces: { names: ['${env:K8S_NAMESPACE}'] },
        selectors: [{ role: 'pod', label: '${env:DICE_API_POD_SELECTOR}', field: 'spec.nodeName=${env:K8S_NODE_NAME}' }],
      },
    ],
    why: 'node-local discovery of the dice-api pods (a Role lets the agent list pods of its namespace)',
    comment:
      ' Kubernetes (chart override): each agent scrapes the replicas of its own node only, as it receives\n' +
      " only their spans: a replica's scraped metrics and span metrics come from one collector, never two.",
  },
  {
    path: [...SCRAPE, 'relabel_configs'],
    from: [{ source_labels: ['__address__'], regex: '([^:]+):\\d+', target_label: 'instance', replacement: '$$1' }],
    to: [
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'http', action: 'keep' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'instance' },
    ],
    why: '`instance` is the pod name, as service.instance.id is on its spans (compose: the host name)',
    comment:
      ' Kubernetes (chart override): one target per declared container port, and only the public one\n' +
      ' (`http`) serves /metrics; the admin port is loopback-only and not declared. The pod name is the\n' +
      " replica's service.instance.id (the Deployment sets it from the downward API).",
  },
  {
    path: ['exporters', 'otlp_http/tempo'],
    from: 'otlp_http/tempo',
    to: 'otlp_grpc/tempo',
    renameKey: true,
    why: "gRPC to Tempo's distributors, spread by round_robin and re-resolved as the HPA adds them (compose sends OTLP/HTTP to one Tempo)",
    comment:
      ' Kubernetes (chart override): OTLP/gRPC, round_robin over every address of the distributors\' headless\n' +
      " Service, which closes connections every 2m so that agents spread over new ones (deploy/values/\n" +
      " tempo-distributed.yaml). One HTTP connection pool through a ClusterIP would stay on the distributors\n" +
      ' it first reached. Compose sends OTLP/HTTP, for its reconnect after an outage (see its config): grpc-go\n' +
      ' redials a distributor that is down on its own backoff, so wait_for_ready sends a batch the moment a dial\n' +
      ' succeeds rather than at its next retry.',
  },
  {
    path: ['exporters', 'otlp_grpc/tempo', 'endpoint'],
    from: 'http://tempo:4318',
    to: '${env:TEMPO_OTLP_GRPC_ENDPOINT}',
    why: "Tempo's in-cluster Service (tempo-distributed's distributor), set from values",
  },
  {
    path: ['exporters', 'otlp_grpc/tempo', 'balancer_name'],
    from: undefined,
    to: 'round_robin',
    why: "spreads each agent's spans over every Tempo distributor its dns:/// endpoint resolves (gRPC's default, pick_first, sticks to one)",
  },
  {
    path: ['exporters', 'otlp_grpc/tempo', 'tls'],
    from: undefined,
    to: { insecure: true },
    why: 'plain gRPC inside the cluster, as the distributor listens (an http:// endpoint says so for OTLP/HTTP)',
  },
  {
    path: ['exporters', 'otlp_grpc/tempo', 'wait_for_ready'],
    from: undefined,
    to: true,
    why: 'an export waits (up to its 5 s timeout) for a distributor connection instead of failing at once, and goes out the moment one is up',
  },
  {
    path: ['service', 'pipelines', 'traces', 'exporters'],
    from: ['otlp_http/tempo'],
    to: ['otlp_grpc/tempo'],
    why: 'the traces pipeline exports through the renamed exporter',
  },
  {
    path: ['exporters', 'otlp_http/loki', 'endpoint'],
    from: 'http://loki:3100/otlp',
    to: '${env:LOKI_OTLP_HTTP_ENDPOINT}',
    why: "Loki's in-cluster gateway, set from values",
  },
  {
    path: ['exporters', 'otlp_http/prometheus', 'endpoint'],
    from: 'http://prometheus:9090/api/v1/otlp',
    to: '${env:PROMETHEUS_OTLP_HTTP_ENDPOINT}',
    why: "the operator-managed Prometheus's OTLP receiver (enableOTLPReceiver), set from values",
  },
  // The file queues on the node's disk, capped in bytes rather than in requests (a request can be
  // megabytes): 512 MiB an exporter, 2 GiB a node with the second Prometheus exporter the chart adds.
  ...(['otlp_grpc/tempo', 'otlp_http/loki', 'otlp_http/prometheus'] as const).flatMap((exporter): Override[] => [
    {
      path: ['exporters', exporter, 'sending_queue', 'sizer'],
      from: undefined,
      to: 'bytes',
      why: `${exporter}'s file queue is measured in bytes: its cap bounds the node's disk (compose counts requests)`,
    },
    {
      path: ['exporters', exporter, 'sending_queue', 'queue_size'],
      from: 10000,
      to: 512 * 1024 * 1024,
      why: `${exporter}'s file queue holds at most 512 MiB on the node's disk`,
    },
  ]),
];

/** The Secret (in Alertmanager's namespace) holding the URLs our page and ticket receivers post to. */
export const ALERT_RECEIVERS_SECRET = 'dice-alert-receivers';
const SECRET_DIR = `/etc/alertmanager/secrets/${ALERT_RECEIVERS_SECRET}`; // where the operator mounts alertmanagerSpec.secrets

const COMPOSE_ROUTES = [
  { matchers: ['severity="page"'], receiver: 'page', repeat_interval: '1h' },
  { matchers: ['severity="ticket"'], receiver: 'ticket', group_wait: '5m', group_interval: '15m', repeat_interval: '24h' },
];
const COMPOSE_INHIBIT = [{ source_matchers: ['severity="page"'], target_matchers: ['severity="ticket"'], equal: ['slo', 'service'] }];

/**
 * kube-prometheus-stack 88.5.3's own alertmanager.config (values.yaml; committed extract in
 * deploy/values/upstream-defaults/) that our values would delete: Helm replaces lists, so our
 * `routes`, `inhibit_rules` and `receivers` replace the chart's. They are restated here, and the
 * merged result is what test/deploy/alerting.test.ts routes with amtool.
 */
const KPS_INHIBIT = [
  { source_matchers: ['severity = critical'], target_matchers: ['severity =~ warning|info'], equal: ['namespace', 'alertname'] },
  { source_matchers: ['severity = warning'], target_matchers: ['severity = info'], equal: ['namespace', 'alertname'] },
  { source_matchers: ['alertname = InfoInhibitor'], target_matchers: ['severity = info'], equal: ['namespace'] },
  { target_matchers: ['alertname = InfoInhibitor'] },
];

/**
 * observability/alertmanager/alertmanager.yml -> a values fragment for kube-prometheus-stack's
 * Alertmanager (`alertmanager.config`). Compose's routes and inhibition are kept (the amtool-tested
 * ones); what a cluster adds is kube-prometheus-stack's own alerts, whose routing our lists would
 * otherwise delete, and receivers that reach a person instead of compose's alert-webhook.
 */
export const ALERTMANAGER_OVERRIDES: Override[] = [
  {
    path: ['route', 'group_by'],
    from: ['alertname', 'slo', 'service'],
    to: ['alertname', 'slo', 'service', 'namespace'],
    why: "cluster alerts (kube-prometheus-stack's) are grouped per namespace too, as that chart's default groups them",
  },
  {
    path: ['route', 'routes'],
    from: COMPOSE_ROUTES,
    to: [
      { matchers: ['alertname="Watchdog"'], receiver: 'null' },
      { matchers: ['alertname="InfoInhibitor"'], receiver: 'null' },
      { matchers: ['severity="info"'], receiver: 'null' },
      ...COMPOSE_ROUTES,
      { matchers: ['severity="critical"'], receiver: 'page', repeat_interval: '1h' },
    ],
    why: "kube-prometheus-stack's alerts: Watchdog, InfoInhibitor and info to null (the chart's default), critical pages, warning is a ticket (the root)",
    comment:
      ' Kubernetes (chart override): Helm replaces lists, so these routes replace kube-prometheus-stack\'s,\n' +
      " and its Watchdog-to-null route is restated. Watchdog always fires: to be told when alerting itself is\n" +
      ' down, send it to a dead man\'s switch (a receiver that pages when it stops hearing from it) instead of null.\n' +
      ' Cluster alerts: critical (KubeAPIDown, ...) pages, warning falls through to the root (ticket), info is\n' +
      ' dropped as that chart drops it.',
  },
  {
    path: ['inhibit_rules'],
    from: COMPOSE_INHIBIT,
    to: [...COMPOSE_INHIBIT, ...KPS_INHIBIT],
    why: "kube-prometheus-stack's four inhibitions, which our list would otherwise delete",
    comment: " Kubernetes (chart override): kube-prometheus-stack 88.5.3's inhibitions follow ours (Helm replaces lists).",
  },
  {
    path: ['receivers'],
    from: [
      { name: 'page', webhook_configs: [{ url: 'http://alert-webhook:9094/page', send_resolved: true }] },
      { name: 'ticket', webhook_configs: [{ url: 'http://alert-webhook:9094/ticket', send_resolved: true }] },
    ],
    to: [
      { name: 'null' },
      { name: 'page', webhook_configs: [{ url_file: `${SECRET_DIR}/page-url`, send_resolved: true }] },
      { name: 'ticket', webhook_configs: [{ url_file: `${SECRET_DIR}/ticket-url`, send_resolved: true }] },
    ],
    why: `compose's alert-webhook does not run in a cluster: page and ticket post to URLs you put in Secret ${ALERT_RECEIVERS_SECRET}`,
    comment:
      ` Kubernetes (chart override): the URLs of your pager and ticket system (e.g. a PagerDuty or Opsgenie\n` +
      ` webhook), from Secret ${ALERT_RECEIVERS_SECRET} (keys page-url, ticket-url), which you create before\n` +
      ' installing: without it the Alertmanager pods do not start. Replace a webhook with any other receiver\n' +
      ' type here if you prefer; keep the names page and ticket, the routes use them.',
  },
];

/** One change to haproxy.cfg, a text file: the exact lines it must find (once), what replaces them, why. */
export interface LineOverride {
  /** Whole lines of the source, in order; the generator stops unless they occur exactly once. */
  from: string[];
  to: string[];
  why: string;
}

/**
 * observability/haproxy/haproxy.cfg -> the edge Deployment's config (templates/edge-configmap.yaml).
 * Every other line stays as compose runs it: the readiness checks on /health/ready, timeouts,
 * retries, the problem+json errorfiles (files/haproxy-errors links to them), the resolvers section (it reads the pod's
 * /etc/resolv.conf, the cluster DNS), the public and metrics frontends. The server names of the
 * first two slots stay compose's (dice-api-1, dice-api-2). The Deployment sets the environment
 * variables named here (templates/edge-deployment.yaml).
 */
export const HAPROXY_OVERRIDES: LineOverride[] = [
  {
    from: ['    server dice-api-1 dice-api-1:8000', '    server dice-api-2 dice-api-2:8000'],
    to: [
      '    # Kubernetes (chart override): the replicas are the A records of the dice API\'s headless Service,',
      '    # one per pod (not-ready ones included, so that this check, not the Service, takes a failing',
      '    # replica out, as in compose). Slots dice-api-1..N, N above what the autoscaler may run; the',
      '    # ones no pod fills stay in MAINT, and the PodMonitor scrapes /metrics?no-maint to leave them out.',
      '    server-template dice-api- "${DICE_API_SLOTS}" "${DICE_API_HEADLESS_SERVICE}:${DICE_API_PORT}"',
    ],
    why: 'replicas come and go with the HorizontalPodAutoscaler: slots filled from the headless Service\'s DNS, not two fixed servers',
  },
  {
    from: ['    hold valid 2s'],
    to: [
      '    hold valid 2s',
      '    # Kubernetes (chart override): one A record per replica; 512 bytes, the default, holds ~28.',
      '    accepted_payload_size 8192',
    ],
    why: 'the headless name answers one A record per pod, up to the autoscaler\'s maximum: room beyond 512-byte DNS answers',
  },
];

/** Applies line overrides; stops when the source no longer holds an override's lines exactly once. */
function applyLines(source: string, overrides: LineOverride[], name: string): string {
  let text = source;
  for (const { from, to } of overrides) {
    const block = `\n${from.join('\n')}\n`;
    const count = text.split(block).length - 1;
    if (count !== 1) {
      throw new Error(
        `${name} changed: the override expects these lines exactly once, found ${count}:\n${from.join('\n')}\n` +
          `Decide what Kubernetes needs, update the override in scripts/deploy/generate-chart-files.ts, then regenerate.`,
      );
    }
    text = text.replace(block, () => `\n${to.join('\n')}\n`);
  }
  return text;
}

/** Puts compose's lines back where the overrides put theirs: the inverse of applyLines. */
export function revertHaproxyOverrides(generated: string): string {
  let text = generated;
  for (const { from, to } of [...HAPROXY_OVERRIDES].reverse()) text = text.replace(`\n${to.join('\n')}\n`, () => `\n${from.join('\n')}\n`);
  return text;
}

/** haproxy.cfg's opening comment block (its role in compose), which the generated header replaces. */
export function withoutHeaderComment(cfg: string): string {
  return cfg.replace(/^(#.*\n)+\n?/, '');
}

/** deploy/helm/dice-stack/files/haproxy.cfg */
export function renderHaproxyConfig(source = readFileSync(join(ROOT, 'observability/haproxy/haproxy.cfg'), 'utf8')): string {
  const body = applyLines(withoutHeaderComment(source), HAPROXY_OVERRIDES, 'observability/haproxy/haproxy.cfg');
  const header =
    '# GENERATED by scripts/deploy/generate-chart-files.ts from observability/haproxy/haproxy.cfg: do not edit.\n' +
    "# The dice-stack chart's edge load balancer (templates/edge-deployment.yaml), where the SLO rules measure\n" +
    "# availability and latency: compose's config with these overrides, each explained in the generator:\n" +
    HAPROXY_OVERRIDES.map((o) => `#   ${o.why}\n`).join('') +
    '\n';
  return header + body;
}

function apply(doc: Document, overrides: Override[], source: string): void {
  for (const { path, from, to, comment, renameKey } of overrides) {
    if (renameKey) {
      renameKeyIn(doc, path, from as string, to as string, comment, source);
      continue;
    }
    const node = doc.getIn(path, true) as { toJSON?: () => unknown } | undefined;
    const found = node === undefined ? undefined : typeof node === 'object' && node !== null && 'toJSON' in node ? node.toJSON!() : node;
    if (!isDeepStrictEqual(found, from)) {
      throw new Error(
        `${source} changed at ${path.join('.')}: the override expects ${JSON.stringify(from)} there, found ${JSON.stringify(found)}.\n` +
          `Decide what Kubernetes needs, update the override in scripts/deploy/generate-chart-files.ts, then regenerate.`,
      );
    }
    if (to === undefined) doc.deleteIn(path);
    else {
      const created = doc.createNode(to);
      if (comment) created.commentBefore = comment;
      // A list written [a, b] in the source stays on one line.
      if (isCollection(created) && isCollection(node) && node.flow) created.flow = true;
      doc.setIn(path, created);
    }
  }
}

/** Renames the key at `path` in its map, keeping the value node (and the anchors in it) as it is. */
function renameKeyIn(doc: Document, path: Path, from: string, to: string, comment: string | undefined, source: string): void {
  const map = doc.getIn(path.slice(0, -1), true) as
    | { commentBefore?: string | null; items?: { key: { value?: unknown; commentBefore?: string | null } }[] }
    | undefined;
  const pair = map?.items?.find((item) => item.key.value === from);
  if (path.at(-1) !== from || pair === undefined || map!.items!.some((item) => item.key.value === to)) {
    throw new Error(
      `${source} changed at ${path.join('.')}: the override renames key ${from} to ${to}, and expects the first and not the second.\n` +
        `Decide what Kubernetes needs, update the override in scripts/deploy/generate-chart-files.ts, then regenerate.`,
    );
  }
  pair.key.value = to;
  // The source's comment on the old key describes the old choice; the yaml library keeps the comment
  // above a map's first key on the map itself.
  if (map!.items![0] === pair) map!.commentBefore = null;
  pair.key.commentBefore = comment ?? null;
}

/** Drops the source's opening comment (its role in compose), which the generated header replaces;
 * the yaml library attaches it to the first key. Later paragraphs of that comment stay. */
function dropSourceHeader(doc: Document): void {
  doc.commentBefore = null;
  const first = (doc.contents as { items?: { key: { commentBefore?: string | null } }[] }).items?.[0]?.key;
  if (!first?.commentBefore) return;
  const rest = first.commentBefore.split('\n\n').slice(1).join('\n\n');
  first.commentBefore = rest === '' ? null : rest;
}

function overrideList(overrides: Override[]): string {
  return overrides.length === 0 ? '#   (none)\n' : overrides.map((o) => `#   ${o.path.join('.')}${o.renameKey ? ` -> ${String(o.to)}` : ''}: ${o.why}\n`).join('');
}

/** deploy/helm/dice-stack/files/otel-collector.yaml */
export function renderCollectorConfig(source = readFileSync(join(ROOT, 'otel-collector/config.yaml'), 'utf8')): string {
  const doc = parseDocument(source);
  apply(doc, COLLECTOR_OVERRIDES, 'otel-collector/config.yaml');
  dropSourceHeader(doc);
  const header =
    '# GENERATED by scripts/deploy/generate-chart-files.ts from otel-collector/config.yaml: do not edit.\n' +
    "# The dice-stack chart's node-local collector (templates/collector-daemonset.yaml): compose's config with\n" +
    '# these overrides, each explained in the generator (run `node scripts/deploy/generate-chart-files.ts`):\n' +
    overrideList(COLLECTOR_OVERRIDES) +
    '\n';
  return header + doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** deploy/helm/kube-prometheus-stack.alertmanager.yaml */
export function renderAlertmanagerValues(source = readFileSync(join(ROOT, 'observability/alertmanager/alertmanager.yml'), 'utf8')): string {
  const doc = parseDocument(source);
  apply(doc, ALERTMANAGER_OVERRIDES, 'observability/alertmanager/alertmanager.yml');
  dropSourceHeader(doc);
  const out = new Document({ alertmanager: { config: null, alertmanagerSpec: { secrets: [ALERT_RECEIVERS_SECRET] } } });
  out.setIn(['alertmanager', 'config'], doc.contents);
  const header =
    '# GENERATED by scripts/deploy/generate-chart-files.ts from observability/alertmanager/alertmanager.yml: do not edit.\n' +
    "# Values for kube-prometheus-stack (-f after deploy/values/): compose's routes and inhibition, with kube-prometheus-stack's\n" +
    '# own restated (Helm replaces lists) and receivers reading Secret ' + ALERT_RECEIVERS_SECRET + '. Overrides:\n' +
    overrideList(ALERTMANAGER_OVERRIDES);
  return header + out.toString({ lineWidth: 0, flowCollectionPadding: false });
}

export function renderChartFiles(): Record<string, string> {
  return {
    'deploy/helm/dice-stack/files/otel-collector.yaml': renderCollectorConfig(),
    'deploy/helm/dice-stack/files/haproxy.cfg': renderHaproxyConfig(),
    'deploy/helm/kube-prometheus-stack.alertmanager.yaml': renderAlertmanagerValues(),
  };
}

function main() {
  const check = process.argv.includes('--check');
  let files: Record<string, string>;
  try {
    files = renderChartFiles();
  } catch (error) {
    console.error(`generating the chart files failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  const stale: string[] = [];
  for (const [path, content] of Object.entries(files)) {
    const full = join(ROOT, path);
    if (check) {
      if (!existsSync(full) || readFileSync(full, 'utf8') !== content) stale.push(relative(ROOT, full));
    } else {
      writeFileSync(full, content);
      console.log(`wrote ${path}`);
    }
  }
  if (stale.length > 0) {
    console.error(`stale generated chart files: ${stale.join(', ')}\nrun \`node scripts/deploy/generate-chart-files.ts\` and commit the result`);
    process.exit(1);
  }
  if (check) console.log('generated chart files are up to date');
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) main();

