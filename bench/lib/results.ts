import type { LongTasks } from './cpu-profile.ts';

// The shape of the raw figures (docs/benchmarks.json, bench/results/latest.json) and the few
// statistics the report derives from them. Every figure in docs/benchmarks.md comes from here.

export interface Meta {
  mode: 'quick' | 'full';
  command: string;
  date: string;
  seconds: number;
  machine: { nproc: number; cpu: string; memGiB: number; kernel: string; node: string; python: string };
  loadavgBefore: number[];
  loadavgAfter: number[];
  /** The busiest other processes when the run started (the machine is shared). */
  othersAtStart: string[];
  settings: Settings;
  versions: Record<string, string>;
  subnet: string;
  phaseSeconds: Record<string, number>;
}

export interface Settings {
  rounds: number;
  durationS: number;
  warmupS: number;
  /**
   * Unrecorded load on the same server and path right before each measured round (saturation: at
   * saturation; fixed rate: the generator's own warm-up, at that rate). A variant sits idle while
   * the others take their turns, and the instrumented server needs 10-20 s under load to get back
   * to its steady rate. Absent in results from before it existed.
   */
  roundWarmupS?: number;
  connections: number;
  pacedConnections: number;
  moderateRate: number;
  highRate: number;
  /** The third fixed rate on GET /roll, uninstrumented and instrumented only (case roll-peak). */
  peakRate: number;
  freshnessRequests: number;
  footprintIdleS: number;
  footprintLoadS: number;
  footprintRate: number;
  cardinalityBatches: number[];
  cardinalityRate: number;
  cardinalitySettleS: number;
  profileS: number;
  /** The soak phase: its length, how often it samples, the first seconds left out of the verdict, the report's row spacing. */
  soakS: number;
  soakSampleS: number;
  soakSettleS: number;
  soakReportS: number;
}

export interface SaturationRound {
  kind: 'saturation';
  rps: number;
  responses: number;
  p50Ms: number;
  p99Ms: number;
  bad: number;
  cpuSeconds: number;
  wallSeconds: number;
  cpuSecondsPer1k: number;
  /** Server CPU seconds per wall second: about 1 when one pinned core is saturated. */
  busy: number;
  /** Responses to the round's unrecorded warm-up load. Absent in results from before it was kept. */
  warmupResponses?: number;
}

export interface PacedRound {
  kind: 'paced';
  targetRate: number;
  achievedRate: number;
  responses: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  bad: number;
  generatorLagP99Ms: number;
  cpuSeconds: number;
  cpuSecondsPer1k: number;
}

export type Round = SaturationRound | PacedRound;

export interface VariantInfo {
  name: string;
  label: string;
  kind: 'node' | 'flask';
  cpus: string;
  peakRssBytes: number;
  processes: number;
  /** Lines of the /metrics exposition that are samples, at the end. */
  exposedSamples: number;
  /** The SDK's own counters at the end (instrumented Node with OTEL_NODE_EXPERIMENTAL_SDK_METRICS only). */
  sdk?: { spansStarted: number; spansDropped: number; logsCreated: number; logsDropped: number };
  /**
   * The zero-code peer, which has no /metrics of its own: its SERVER spans counted by the collector's
   * span metrics in Prometheus at the end of the phase (`traces_span_metrics_calls_total` of its
   * service.name), and the responses it gave in the measured rounds and warm-ups. Absent in results
   * from before it existed.
   */
  collector?: { serviceName: string; serverSpans: number; responses: number };
}

/**
 * The price list: cumulative variants on GET /roll at saturation (case roll-saturation), each adding
 * one signal to the one before; the last is the instrumented variant as it ships. One place for the
 * runner (bench/lib/throughput.ts) and the report.
 */
export const PRICE_STEPS = [
  { variant: 'price-0-no-sdk', signal: 'the app itself (no SDK, no access log)', adds: 'no SDK loaded (`node main.js`), `ACCESS_LOG_STDOUT=false`: no access-log record at all; exports nothing' },
  {
    variant: 'price-1-traces',
    signal: 'traces',
    adds:
      'the SDK with no MeterProvider (`--import bench/lib/instrumentation-traces-only.ts`, the app\'s set-up with `metrics: false`), `OTEL_LOGS_EXPORTER=none`, ' +
      'SDK metrics off, `ACCESS_LOG_STDOUT=false`: the HTTP instrumentation\'s SERVER span and the `dice.roll` span per request, exported over OTLP/HTTP protobuf',
  },
  {
    variant: 'price-2-metrics',
    signal: '+ metrics',
    adds:
      'the app\'s instrumentation module as shipped: adds the MeterProvider with the Prometheus reader (`/metrics`, scraped every 10 s), ' +
      '`http.server.request.duration` and `dice.*` records per request, runtime and process metrics',
  },
  { variant: 'price-3-access-log', signal: '+ the access log on stdout', adds: '`ACCESS_LOG_STDOUT` back to its default: one JSON line per request on stdout (winston, with `trace_id`), still no OTLP log path' },
  {
    variant: 'price-4-otlp-logs',
    signal: '+ the OTLP log path',
    adds: '`OTEL_LOGS_EXPORTER` back to its default (otlp): the same records also converted by the winston transport and exported over OTLP/HTTP protobuf',
  },
  { variant: 'instrumented', signal: "+ the SDK's own metrics", adds: '`OTEL_NODE_EXPERIMENTAL_SDK_METRICS=true`, as compose sets it: `otel.sdk.*` counters and queue sizes per span and log record; this is the instrumented variant' },
] as const;

export interface CaseResult {
  id: string;
  label: string;
  path: string;
  kind: 'saturation' | 'paced';
  rate?: number;
  cpus: { server: string; load: string };
  rounds: Record<string, Round[]>;
}

