// The soak phase: whether the instrumented server leaks. The dice API instrumented and
// uninstrumented run side by side for settings.soakS at the same fixed rate, half the instrumented
// server's saturation rate (from the throughput phase of the same run, or measured here first),
// exporting to the native stack's collector as in the other phases. Every settings.soakSampleS
// the runner reads each server's RSS, the instrumented server's SDK queue sizes from /metrics, and
// the heap each major GC left (bench/lib/gc-probe.ts, loaded into both). The verdict
// (soak-verdict.ts) compares the instrumented server's growth with the uninstrumented one's noise.
//
// Both servers share core 1 and both loads core 0 with the stack, at the same time rather than
// taking turns: a leak grows with the requests served and with time, and taking turns would halve
// both for each server; at half the instrumented saturation rate the two together use about three
// quarters of core 1, so neither is starved (the achieved rate per sample is kept to show it).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { autocannon, paced } from './load.ts';
import { usageOf } from './proc.ts';
import type { Settings, SoakResults, SoakSample, SoakSeries } from './results.ts';
import { startServer, stopServer, type RunningServer, type ServerSpec } from './servers.ts';
import { LOAD_CPU, ROLL, SERVER_CPU, ALL_CPUS, type ServerPhaseOptions } from './throughput.ts';

const SOAK_VARIANTS = [
  { key: 'uninstrumented', name: 'soak-uninstrumented', label: 'uninstrumented (no SDK)', instrumented: false, octet: 118 },
  { key: 'instrumented', name: 'soak-instrumented', label: 'instrumented, every request sampled', instrumented: true, octet: 119 },
] as const;

