// Tempo and Loki unreachable for 90 s under load: the collector keeps their traces and logs in its
// persistent sending queues and delivers every one afterwards. Tempo and Loki cannot run here; the
// recording stand-in for their network edge (test/support/otlp-recorder.ts, service
// `otlp-recorder`) is what goes down, so this tests our side: the collector's queues and retries.
// Every request is sent under its own trace ID and counted there by it. It prints how fast the
// collector resumes (first span and log record after the edge is back) and drains the backlog:
// otel-collector/config.yaml's retry_on_failure and wait_for_ready decide both (figures, not asserts).
import { describe, expect, inject, it } from 'vitest';
import { openLoopLoad } from './support/open-loop.ts';
import { allDeliveredToEdge, controlOf, edgeRecovery, printFigures, scrape, seconds, sleep, stackHealthy, sumOf } from './support/observe.ts';
import { readRecorded } from '../support/otlp-recorder.ts';

const f = inject('faults');
const control = controlOf(f);

const RATE = 50;
const OUTAGE_MS = 90_000;
const PATHS = ['/roll?dice=2&sides=6', '/', '/roll?dice=5&sides=20'];
const EDGE_EXPORTERS = ['otlp_http/tempo', 'otlp_http/loki'] as const;

describe('Tempo and Loki (their network edge) down for 90 s under load', () => {
  it("every request's SERVER span and access-log record is delivered after recovery, by trace ID", { timeout: 6 * 60_000 }, async () => {
    await stackHealthy(f);
    const load = openLoopLoad(f.endpoints.loadBalancer, PATHS, RATE, 4 * 60);
    let edgeDown = false;
    try {
      await sleep(10_000);
      edgeDown = true;
      await control.stop('otlp-recorder');
      const stoppedAt = Date.now();
      const peak: Record<string, number> = {};
      while (Date.now() - stoppedAt < OUTAGE_MS) {
        await sleep(5000);
        const collector = await scrape(f.endpoints.collectorMetrics);
        for (const e of EDGE_EXPORTERS) peak[e] = Math.max(peak[e] ?? 0, sumOf(collector, 'otelcol_exporter_queue_size', { exporter: e }));
      }
      const collectorAtEnd = await scrape(f.endpoints.collectorMetrics);
      const refused = EDGE_EXPORTERS.map((e) => sumOf(collectorAtEnd, e === 'otlp_http/tempo' ? 'otelcol_exporter_enqueue_failed_spans' : 'otelcol_exporter_enqueue_failed_log_records', { exporter: e }));
      const sentInOutage = load.samples.filter((s) => s.at >= stoppedAt).length;
      const backlog = load.samples.filter((s) => s.at >= stoppedAt);
      const startRequested = Date.now();
      await control.start('otlp-recorder');
      edgeDown = false;
      const backAt = Date.now();
      await sleep(10_000);
      const samples = await load.stop();
      const failed = samples.filter((s) => s.status !== 200);

      const { value: delivered, afterMs } = await allDeliveredToEdge(f, samples, 150_000);
      // The outage was one: nothing arrived at the edge while it was down.
      const recorded = readRecorded(f.otlpRecorderDir);
      const arrivedInOutage = [...recorded.spans, ...recorded.logs].filter((r) => r.at > stoppedAt && r.at < startRequested).length;
      const recovery = edgeRecovery(f, backlog, startRequested, backAt);

      printFigures('the Tempo and Loki edge (recording stand-in) down for 90 s under 50 req/s', [
        ['requests sent (whole test)', `${samples.length}, ${failed.length} failed; ${sentInOutage} during the outage`],
        ['edge down', `${seconds(backAt - stoppedAt)} (its restart took ${seconds(backAt - startRequested)}); spans and log records received meanwhile: ${arrivedInOutage}`],
        ['first SERVER span / access log after it was up', `${seconds(recovery.firstSpanMs)} / ${seconds(recovery.firstLogMs)} (goal: 5 s)`],
        ['backlog drained (spans / logs)', `${seconds(recovery.spansDrainedMs)} / ${seconds(recovery.logsDrainedMs)} after it was up: the last of the ${backlog.length} requests sent in the ${seconds(backAt - stoppedAt)} outage`],
        ['collector queue peak (requests)', JSON.stringify(peak)],
        ['refused by a full queue (spans, log records)', refused.join(', ')],
        ['SERVER spans and access logs delivered', `all ${delivered.answered} answered requests', by trace ID; ${delivered.duplicateSpans} spans delivered twice`],
        ['last delivery after the edge returned', `${seconds(delivered.lastArrival - backAt)} (all found ${seconds(afterMs)} after the load stopped)`],
      ]);

      expect(failed, 'requests failed while Tempo and Loki were unreachable').toEqual([]);
      expect(arrivedInOutage, 'spans and log records received while the edge was down').toBe(0);
      expect(peak['otlp_http/tempo'], 'traces queued while Tempo was unreachable').toBeGreaterThan(0);
      expect(peak['otlp_http/loki'], 'logs queued while Loki was unreachable').toBeGreaterThan(0);
      expect(refused, 'spans and log records the queues refused').toEqual([0, 0]);
    } finally {
      await load.stop();
      if (edgeDown) await control.start('otlp-recorder');
    }
  });
});