export interface ThroughputResults {
  variants: Record<string, VariantInfo>;
  cases: CaseResult[];
}

export interface FreshnessSignal {
  id: string;
  label: string;
  path: string;
  /** ms from the response to first seen in Prometheus, per request that was seen. */
  ms: number[];
  sent: number;
  missing: number;
}

export interface FreshnessResults {
  requests: number;
  flushPhaseS: number;
  signals: FreshnessSignal[];
  /** The first request of a series that did not exist yet (one of each new kind). */
  firstOfSeries: FreshnessSignal[];
  burst: { sent: number; exemplarsKept: number };
  pollIntervalMs: number;
  intervals: { collectorScrapeS: number; spanMetricsFlushS: number; batchTimeoutS: number; prometheusLbScrapeS: number; bspDelayNativeMs: number };
}

export interface ProcessFootprint {
  name: string;
  pid: number;
  cpuPercent: number;
  rssBytes: number;
  peakRssBytes: number;
}

export interface FootprintResults {
  idle: { seconds: number; processes: ProcessFootprint[] };
  load: { seconds: number; rate: number; achievedRate: number; p99Ms: number; processes: ProcessFootprint[] };
}

export interface CardinalityStep {
  requests: number;
  statuses: Record<string, number>;
  headSeriesBefore: number;
  headSeriesAfter: number;
  newSeries: { metric: string; job: string; count: number; example: string }[];
  goneSeries: number;
}

export interface CardinalityResults {
  steps: CardinalityStep[];
}

export interface ProfileResults {
  seconds: number;
  /** Event-loop blocking at a moderate fixed rate, per variant (bench/lib/cpu-profile.ts longTasks). */
  longTasks: Record<string, LongTasks & { rate: number; requests: number; p99Ms: number }>;
  variants: Record<
    string,
    {
      requests: number;
      busyMs: number;
      byPackage: { name: string; ms: number; share: number }[];
      byCaller?: { name: string; ms: number; share: number }[];
      topFrames: { frame: string; package: string; ms: number; share: number }[];
      file: string;
      /** ms since the process started: the samples that were counted. */
      window?: { fromMs: number; toMs: number };
    }
  >;
}

export interface SoakSample {
  /** Seconds since the soak started, at the end of the sample's load. */
  tS: number;
  rssBytes: number;
  achievedRate: number;
  p99Ms: number;
  bad: number;
  /** Instrumented only: the SDK's span and log record queues (`otel.sdk.processor.*.queue.size`) at the sample. */
  spanQueue?: number;
  logQueue?: number;
}

export interface SoakSeries {
  name: string;
  label: string;
  samples: SoakSample[];
  /** Per sample interval: the major GCs in it and what each left in the heap outside the young generation. */
  heapAfterGc: { tS: number; count: number; medianBytes: number; minBytes: number; maxBytes: number }[];
}

export interface SoakResults {
  seconds: number;
  sampleS: number;
  settleS: number;
  reportEveryS: number;
  /** Requests per second sent to each server. */
  rate: number;
  saturationRps: number;
  rateSource: string;
  cpus: { servers: string; load: string };
  uninstrumented: SoakSeries;
  instrumented: SoakSeries;
}

export interface Results {
  meta: Meta;
  throughput?: ThroughputResults;
  freshness?: FreshnessResults;
  footprint?: FootprintResults;
  cardinality?: CardinalityResults;
  profile?: ProfileResults;
  soak?: SoakResults;
}

/**
 * docs/benchmarks-changes.json: one run of `--baseline=DIR,...` (its results.json as written to
 * bench/results/latest.json) and, by hand, which commit each directory was built from and what it
 * changed, oldest first; `suffix` is the variants' suffix (`@<dir name>`, or '' for the checkout
 * that ran).
 */
export interface ChangesFile {
  builds: { suffix: string; commit: string; change: string }[];
  results: Results;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** min–max over the rounds, the spread shown beside each median. */
export function spread(xs: number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

export interface PriceRow {
  variant: string;
  signal: string;
  adds: string;
  /** µs of server CPU per request this step adds (the first row: the whole app without the SDK), from the steps' medians. */
  us: number;
  /** min–max over the rounds of the same difference taken round by round (a round of each step runs back to back). */
  lo: number;
  hi: number;
  /** us over the instrumented variant's median µs per request: the rows add up to 100%. */
  share: number;
  rps: number;
}

/** The price list (results.ts PRICE_STEPS) from the saturation case; undefined if a step has no rounds. */
export function priceList(c: CaseResult | undefined): { rows: PriceRow[]; totalUs: number; rounds: number } | undefined {
  const perRound = PRICE_STEPS.map((step) => ((c?.rounds[step.variant] ?? []) as SaturationRound[]).map((r) => r.cpuSecondsPer1k * 1000));
  if (perRound.some((xs) => xs.length === 0)) return undefined;
  const medians = perRound.map((xs) => median(xs));
  const totalUs = medians.at(-1)!;
  const rows = PRICE_STEPS.map((step, k): PriceRow => {
    const xs = perRound[k]!;
    const diffs = k === 0 ? xs : xs.slice(0, Math.min(xs.length, perRound[k - 1]!.length)).map((x, r) => x - perRound[k - 1]![r]!);
    const us = k === 0 ? medians[0]! : medians[k]! - medians[k - 1]!;
    const [lo, hi] = spread(diffs);
    return { variant: step.variant, signal: step.signal, adds: step.adds, us, lo: lo!, hi: hi!, share: us / totalUs, rps: median(((c?.rounds[step.variant] ?? []) as SaturationRound[]).map((r) => r.rps)) };
  });
  return { rows, totalUs, rounds: Math.min(...perRound.map((xs) => xs.length)) };
}

