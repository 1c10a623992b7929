// An outage of a backend must not lose what the collector accepted: its file-backed sending queue
// (otel-collector/config.yaml, file_storage/queues) holds the exports and delivers them once the
// backend is back. Natively the backend is Prometheus, the one the collector exports to that runs
// here (Tempo and Loki do not; with compose the same queues serve them). Every request sent during
// a 60 s Prometheus outage must then be counted by the span metrics, in data points stamped inside
// the outage, delivered after it.
import { describe, expect, inject, it } from 'vitest';
import { openLoopLoad } from './support/open-loop.ts';
import {
  controlOf,
  counterSettled,
  counterSnapshot,
  growth,
  printFigures,
  rawPoints,
  scrape,
  seconds,
  sleep,
  stackHealthy,
  sumOf,
  waitFor,
  type RawSeries,
} from './support/observe.ts';

const f = inject('faults');
const control = controlOf(f);
const prometheus = f.endpoints.prometheus;

const RATE = 50;
const OUTAGE_MS = 60_000;
const PATHS = ['/roll?dice=2&sides=6', '/', '/roll?dice=5&sides=20'];
const CALLS = 'traces_span_metrics_calls_total{service_name="dice-api", span_kind="SPAN_KIND_SERVER"}';
/** The span_metrics connector's metrics_flush_interval: one data point per series per flush. */
const FLUSH_MS = 1000;
/** The collector's scrape_interval of the replicas (otel-collector/config.yaml). */
const SCRAPE_MS = 10_000;
/**
 * A request is counted at the first flush after its span reaches the collector, up to about 1 s
 * after it completes (OTEL_BSP_SCHEDULE_DELAY=1000): a window's count can differ from the requests
 * completed in it by that much at either edge.
 */
const EDGE_TOLERANCE = RATE * 2;

/** The sum over all series at each flush, by flush time (points of one flush share a timestamp). */
function flushTotals(series: RawSeries[]): Map<number, number> {
  const totals = new Map<number, number>();
  for (const s of series) for (const [t, v] of s.points) totals.set(t, (totals.get(t) ?? 0) + v);
  return new Map([...totals].sort(([a], [b]) => a - b));
}

