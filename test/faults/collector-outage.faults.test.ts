// Observability must never take the service down: the collector stopped for 60 s under a steady
// load through the load balancer costs no request and no latency, memory stays bounded while the
// SDK has nowhere to send, the SDK's own metrics show what it failed to export, and export
// resumes by itself once the collector is back.
import { describe, expect, inject, it } from 'vitest';
import { formatStats, openLoopLoad, sentBetween, stats } from './support/open-loop.ts';
import { controlOf, printFigures, sampleRss, scrape, seconds, sleep, stackHealthy, sumOf, waitFor, type Series } from './support/observe.ts';

const f = inject('faults');
const control = controlOf(f);

const RATE = 50;
const WARMUP_MS = 10_000;
const WINDOW_MS = 60_000;
const PATHS = ['/roll?dice=2&sides=6', '/', '/roll?dice=5&sides=20'];
/**
 * The bound on each replica's resident memory while it cannot export: the batch processors hold at
 * most 2048 spans and 2048 log records each (OTEL_BSP/BLRP_MAX_QUEUE_SIZE defaults), a few MiB. The
 * rest is V8 growing its heap in steps: at this load a healthy replica was seen anywhere from 196 to
 * 244 MiB a minute after start, so 64 MiB above the replicas' baseline peak is the GC's slack, and
 * 256 MiB, compose's mem_limit, is the bound that matters to a user.
 */
const RSS_GROWTH_MIB = 64;
const RSS_LIMIT_MIB = 256;

/** Spans and log records the replica's SDK finished with an error, by error.type. */
function sdkFailures(series: Series[]) {
  const failed = (name: string) =>
    series
      .filter((s) => (s.name === name || s.name === `${name}_total`) && s.labels['error_type'])
      .reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.labels['error_type']!]: (acc[s.labels['error_type']!] ?? 0) + s.value }), {});
  return { spans: failed('otel_sdk_processor_span_processed'), logs: failed('otel_sdk_processor_log_processed') };
}
const total = (byType: Record<string, number>) => Object.values(byType).reduce((a, b) => a + b, 0);
const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));

