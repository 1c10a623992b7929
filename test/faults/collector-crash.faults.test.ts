// The collector killed outright (SIGKILL: no shutdown, no flush) under load, with a backlog in its
// persistent sending queue, then restarted: what it had accepted into that queue is delivered.
// Prometheus is stopped first so that the queue holds 40 s of exports when the kill comes; the
// collector restarts while Prometheus is still down (the queue must come back from disk), then
// Prometheus returns and the queued span-metrics data points, stamped before the kill, must all
// be there. Measured with Prometheus as in backend-outage.faults.test.ts.
// Every request's SERVER span and access-log record must reach the (recording) edge of Tempo and
// Loki: nothing the collector acknowledged waits in memory ahead of its persistent queues. Only the
// span-metrics connector's counts since its last flush die with the process: bounded, not zero.
import { describe, expect, inject, it } from 'vitest';
import { openLoopLoad } from './support/open-loop.ts';
import {
  allDeliveredToEdge,
  controlOf,
  counterSettled,
  growth,
  printFigures,
  rawPoints,
  scrape,
  seconds,
  sleep,
  stackHealthy,
  sumOf,
  waitFor,
  type Series,
} from './support/observe.ts';

const f = inject('faults');
const control = controlOf(f);
const prometheus = f.endpoints.prometheus;

const RATE = 50;
const BACKLOG_MS = 40_000;
const PATHS = ['/roll?dice=2&sides=6', '/', '/roll?dice=5&sides=20'];
const CALLS = 'traces_span_metrics_calls_total{service_name="dice-api", span_kind="SPAN_KIND_SERVER"}';
/** The span_metrics connector's metrics_flush_interval (otel-collector/config.yaml). */
const FLUSH_MS = 1000;
/** A flush's data points reach the persistent queue within this (no batch processor ahead of it). */
const NOT_YET_QUEUED_MS = 500;
/**
 * Requests the span metrics may never count: those whose spans the connector had counted in
 * memory but not flushed at the kill (one flush interval), plus one interval of slack for a flush
 * under way. At RATE req/s.
 */
const UNFLUSHED_BOUND = Math.ceil((RATE * 2 * FLUSH_MS) / 1000);
const EXPORTERS = ['otlp_http/prometheus', 'otlp_http/tempo', 'otlp_http/loki'] as const;

const queueSizes = (collector: Series[]) =>
  Object.fromEntries(EXPORTERS.map((e) => [e, sumOf(collector, 'otelcol_exporter_queue_size', { exporter: e })])) as Record<(typeof EXPORTERS)[number], number>;

