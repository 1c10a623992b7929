// Part 1 and 2 of the benchmark: the dice API uninstrumented, instrumented (every request sampled)
// and instrumented with 10% head sampling, the price list's steps (results.ts PRICE_STEPS), the
// OpenTelemetry peers (zero-code default, HTTP instrumentation only), and the Flask peer, under the
// same load on the same pinned cores. Variants take turns round-robin, the order rotating each
// round, so that drifting background noise is shared between them.
import { basename } from 'node:path';
import { usageOf } from './proc.ts';
import { autocannon, paced } from './load.ts';
import { PRICE_STEPS, type CaseResult, type Round, type Settings, type ThroughputResults, type VariantInfo } from './results.ts';
import { startServer, stopServer, type RunningServer, type ServerContext, type ServerSpec } from './servers.ts';

export const SERVER_CPU = '1';
export const LOAD_CPU = '0';
export const ALL_CPUS = '0,1';

export const ROLL = '/roll?dice=3&sides=6';

interface VariantSpec extends ServerSpec {
  label: string;
  /** Last octet of its loopback address in the bench subnet. */
  octet: number;
}

export const PINNED: VariantSpec[] = [
  { name: 'uninstrumented', label: 'uninstrumented (no SDK)', kind: 'node', cpus: SERVER_CPU, octet: 101 },
  { name: 'instrumented', label: 'instrumented, every request sampled', kind: 'node', instrumented: true, cpus: SERVER_CPU, octet: 102 },
  { name: 'instrumented-10pct', label: 'instrumented, 10% head sampling', kind: 'node', instrumented: true, sampleRatio: 0.1, cpus: SERVER_CPU, octet: 103 },
  { name: 'flask-1-worker', label: 'Flask peer, gunicorn 1 sync worker', kind: 'flask', workers: 1, cpus: SERVER_CPU, octet: 104 },
  { name: 'flask-1-worker-gthread', label: 'Flask peer, gunicorn 1 gthread worker, 4 threads', kind: 'flask', workers: 1, threads: 4, cpus: SERVER_CPU, octet: 105 },
];
/** The zero-code peer's service.name: its spans are counted apart from ours in the span metrics. */
export const ZERO_CODE_SERVICE = 'dice-api-zero-code';
// Each price-list step turns signals off with the standard variables or the app's own settings
// (ACCESS_LOG_STDOUT); none of them changes how a signal that is on is exported.
const NO_SDK_METRICS = { OTEL_NODE_EXPERIMENTAL_SDK_METRICS: null };
const NO_OTLP_LOGS = { OTEL_LOGS_EXPORTER: 'none' };
const NO_STDOUT_ACCESS_LOG = { ACCESS_LOG_STDOUT: 'false' };
const PRICE_SPECS: Record<(typeof PRICE_STEPS)[number]['variant'], Omit<VariantSpec, 'name' | 'label'> | undefined> = {
  'price-0-no-sdk': { kind: 'node', cpus: SERVER_CPU, octet: 106, env: NO_STDOUT_ACCESS_LOG },
  'price-1-traces': {
    kind: 'node',
    instrumented: true,
    importModule: './bench/lib/instrumentation-traces-only.ts',
    cpus: SERVER_CPU,
    octet: 107,
    env: { ...NO_SDK_METRICS, ...NO_OTLP_LOGS, ...NO_STDOUT_ACCESS_LOG },
  },
  'price-2-metrics': { kind: 'node', instrumented: true, cpus: SERVER_CPU, octet: 108, env: { ...NO_SDK_METRICS, ...NO_OTLP_LOGS, ...NO_STDOUT_ACCESS_LOG } },
  'price-3-access-log': { kind: 'node', instrumented: true, cpus: SERVER_CPU, octet: 109, env: { ...NO_SDK_METRICS, ...NO_OTLP_LOGS } },
  'price-4-otlp-logs': { kind: 'node', instrumented: true, cpus: SERVER_CPU, octet: 110, env: NO_SDK_METRICS },
  // The last step is the instrumented variant itself.
  instrumented: undefined,
};
export const PRICE: VariantSpec[] = PRICE_STEPS.flatMap((step) => {
  const spec = PRICE_SPECS[step.variant];
  return spec ? [{ ...spec, name: step.variant, label: `price list: ${step.signal}` }] : [];
});
export const PEERS: VariantSpec[] = [
  { name: 'zero-code', label: "OpenTelemetry's zero-code default (auto-instrumentations-node/register)", kind: 'node', zeroCode: { serviceName: ZERO_CODE_SERVICE }, cpus: SERVER_CPU, octet: 116 },
  {
    name: 'http-only',
    label: 'our SDK set-up with the HTTP instrumentation only (OTEL_NODE_ENABLED_INSTRUMENTATIONS=http)',
    kind: 'node',
    instrumented: true,
    cpus: SERVER_CPU,
    octet: 117,
    env: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http' },
  },
];