describe('the collector stopped for 60 s under load', () => {
  it('fails no request, keeps memory bounded, counts the lost exports, resumes export by itself, and reports p99 against the baseline', { timeout: 6 * 60_000 }, async () => {
    await stackHealthy(f);
    const replicas = f.endpoints.replicas;
    const pids = Object.fromEntries(await Promise.all(replicas.map(async (r) => [r.name, await control.pid(r.name)] as const)));
    const rss = sampleRss(pids);
    const load = openLoopLoad(f.endpoints.loadBalancer, PATHS, RATE, 5 * 60);
    let collectorDown = false;
    try {
      await sleep(WARMUP_MS);
      const baselineFrom = Date.now();
      await sleep(WINDOW_MS);
      const sdkBefore = await Promise.all(replicas.map(async (r) => sdkFailures(await scrape(`${r.url}/metrics`))));

      const outageFrom = Date.now();
      collectorDown = true;
      await control.stop('otel-collector');
      const stoppedAt = Date.now();
      await sleep(WINDOW_MS - (stoppedAt - outageFrom));
      const sdkDuring = await Promise.all(replicas.map(async (r) => sdkFailures(await scrape(`${r.url}/metrics`))));
      const succeededBefore = await Promise.all(replicas.map(async (r) => sumOf(await scrape(`${r.url}/metrics`), 'otel_sdk_processor_span_processed', { error_type: null })));

      const outageTo = Date.now();
      await control.start('otel-collector');
      collectorDown = false;
      const startedAt = Date.now();
      // Export resumes by itself: nothing is restarted or reconfigured on the replicas.
      const resumed = await waitFor('the restarted collector accepting spans from the replicas', async () => {
        const accepted = sumOf(await scrape(f.endpoints.collectorMetrics), 'otelcol_receiver_accepted_spans');
        return accepted > 0 ? accepted : undefined;
      }, { timeoutMs: 60_000, intervalMs: 250 });
      const succeededAfter = await waitFor('every replica exporting spans successfully again', async () => {
        const now = await Promise.all(replicas.map(async (r) => sumOf(await scrape(`${r.url}/metrics`), 'otel_sdk_processor_span_processed', { error_type: null })));
        return now.every((v, i) => v > succeededBefore[i]!) ? now : undefined;
      }, { timeoutMs: 60_000 });
      await sleep(10_000); // memory and latency after recovery, under the same load
      const recoveredTo = Date.now();

      const samples = await load.stop();
      rss.stop();
      const baseline = stats(sentBetween(samples, baselineFrom, outageFrom));
      const outage = stats(sentBetween(samples, outageFrom, outageTo));
      const all = stats(samples);
      const failures = samples.filter((s) => s.status !== 200);
      const rssRows = replicas.flatMap((r): [string, string][] => {
        const base = rss.peak(r.name, baselineFrom, outageFrom);
        const during = rss.peak(r.name, outageFrom, recoveredTo);
        return [[`${r.name} VmRSS peak`, `baseline ${base.toFixed(1)} MiB, outage+recovery ${during.toFixed(1)} MiB (bound: +${RSS_GROWTH_MIB} MiB and < ${RSS_LIMIT_MIB} MiB)`]];
      });
      printFigures('collector stopped for 60 s under 50 req/s (shared, noisy 2-core machine: p99 moves with neighbours)', [
        ['baseline (60 s before)', formatStats(baseline)],
        ['outage (60 s stopped)', formatStats(outage)],
        ['p99 outage / baseline', `${((outage.p99 / baseline.p99) * 100).toFixed(1)} %`],
        ['whole run', formatStats(all)],
        ['collector stop took', seconds(stoppedAt - outageFrom)],
        ...rssRows,
        ...replicas.map((r, i): [string, string] => [
          `${r.name} SDK failed exports`,
          `spans ${JSON.stringify(diff(sdkDuring[i]!.spans, sdkBefore[i]!.spans))}, logs ${JSON.stringify(diff(sdkDuring[i]!.logs, sdkBefore[i]!.logs))} (otel_sdk_processor_*_processed_total{error_type})`,
        ]),
        ['export resumed after restart', `${seconds(resumed.afterMs + (startedAt - outageTo))} (collector accepted ${resumed.value} spans; replicas exporting again after ${seconds(succeededAfter.afterMs + resumed.afterMs)})`],
      ]);

      expect(failures, `failed requests: ${JSON.stringify(failures.slice(0, 5))}`).toEqual([]);
      expect(baseline.requests).toBeGreaterThan(RATE * 55);
      expect(outage.requests).toBeGreaterThan(RATE * 55);
      // The p99 ratio is printed above, not asserted: on a shared 2-core machine it moved from
      // 73% to 132% between two runs of this same test. Timing goals live in the benchmarks
      // (docs/benchmarks.md), where variants take turns so that noise is shared.
      // The reference is the higher of the two replicas' baseline peaks: they are the same process
      // under the same load, and a minute after start V8 is still growing its heap in steps, so one
      // replica's own baseline can sit a step below where both settle without any outage (a cold
      // run saw dice-api-2 at 198.6 MiB while dice-api-1 was already at 243.9 MiB; both ended at 244).
      const reference = Math.max(...replicas.map((r) => rss.peak(r.name, baselineFrom, outageFrom)));
      for (const r of replicas) {
        const during = rss.peak(r.name, outageFrom, recoveredTo);
        expect(during, `${r.name} VmRSS during the outage (MiB), against the replicas' baseline peak ${reference.toFixed(1)} MiB`).toBeLessThanOrEqual(reference + RSS_GROWTH_MIB);
        expect(during, `${r.name} VmRSS during the outage (MiB)`).toBeLessThan(RSS_LIMIT_MIB);
      }
      // The SDK says what it could not export: spans and log records finished with an error.type.
      replicas.forEach((r, i) => {
        expect(total(sdkDuring[i]!.spans) - total(sdkBefore[i]!.spans), `${r.name} spans failed during the outage`).toBeGreaterThan(0);
        expect(total(sdkDuring[i]!.logs) - total(sdkBefore[i]!.logs), `${r.name} log records failed during the outage`).toBeGreaterThan(0);
      });
    } finally {
      rss.stop();
      await load.stop();
      if (collectorDown) await control.start('otel-collector');
    }
  });
});
