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
  /** The SDK's own counters at the end (instrumented Node only). */
  sdk?: { spansStarted: number; spansDropped: number; logsCreated: number; logsDropped: number };
}

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

export interface Results {
  meta: Meta;
  throughput?: ThroughputResults;
  freshness?: FreshnessResults;
  footprint?: FootprintResults;
  cardinality?: CardinalityResults;
  profile?: ProfileResults;
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