export const UNPINNED: VariantSpec[] = [
  { name: 'uninstrumented-2cores', label: 'uninstrumented, 1 process, unpinned', kind: 'node', cpus: ALL_CPUS, octet: 111 },
  { name: 'instrumented-2cores', label: 'instrumented, 1 process, unpinned', kind: 'node', instrumented: true, cpus: ALL_CPUS, octet: 112 },
  { name: 'flask-2-workers', label: 'Flask peer, gunicorn 2 sync workers, unpinned', kind: 'flask', workers: 2, cpus: ALL_CPUS, octet: 113 },
  { name: 'flask-2-workers-gthread', label: 'Flask peer, gunicorn 2 gthread workers, 4 threads each, unpinned', kind: 'flask', workers: 2, threads: 4, cpus: ALL_CPUS, octet: 114 },
];

interface CaseSpec {
  id: string;
  label: string;
  path: string;
  kind: 'saturation' | 'paced';
  rate?: number;
  variants: string[];
}

const NODE_PINNED = ['uninstrumented', 'instrumented', 'instrumented-10pct'];
const PEERS_PINNED = ['uninstrumented', 'instrumented', 'flask-1-worker', 'flask-1-worker-gthread'];

/**
 * --baseline=DIR[,DIR...]: the same app from other built checkouts (each with its own dist/ and
 * node_modules/, e.g. copies of earlier commits), uninstrumented and instrumented, on the GET /roll
 * cases, so that changes are measured side by side with what they replace, in the same rounds. One
 * directory runs as `*-baseline`; several as `*@<directory name>`, in the order given.
 */
function baselineVariants(roots: readonly string[]): VariantSpec[] {
  return roots.flatMap((root, i): VariantSpec[] => {
    const suffix = roots.length === 1 ? '-baseline' : `@${basename(root)}`;
    return [
      { name: `uninstrumented${suffix}`, label: `uninstrumented (no SDK), ${root}`, kind: 'node', cpus: SERVER_CPU, octet: 120 + 2 * i, root },
      { name: `instrumented${suffix}`, label: `instrumented, every request sampled, ${root}`, kind: 'node', instrumented: true, cpus: SERVER_CPU, octet: 121 + 2 * i, root },
    ];
  });
}

export function pinnedCases(settings: Settings, baselines: readonly string[] = []): CaseSpec[] {
  const roll = [...NODE_PINNED, ...baselineVariants(baselines).map((v) => v.name)];
  // The price list and the peers at saturation only: CPU per request and req/s are what they answer.
  const rollSaturation = [...NODE_PINNED, ...PRICE.map((v) => v.name), ...PEERS.map((v) => v.name), ...baselineVariants(baselines).map((v) => v.name)];
  return [
    { id: 'roll-saturation', label: `GET ${ROLL} at saturation`, path: ROLL, kind: 'saturation', variants: rollSaturation },
    { id: 'roll-moderate', label: `GET ${ROLL} at ${settings.moderateRate} req/s`, path: ROLL, kind: 'paced', rate: settings.moderateRate, variants: roll },
    { id: 'roll-high', label: `GET ${ROLL} at ${settings.highRate} req/s`, path: ROLL, kind: 'paced', rate: settings.highRate, variants: roll },
    // Where the instrumented tail goes past the p99 goal: without 10% sampling, which tracks the
    // fully sampled variant at the lower rates, to keep the run short.
    { id: 'roll-peak', label: `GET ${ROLL} at ${settings.peakRate} req/s`, path: ROLL, kind: 'paced', rate: settings.peakRate, variants: roll.filter((v) => v !== 'instrumented-10pct') },
    { id: 'root-saturation', label: 'GET / at saturation', path: '/', kind: 'saturation', variants: PEERS_PINNED },
    { id: 'root-moderate', label: `GET / at ${settings.moderateRate} req/s`, path: '/', kind: 'paced', rate: settings.moderateRate, variants: PEERS_PINNED },
  ];
}

