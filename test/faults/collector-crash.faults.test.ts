// The collector killed outright (SIGKILL: no shutdown, no flush) under load, with a backlog in its
// persistent sending queue, then restarted: what it had accepted into that queue is delivered.
// Prometheus is stopped first so that the queue holds 40 s of exports when the kill comes; the
// collector restarts while Prometheus is still down (the queue must come back from disk), then
// Prometheus returns and the queued span-metrics data points, stamped before the kill, must all
// be there. Measured with Prometheus as in backend-outage.faults.test.ts.
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
  type Series,
} from './support/observe.ts';

const f = inject('faults');
const control = controlOf(f);
const prometheus = f.endpoints.prometheus;

const RATE = 50;
const BACKLOG_MS = 40_000;
const PATHS = ['/roll?dice=2&sides=6', '/', '/roll?dice=5&sides=20'];
const CALLS = 'traces_span_metrics_calls_total{service_name="dice-api", span_kind="SPAN_KIND_SERVER"}';
const FLUSH_MS = 10_000;
/**
 * Data points younger than this at the kill may still be in the batch processor (timeout 2 s),
 * in memory, not yet in the persistent queue: they were not accepted into it.
 */
const NOT_YET_QUEUED_MS = 3000;
const EXPORTERS = ['otlp_http/prometheus', 'otlp_grpc/tempo', 'otlp_http/loki'] as const;

const queueSizes = (collector: Series[]) =>
  Object.fromEntries(EXPORTERS.map((e) => [e, sumOf(collector, 'otelcol_exporter_queue_size', { exporter: e })])) as Record<(typeof EXPORTERS)[number], number>;

describe('the collector killed (SIGKILL) mid-load with a queue backlog, then restarted', () => {
  it('delivers every data point it had accepted into its persistent queue', { timeout: 6 * 60_000 }, async () => {
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
      const series = (await rawPoints(prometheus, CALLS, killedAt + 1000, killedAt - stoppedAt + 3 * FLUSH_MS)).filter((s) =>
        s.points.some(([t]) => t <= stoppedAt),
      );
      const killed = new Set(series.map((s) => s.labels['collector_instance_id']));
      const f0 = Math.max(...series.flatMap((s) => s.points.map(([t]) => t)).filter((t) => t <= stoppedAt));
      // Flushes follow a fixed 10 s ticker: the ones due after Prometheus stopped and safely before the kill.
      const expectedTicks: number[] = [];
      for (let t = f0 + FLUSH_MS; t <= killedAt - NOT_YET_QUEUED_MS; t += FLUSH_MS) expectedTicks.push(t);
      const found = (tick: number) => series.filter((s) => s.points.some(([t]) => Math.abs(t - tick) <= 1000)).length;
      const expected = series.length * expectedTicks.length;
      const foundTotal = expectedTicks.reduce((n, tick) => n + found(tick), 0);
      const lastTick = expectedTicks.at(-1)!;
      const inFlightTick = lastTick + FLUSH_MS < killedAt ? lastTick + FLUSH_MS : undefined;

      // End to end, for the record: what was lost lived in memory stages before the queue.
      const after = await counterSnapshot(prometheus, CALLS);
      printFigures('collector SIGKILLed under 50 req/s with 40 s of exports queued (Prometheus down), restarted', [
        ['requests sent', `${samples.length}, ${failed.length} failed, ${samples.filter((s) => s.retried).length} sent again after a kept-alive connection closed unanswered`],
        ['queue before the kill', JSON.stringify(queuedBeforeKill)],
        ['queue after the restart', `${JSON.stringify(queuedAfterRestart)} (restart took ${seconds(restartedAt - killedAt)})`],
        ['span-metrics series of the killed collector', `${series.length} (collector_instance_id ${[...killed].join(', ')})`],
        ['flushes queued before the kill', `${expectedTicks.length} (due ${seconds(FLUSH_MS)} apart, from Prometheus stop to ${seconds(NOT_YET_QUEUED_MS)} before the kill)`],
        ['SHARE FOUND in Prometheus', `${foundTotal} / ${expected} data points = ${((foundTotal / expected) * 100).toFixed(1)} %`],
        ['flush in the last 3 s before the kill', inFlightTick ? `${found(inFlightTick)} / ${series.length} found (may not have reached the queue)` : 'none'],
        ['queue drained after Prometheus returned', `${seconds(drainedAt - prometheusBackAt)} (15 s of it under load)`],
        ['end to end: span-metrics growth / requests', `${growth(before, after)} / ${samples.length} (the connector's unflushed counts and the batch processor die with the process)`],
      ]);

      expect(failed, 'requests failed while the collector was killed').toEqual([]);
      expect(queuedBeforeKill['otlp_http/prometheus'], 'a backlog in the queue at the kill').toBeGreaterThan(0);
      expect(queuedAfterRestart['otlp_http/prometheus'], 'the backlog recovered from disk after SIGKILL').toBeGreaterThanOrEqual(queuedBeforeKill['otlp_http/prometheus']);
      expect(expectedTicks.length).toBeGreaterThanOrEqual(3);
      expect(foundTotal, 'queued span-metrics data points delivered after the restart').toBe(expected);
    } finally {
      await load.stop();
      if (collectorDown) await control.start('otel-collector');
      if (prometheusDown) await control.start('prometheus');
    }
  });
});