describe('the collector killed (SIGKILL) mid-load with a queue backlog, then restarted', () => {
  it('delivers every span, log record and data point it acknowledged; the span metrics lose at most their unflushed counts', { timeout: 6 * 60_000 }, async () => {
    await stackHealthy(f);
    const { value: before } = await counterSettled(prometheus, CALLS, FLUSH_MS);
    const load = openLoopLoad(f.endpoints.loadBalancer, PATHS, RATE, 5 * 60);
    let prometheusDown = false;
    let collectorDown = false;
    try {
      await sleep(15_000);
      prometheusDown = true;
      await control.stop('prometheus');
      const stoppedAt = Date.now();
      await sleep(BACKLOG_MS);

      const queuedBeforeKill = queueSizes(await scrape(f.endpoints.collectorMetrics));
      const killedAt = Date.now();
      collectorDown = true;
      await control.signal('otel-collector', 'SIGKILL');
      await control.start('otel-collector'); // waits for the killed process's exit, then for readiness
      collectorDown = false;
      const restartedAt = Date.now();
      // The queue came back from disk: Prometheus is still down, so nothing has left it yet.
      const queuedAfterRestart = queueSizes(await scrape(f.endpoints.collectorMetrics));
      await sleep(5000);

      await control.start('prometheus');
      prometheusDown = false;
      const prometheusBackAt = Date.now();
      await sleep(15_000);
      const samples = await load.stop();
      const failed = samples.filter((s) => s.status !== 200);
      await waitFor('the collector queue for Prometheus drained', async () => {
        const size = queueSizes(await scrape(f.endpoints.collectorMetrics))['otlp_http/prometheus'];
        return size === 0 ? true : undefined;
      }, { timeoutMs: 90_000 });
      const drainedAt = Date.now();
      await sleep(5000); // the last export's samples committed

      // Series of the killed collector (its collector_instance_id) with a data point before Prometheus stopped.
      const series = (await rawPoints(prometheus, CALLS, killedAt + 1000, killedAt - stoppedAt + 30_000)).filter((s) =>
        s.points.some(([t]) => t <= stoppedAt),
      );
      const killed = new Set(series.map((s) => s.labels['collector_instance_id']));
      // Flushes follow a fixed ticker: every series must have a data point from each one between
      // Prometheus's stop and shortly before the kill, so no gap may exceed one interval (+ jitter).
      const queuedUntil = killedAt - NOT_YET_QUEUED_MS;
      const gaps = series.map((s) => {
        const times = [stoppedAt - FLUSH_MS, ...s.points.map(([t]) => t).filter((t) => t > stoppedAt - FLUSH_MS && t <= queuedUntil), queuedUntil];
        return Math.max(...times.slice(1).map((t, i) => t - times[i]!));
      });
      const flushesQueued = Math.floor((queuedUntil - stoppedAt) / FLUSH_MS);
      const delivery = await allDeliveredToEdge(f, samples);

      // End to end, for the record: what was lost lived in memory stages before the queue.
      const { value: after } = await counterSettled(prometheus, CALLS, FLUSH_MS);
      const counted = growth(before, after);
      printFigures('collector SIGKILLed under 50 req/s with 40 s of exports queued (Prometheus down), restarted', [
        ['requests sent', `${samples.length}, ${failed.length} failed, ${samples.filter((s) => s.retried).length} sent again after a kept-alive connection closed unanswered`],
        ['queue before the kill', JSON.stringify(queuedBeforeKill)],
        ['queue after the restart', `${JSON.stringify(queuedAfterRestart)} (restart took ${seconds(restartedAt - killedAt)})`],
        ['span-metrics series of the killed collector', `${series.length} (collector_instance_id ${[...killed].join(', ')})`],
        ['flushes queued before the kill', `${flushesQueued} per series (due ${seconds(FLUSH_MS)} apart, from Prometheus stop to ${seconds(NOT_YET_QUEUED_MS)} before the kill)`],
        ['largest gap between queued flushes', `${seconds(Math.max(...gaps))} (a lost flush would leave ${seconds(2 * FLUSH_MS)})`],
        ['queue drained after Prometheus returned', `${seconds(drainedAt - prometheusBackAt)} (15 s of it under load)`],
        ['SERVER spans / access logs at the Tempo, Loki edge', `all ${delivery.value.answered} answered requests' (by trace ID); ${delivery.value.duplicateSpans} spans delivered twice`],
        ['end to end: span-metrics growth / requests', `${counted} / ${samples.length}: ${samples.length - counted} not counted (bound ${UNFLUSHED_BOUND}: the connector's unflushed counts die with the process)`],
      ]);

      expect(failed, 'requests failed while the collector was killed').toEqual([]);
      expect(queuedBeforeKill['otlp_http/prometheus'], 'a backlog in the queue at the kill').toBeGreaterThan(0);
      expect(queuedAfterRestart['otlp_http/prometheus'], 'the backlog recovered from disk after SIGKILL').toBeGreaterThanOrEqual(queuedBeforeKill['otlp_http/prometheus']);
      expect(flushesQueued).toBeGreaterThanOrEqual(30);
      expect(series.length, 'span-metrics series of the killed collector').toBeGreaterThan(0);
      expect(Math.max(...gaps), 'largest gap between the queued span-metrics flushes delivered after the restart').toBeLessThan(FLUSH_MS + 500);
      expect(samples.length - counted, 'requests the span metrics never counted').toBeLessThanOrEqual(UNFLUSHED_BOUND);
      expect(counted, 'span metrics count no request twice').toBeLessThanOrEqual(samples.length);
    } finally {
      await load.stop();
      if (collectorDown) await control.start('otel-collector');
      if (prometheusDown) await control.start('prometheus');
    }
  });
});