const UNPINNED_CASES: CaseSpec[] = [
  { id: 'root-saturation-2cores', label: 'GET / at saturation, 2 cores, nothing pinned', path: '/', kind: 'saturation', variants: UNPINNED.map((v) => v.name) },
];

/** SERVER spans of `serviceName` counted by the collector's span metrics, as Prometheus has them now. */
async function spanMetricsCalls(prometheus: string, serviceName: string): Promise<number> {
  const query = `sum(traces_span_metrics_calls_total{service_name="${serviceName}"})`;
  const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query })}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
  return Number(body.data?.result?.[0]?.value[1] ?? 0);
}

/** The SDK's own counters, from the exposition (OTEL_NODE_EXPERIMENTAL_SDK_METRICS). */
function sdkCounters(exposition: string): VariantInfo['sdk'] {
  let spansStarted = 0;
  let spansDropped = 0;
  let logsCreated = 0;
  let logsDropped = 0;
  for (const line of exposition.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('otel_sdk_span_started_total{') && line.includes('RECORD_AND_SAMPLE')) spansStarted += value;
    else if (line.startsWith('otel_sdk_processor_span_processed_total{') && line.includes('error_type=')) spansDropped += value;
    else if (line.startsWith('otel_sdk_log_created_total')) logsCreated += value;
    else if (line.startsWith('otel_sdk_processor_log_processed_total{') && line.includes('error_type=')) logsDropped += value;
  }
  return { spansStarted, spansDropped, logsCreated, logsDropped };
}

async function scrape(server: RunningServer): Promise<string> {
  try {
    const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(5000) });
    return await res.text();
  } catch {
    return '';
  }
}

async function measure(server: RunningServer, spec: CaseSpec, settings: Settings, loadCpus: string, seconds: number): Promise<Round> {
  const url = `${server.url}${spec.path}`;
  // The collector scrapes every replica's /metrics every 10 s; so does the bench, so that the
  // exposition's cost is in every variant's figures as it is in production.
  void scrape(server);
  const scraper = setInterval(() => void scrape(server), 10_000);
  const roundWarmupS = settings.roundWarmupS ?? 0;
  const warmupResponses = spec.kind === 'saturation' && roundWarmupS > 0 ? (await autocannon(url, roundWarmupS, settings.connections, loadCpus)).responses : 0;
  const before = usageOf(server.pid);
  const started = performance.now();
  try {
    if (spec.kind === 'saturation') {
      const r = await autocannon(url, seconds, settings.connections, loadCpus);
      const wallSeconds = (performance.now() - started) / 1000;
      const cpuSeconds = usageOf(server.pid).cpuSeconds - before.cpuSeconds;
      return {
        kind: 'saturation',
        rps: r.rps,
        responses: r.responses,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        bad: r.bad,
        cpuSeconds,
        wallSeconds,
        cpuSecondsPer1k: (cpuSeconds / Math.max(1, r.responses)) * 1000,
        busy: cpuSeconds / wallSeconds,
        warmupResponses,
      };
    }
    const r = await paced(url, spec.rate!, seconds, loadCpus, { connections: settings.pacedConnections, warmupS: Math.max(1, roundWarmupS) });
    const cpuSeconds = usageOf(server.pid).cpuSeconds - before.cpuSeconds;
    const ok = r.statuses['200'] ?? 0;
    // The generator's unrecorded warm-up ran at the same rate within the same CPU window.
    const served = r.responses + r.warmupResponses;
    return {
      kind: 'paced',
      targetRate: spec.rate!,
      achievedRate: r.achievedRate,
      responses: r.responses,
      p50Ms: r.latencyMs.p50,
      p90Ms: r.latencyMs.p90,
      p99Ms: r.latencyMs.p99,
      maxMs: r.latencyMs.max,
      bad: r.sent - ok,
      generatorLagP99Ms: r.generatorLagMs.p99,
      cpuSeconds,
      cpuSecondsPer1k: (cpuSeconds / Math.max(1, served)) * 1000,
    };
  } finally {
    clearInterval(scraper);
  }
}