/** Sums the samples of one metric in a Prometheus exposition (every series of it). */
export function exposedSum(exposition: string, metric: string): number | undefined {
  let sum: number | undefined;
  for (const line of exposition.split('\n')) {
    if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** "<epoch ms> <bytes>" lines of gc-probe.ts, as seconds since `startMs`. */
export function parseGcProbe(text: string, startMs: number): { tS: number; bytes: number }[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(' ').map(Number))
    .filter((parts) => parts.length === 2 && parts.every(Number.isFinite))
    .map(([ms, bytes]) => ({ tS: (ms! - startMs) / 1000, bytes: bytes! }));
}

/** About how long the soak phase takes; `alone`: without a throughput phase, it measures the rate first. */
export function soakSeconds(settings: Settings, alone = false): number {
  return settings.soakS + 10 + (alone ? settings.warmupS + settings.durationS + 5 : 0);
}

export async function runSoak(options: ServerPhaseOptions & {
  /** The instrumented server's saturation rate measured in this run; measured here when absent. */
  saturationRps?: number;
}): Promise<SoakResults> {
  const { settings, context, subnet, log, track, pinStack } = options;
  const servers = new Map<string, RunningServer>();
  const gcFiles = new Map<string, string>();
  pinStack(LOAD_CPU);
  try {
    for (const v of SOAK_VARIANTS) {
      const gcFile = join(context.logDir, `${v.name}.gc`);
      gcFiles.set(v.key, gcFile);
      const spec: ServerSpec = {
        name: v.name,
        kind: 'node',
        instrumented: v.instrumented,
        cpus: SERVER_CPU,
        nodeFlags: ['--import', './bench/lib/gc-probe.ts'],
        env: { BENCH_GC_PROBE_FILE: gcFile },
      };
      const server = await startServer(spec, { ...context, host: `${subnet}.${v.octet}` });
      track(server, true);
      servers.set(v.key, server);
      log(`  started ${v.name} (pid ${server.pid}, cpus ${SERVER_CPU}) at ${server.url}`);
    }
    const instrumented = servers.get('instrumented')!;
    const uninstrumented = servers.get('uninstrumented')!;
    let saturationRps = options.saturationRps;
    let rateSource = 'half the median req/s of the instrumented variant at saturation (`roll-saturation`) in this run';
    if (!saturationRps || !Number.isFinite(saturationRps)) {
      await autocannon(`${instrumented.url}${ROLL}`, settings.warmupS, settings.connections, LOAD_CPU);
      saturationRps = (await autocannon(`${instrumented.url}${ROLL}`, settings.durationS, settings.connections, LOAD_CPU)).rps;
      rateSource = `half the req/s of the instrumented soak server at saturation, measured first (${settings.warmupS} s warm-up, ${settings.durationS} s)`;
    }
    const rate = Math.max(50, Math.round(saturationRps / 2));
    log(`  soak: ${settings.soakS} s at ${rate} req/s each (${rateSource.split(' (')[0]}: ${Math.round(saturationRps)} req/s), sampled every ${settings.soakSampleS} s`);
    const startMs = Date.now();
    const samples: Record<'uninstrumented' | 'instrumented', SoakSample[]> = { uninstrumented: [], instrumented: [] };
    while (Date.now() - startMs < settings.soakS * 1000) {
      const left = settings.soakS - (Date.now() - startMs) / 1000;
      const seconds = Math.max(1, Math.min(settings.soakSampleS, Math.round(left)));
      const [u, i] = await Promise.all(
        [uninstrumented, instrumented].map((server) => paced(`${server.url}${ROLL}`, rate, seconds, LOAD_CPU, { connections: settings.pacedConnections, warmupS: 1 })),
      );
      const tS = (Date.now() - startMs) / 1000;
      const exposition = await fetch(`${instrumented.url}/metrics`, { signal: AbortSignal.timeout(5000) })
        .then((res) => res.text())
        .catch(() => '');
      for (const [key, server, r] of [['uninstrumented', uninstrumented, u!], ['instrumented', instrumented, i!]] as const) {
        samples[key].push({
          tS,
          rssBytes: usageOf(server.pid).rssBytes,
          achievedRate: r.achievedRate,
          p99Ms: r.latencyMs.p99,
          bad: r.sent - (r.statuses['200'] ?? 0),
          ...(key === 'instrumented'
            ? { spanQueue: exposedSum(exposition, 'otel_sdk_processor_span_queue_size'), logQueue: exposedSum(exposition, 'otel_sdk_processor_log_queue_size') }
            : {}),
        });
      }
      const last = (key: 'uninstrumented' | 'instrumented') => samples[key].at(-1)!;
      log(
        `  soak ${tS.toFixed(0).padStart(5)} s  RSS MiB uninstrumented ${(last('uninstrumented').rssBytes / 2 ** 20).toFixed(0)}, instrumented ${(last('instrumented').rssBytes / 2 ** 20).toFixed(0)}  ` +
          `req/s ${u!.achievedRate.toFixed(0)} / ${i!.achievedRate.toFixed(0)}  p99 ms ${u!.latencyMs.p99.toFixed(1)} / ${i!.latencyMs.p99.toFixed(1)}  ` +
          `queues: spans ${last('instrumented').spanQueue ?? 'n/a'}, logs ${last('instrumented').logQueue ?? 'n/a'}`,
      );
    }
    const series = (key: 'uninstrumented' | 'instrumented'): SoakSeries => {
      const v = SOAK_VARIANTS.find((x) => x.key === key)!;
      const file = gcFiles.get(key)!;
      return { name: v.name, label: v.label, samples: samples[key], heapAfterGc: heapByInterval(existsSync(file) ? parseGcProbe(readFileSync(file, 'utf8'), startMs) : [], samples[key].map((s) => s.tS)) };
    };
    return {
      seconds: settings.soakS,
      sampleS: settings.soakSampleS,
      settleS: settings.soakSettleS,
      reportEveryS: settings.soakReportS,
      rate,
      saturationRps,
      rateSource,
      cpus: { servers: SERVER_CPU, load: LOAD_CPU },
      uninstrumented: series('uninstrumented'),
      instrumented: series('instrumented'),
    };
  } finally {
    for (const server of servers.values()) {
      await stopServer(server);
      track(server, false);
    }
    pinStack(ALL_CPUS);
  }
}

/**
 * The major GCs' heap, one row per sample interval (ending at each of `ends`): how many there were
 * and the median, min and max of what each left. A median per interval, not every GC, keeps the
 * JSON small (the instrumented server runs several mark-compacts a second at this rate).
 */
export function heapByInterval(points: { tS: number; bytes: number }[], ends: number[]): SoakSeries['heapAfterGc'] {
  return ends.map((end, i) => {
    const start = i === 0 ? -Infinity : ends[i - 1]!;
    const xs = points.filter((p) => p.tS > start && p.tS <= end).map((p) => p.bytes).sort((a, b) => a - b);
    const median = xs.length === 0 ? NaN : xs.length % 2 ? xs[xs.length >> 1]! : (xs[(xs.length >> 1) - 1]! + xs[xs.length >> 1]!) / 2;
    return { tS: end, count: xs.length, medianBytes: median, minBytes: xs[0] ?? NaN, maxBytes: xs.at(-1) ?? NaN };
  });
}