describe('Prometheus stopped for 60 s under load', () => {
  it('every request sent during the outage is counted after recovery, from data points the collector queued', { timeout: 6 * 60_000 }, async () => {
    await stackHealthy(f);
    const { value: before } = await counterSettled(prometheus, CALLS, FLUSH_MS);
    const load = openLoopLoad(f.endpoints.loadBalancer, PATHS, RATE, 5 * 60);
    let prometheusDown = false;
    try {
      await sleep(15_000);
      const stopRequested = Date.now();
      prometheusDown = true;
      await control.stop('prometheus');
      const stoppedAt = Date.now();
      let queuePeak = 0;
      while (Date.now() - stoppedAt < OUTAGE_MS) {
        await sleep(5000);
        const collector = await scrape(f.endpoints.collectorMetrics);
        queuePeak = Math.max(queuePeak, sumOf(collector, 'otelcol_exporter_queue_size', { exporter: 'otlp_http/prometheus' }));
      }
      const collectorAtEnd = await scrape(f.endpoints.collectorMetrics);
      const refusedPoints = sumOf(collectorAtEnd, 'otelcol_exporter_enqueue_failed_metric_points', { exporter: 'otlp_http/prometheus' });
      await control.start('prometheus');
      prometheusDown = false;
      const startedAt = Date.now();
      await sleep(15_000);
      const samples = await load.stop();
      const sent = samples.length;
      const failed = samples.filter((s) => s.status !== 200);

      // Everything sent, counted: the span metrics grew by exactly the number of requests.
      const { value: after, afterMs: countedAfterMs } = await waitFor(`span metrics counting all ${sent} requests`, async () => {
        const now = await counterSnapshot(prometheus, CALLS);
        return growth(before, now) >= sent ? now : undefined;
      }, { timeoutMs: 120_000, intervalMs: 2000 });
      const drained = await waitFor('the collector queue for Prometheus drained', async () => {
        const size = sumOf(await scrape(f.endpoints.collectorMetrics), 'otelcol_exporter_queue_size', { exporter: 'otlp_http/prometheus' });
        return size === 0 ? true : undefined;
      }, { timeoutMs: 60_000 });

      // The outage itself: data points stamped while Prometheus was down, delivered afterwards.
      const series = await rawPoints(prometheus, CALLS, startedAt, startedAt - stoppedAt + 2 * FLUSH_MS);
      const totals = flushTotals(series);
      const flushesBefore = [...totals.keys()].filter((t) => t <= stoppedAt);
      const flushesInOutage = [...totals.keys()].filter((t) => t > stoppedAt && t < startedAt);
      const f0 = flushesBefore.at(-1)!;
      const f1 = flushesInOutage.at(-1)!;
      const countedInOutage = totals.get(f1)! - totals.get(f0)!;
      const completedInOutage = samples.filter((s) => s.at + s.ms > f0 && s.at + s.ms <= f1).length;
      const appPoints = await rawPoints(prometheus, 'http_server_request_duration_count{job="dice-api"}', startedAt, startedAt - stoppedAt);
      const appScrapesInOutage = new Set(appPoints.flatMap((s) => s.points.map(([t]) => t)).filter((t) => t > stoppedAt && t < startedAt));

      printFigures('Prometheus stopped for 60 s under 50 req/s; the collector queues its OTLP exports on disk', [
        ['requests sent (whole test)', `${sent}, ${failed.length} failed, ${samples.filter((s) => s.retried).length} sent again after a kept-alive connection closed unanswered`],
        ['span metrics growth', `${growth(before, after)} (every request counted ${seconds(countedAfterMs)} after the load stopped)`],
        ['Prometheus down', `${seconds(startedAt - stoppedAt)} (stop took ${seconds(stoppedAt - stopRequested)})`],
        ['collector queue for Prometheus', `peak ${queuePeak} requests, ${refusedPoints} metric points refused by the queue; drained ${seconds(drained.afterMs)} after all was counted`],
        ['span-metrics flushes inside the outage', `${flushesInOutage.length} found in Prometheus after recovery (one per ${FLUSH_MS / 1000} s)`],
        ['requests completed f0..f1 (outage flushes)', `${completedInOutage}; counted by span metrics ${countedInOutage} (tolerance ±${EDGE_TOLERANCE}: flush edges)`],
        ['app scrapes inside the outage', `${appScrapesInOutage.size} distinct timestamps found (2 replicas, each scraped every ${SCRAPE_MS / 1000} s)`],
      ]);

      expect(failed, 'requests failed while Prometheus was down').toEqual([]);
      expect(growth(before, after), 'span metrics growth = requests sent').toBe(sent);
      expect(queuePeak, 'the collector queued exports while Prometheus was down').toBeGreaterThan(0);
      expect(refusedPoints, 'metric points the full queue refused').toBe(0);
      const expectedFlushes = Math.floor((startedAt - stoppedAt) / FLUSH_MS) - 1;
      expect(flushesInOutage.length, 'span-metrics data points stamped inside the outage').toBeGreaterThanOrEqual(expectedFlushes);
      expect(appScrapesInOutage.size, 'app metrics scraped inside the outage').toBeGreaterThanOrEqual(Math.floor((startedAt - stoppedAt) / SCRAPE_MS) - 1);
      expect(Math.abs(countedInOutage - completedInOutage), `counted ${countedInOutage} vs completed ${completedInOutage}`).toBeLessThanOrEqual(EDGE_TOLERANCE);
    } finally {
      await load.stop();
      if (prometheusDown) await control.start('prometheus');
    }
  });
});