function describe(round: Round): string {
  const cpu = `cpu ${round.cpuSecondsPer1k.toFixed(3)} s/1k`;
  if (round.kind === 'saturation') {
    return `${round.rps.toFixed(0).padStart(6)} req/s  p50 ${round.p50Ms} ms  p99 ${round.p99Ms} ms  ${cpu}  busy ${(round.busy * 100).toFixed(0)}%${round.bad ? `  BAD ${round.bad}` : ''}`;
  }
  return `${round.achievedRate.toFixed(0).padStart(6)} req/s  p50 ${round.p50Ms.toFixed(2)} ms  p99 ${round.p99Ms.toFixed(2)} ms  ${cpu}  gen lag p99 ${round.generatorLagP99Ms.toFixed(2)} ms${round.bad ? `  BAD ${round.bad}` : ''}`;
}

async function runGroup(
  variants: VariantSpec[],
  cases: CaseSpec[],
  settings: Settings,
  context: Omit<ServerContext, 'host'>,
  subnet: string,
  loadCpus: string,
  log: (line: string) => void,
  track: (server: RunningServer | undefined, add: boolean) => void,
  results: ThroughputResults,
  prometheus?: string,
): Promise<void> {
  const servers = new Map<string, RunningServer>();
  const served = new Map<string, number>();
  const count = (name: string, responses: number) => served.set(name, (served.get(name) ?? 0) + responses);
  try {
    for (const v of variants) {
      const t = Date.now();
      const server = await startServer(v, { ...context, host: `${subnet}.${v.octet}` });
      track(server, true);
      servers.set(v.name, server);
      log(`  started ${v.name} (pid ${server.pid}, cpus ${v.cpus}) at ${server.url} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    // Warm-up: JIT, pools and the exporters' first connections, on every path measured.
    for (const v of variants) {
      for (const path of new Set(cases.filter((c) => c.variants.includes(v.name)).map((c) => c.path))) {
        count(v.name, (await autocannon(`${servers.get(v.name)!.url}${path}`, settings.warmupS, settings.connections, loadCpus)).responses);
      }
      log(`  warmed up ${v.name} (${settings.warmupS} s per path)`);
    }
    const caseResults = cases.map((c): CaseResult => ({
      id: c.id,
      label: c.label,
      path: c.path,
      kind: c.kind,
      rate: c.rate,
      cpus: { server: variants[0]!.cpus, load: loadCpus },
      rounds: Object.fromEntries(c.variants.map((v) => [v, []])),
    }));
    results.cases.push(...caseResults);
    for (let r = 0; r < settings.rounds; r++) {
      for (const [i, c] of cases.entries()) {
        const order = c.variants.map((_, k) => c.variants[(k + r) % c.variants.length]!);
        for (const name of order) {
          const round = await measure(servers.get(name)!, c, settings, loadCpus, settings.durationS);
          caseResults[i]!.rounds[name]!.push(round);
          count(name, round.responses + (round.kind === 'saturation' ? (round.warmupResponses ?? 0) : 0));
          log(`  round ${r + 1}/${settings.rounds} ${c.id.padEnd(22)} ${name.padEnd(21)} ${describe(round)}`);
        }
      }
    }
  } finally {
    // The zero-code peer has no /metrics: whether its spans arrived is asked of Prometheus, where
    // the collector's span metrics land (flushed every second, then one batch).
    const zeroCode = variants.find((v) => v.zeroCode && servers.has(v.name));
    let zeroCodeSpans = NaN;
    if (zeroCode && prometheus) {
      await new Promise((resolve) => setTimeout(resolve, 5000));
      zeroCodeSpans = await spanMetricsCalls(prometheus, zeroCode.zeroCode!.serviceName).catch(() => NaN);
    }
    for (const v of variants) {
      const server = servers.get(v.name);
      if (!server) continue;
      const exposition = await scrape(server);
      const usage = usageOf(server.pid);
      results.variants[v.name] = {
        name: v.name,
        label: v.label,
        kind: v.kind,
        cpus: v.cpus,
        peakRssBytes: usage.peakRssBytes,
        processes: usage.processes,
        exposedSamples: exposition.split('\n').filter((l) => l && !l.startsWith('#')).length,
        sdk: v.instrumented && exposition.includes('otel_sdk_') ? sdkCounters(exposition) : undefined,
        collector: v.zeroCode ? { serviceName: v.zeroCode.serviceName, serverSpans: zeroCodeSpans, responses: served.get(v.name) ?? 0 } : undefined,
      };
      await stopServer(server);
      track(server, false);
    }
  }
}

/** What a phase that starts servers of its own beside the native stack is given (throughput, soak). */
export interface ServerPhaseOptions {
  settings: Settings;
  context: Omit<ServerContext, 'host'>;
  subnet: string;
  log: (line: string) => void;
  track: (server: RunningServer | undefined, add: boolean) => void;
  /** Pins the native stack's processes (to keep core 1 for the server under test), or unpins them. */
  pinStack: (cpus: string) => void;
}

export async function runThroughput(options: ServerPhaseOptions & {
  /** Only these case ids (--cases); every case when unset. */
  caseIds?: string[];
  /** Built checkouts to measure side by side (--baseline). */
  baselines?: readonly string[];
  /** The native stack's Prometheus, asked whether the zero-code peer's spans arrived. */
  prometheus?: string;
}): Promise<ThroughputResults> {
  const { settings, context, subnet, log, track, pinStack, caseIds, baselines = [], prometheus } = options;
  const results: ThroughputResults = { variants: {}, cases: [] };
  const estimate = (variants: number, cases: CaseSpec[]) =>
    variants * settings.warmupS * 2 + settings.rounds * cases.reduce((a, c) => a + c.variants.length, 0) * (settings.durationS + (settings.roundWarmupS ?? 0) + 1);
  const selected = (c: CaseSpec) => !caseIds || caseIds.includes(c.id);
  // Only the variants some selected case measures are started.
  const used = (variants: VariantSpec[], cases: CaseSpec[]) => variants.filter((v) => cases.some((c) => c.variants.includes(v.name)));
  const pinned = pinnedCases(settings, baselines).filter(selected);
  const pinnedVariants = used([...PINNED, ...PRICE, ...PEERS, ...baselineVariants(baselines)], pinned);
  if (pinned.length > 0) {
    log(`pinned: servers on cpu ${SERVER_CPU}, load and the native stack on cpu ${LOAD_CPU}; ${pinned.length} cases x ${settings.rounds} rounds (~${estimate(pinnedVariants.length, pinned)} s)`);
    pinStack(LOAD_CPU);
    try {
      await runGroup(pinnedVariants, pinned, settings, context, subnet, LOAD_CPU, log, track, results, prometheus);
    } finally {
      pinStack(ALL_CPUS);
    }
  }
  const unpinned = UNPINNED_CASES.filter(selected);
  if (unpinned.length > 0) {
    log(`unpinned: servers, load and the stack share both cores; ${unpinned.length} case x ${settings.rounds} rounds (~${estimate(UNPINNED.length, unpinned)} s)`);
    await runGroup(used(UNPINNED, unpinned), unpinned, settings, context, subnet, ALL_CPUS, log, track, results);
  }
  return results;
}

/** About how long the throughput phase takes, for the estimate printed at the start. */
export function throughputSeconds(settings: Settings, caseIds?: string[], baselines: readonly string[] = []): number {
  const selected = (c: CaseSpec) => !caseIds || caseIds.includes(c.id);
  const cases = [...pinnedCases(settings, baselines), ...UNPINNED_CASES].filter(selected);
  const variants = new Set(cases.flatMap((c) => c.variants)).size;
  // Fitted to the full run of 2026-12-06 (947 s for 9 servers and 69 rounds): a server's start and
  // warm-up (about 1.3 paths each), then every round with its unrecorded lead-in and the generator's start.
  return Math.round(variants * (2 + settings.warmupS * 1.3) + settings.rounds * cases.reduce((a, c) => a + c.variants.length, 0) * (settings.durationS + (settings.roundWarmupS ?? 0) + 0.6));
}

/** Whether the selected cases (--cases) measure the Flask peer, which needs its venv. */
export function casesNeedFlask(settings: Settings, caseIds?: string[]): boolean {
  return [...pinnedCases(settings), ...UNPINNED_CASES].some((c) => (!caseIds || caseIds.includes(c.id)) && c.variants.some((v) => v.startsWith('flask')));
}

/** Every case id, for --cases. */
export function caseIdsOf(settings: Settings): string[] {
  return [...pinnedCases(settings), ...UNPINNED_CASES].map((c) => c.id);
}
