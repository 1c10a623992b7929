// A replica stopped the way an orchestrator stops it (SIGTERM) under load: readiness turns false,
// HAProxy's health check takes it out of the pool, clients see no failed request, and before it
// exits it flushes the spans and log records of every request it served. Then it starts again and
// rejoins. A second case stops a replica while the collector is down: the flush fails, and the
// replica must still exit cleanly instead of crashing on the failed export.
import { describe, expect, inject, it } from 'vitest';
import { openLoopLoad } from './support/open-loop.ts';
import {
  controlOf,
  counterSettled,
  counterSnapshot,
  growth,
  isRunning,
  logSince,
  logSize,
  printFigures,
  scrape,
  seconds,
  sleep,
  stackHealthy,
  sumOf,
  waitFor,
} from './support/observe.ts';

const f = inject('faults');
const control = controlOf(f);
const prometheus = f.endpoints.prometheus;

const RATE = 50;
const PATHS = ['/roll?dice=2&sides=6', '/', '/roll?dice=5&sides=20'];
const FLUSH_MS = 10_000;
const VICTIM = 'dice-api-1';
const callsOf = (instance: string) => `traces_span_metrics_calls_total{service_name="dice-api", span_kind="SPAN_KIND_SERVER", instance="${instance}"}`;

/** Responses HAProxy got from one replica (probes through the balancer count too; the tests send none). */
const servedBy = async (server: string) =>
  sumOf(await scrape(f.endpoints.loadBalancerMetrics), 'haproxy_server_http_responses_total', { proxy: 'dice-api', server });

/**
 * Log records a replica wrote through winston to stdout and OTLP alike: not the SDK's own export
 * warnings (stderr only), nor the line main.ts writes after the OTLP pipeline has shut down.
 */
const winstonRecords = (log: string) =>
  log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => typeof r['level'] === 'string' && !('suppressed_since_last_report' in r))
    .filter((r) => r['message'] !== 'telemetry flushed; exiting');

interface Drain {
  readinessFalseAfterMs?: number;
  lbDownAfterMs?: number;
  exitedAfterMs?: number;
}

/** Watches a replica after SIGTERM until its process is gone: readiness, HAProxy's view, exit. */
async function watchDrain(name: string, url: string, pid: number, sentAt: number, timeoutMs = 40_000): Promise<Drain> {
  const seen: Drain = {};
  while (Date.now() - sentAt < timeoutMs) {
    if (seen.readinessFalseAfterMs === undefined) {
      const status = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0);
      if (status === 503) seen.readinessFalseAfterMs = Date.now() - sentAt;
    }
    if (seen.lbDownAfterMs === undefined) {
      const lb = await scrape(f.endpoints.loadBalancerMetrics);
      if (sumOf(lb, 'haproxy_server_status', { proxy: 'dice-api', server: name, state: 'DOWN' }) === 1) seen.lbDownAfterMs = Date.now() - sentAt;
    }
    if (!isRunning(pid)) {
      seen.exitedAfterMs = Date.now() - sentAt;
      return seen;
    }
    await sleep(100);
  }
  return seen;
}

describe('a replica sent SIGTERM under load', () => {
  it('is drained by the balancer with no failed request, and flushes the spans and logs of every request it served before it exits', { timeout: 5 * 60_000 }, async () => {
    await stackHealthy(f);
    const victim = f.endpoints.replicas.find((r) => r.name === VICTIM)!;
    const { value: spansBefore } = await counterSettled(prometheus, callsOf(VICTIM), FLUSH_MS);
    const servedBefore = await servedBy(VICTIM);
    const logsAcceptedBefore = sumOf(await scrape(f.endpoints.collectorMetrics), 'otelcol_receiver_accepted_log_records');
    const offsets = Object.fromEntries(f.endpoints.replicas.map((r) => [r.name, logSize(f, r.name)]));
    const pid = await control.pid(VICTIM);

    const load = openLoopLoad(f.endpoints.loadBalancer, PATHS, RATE, 4 * 60);
    let victimDown = false;
    try {
      await sleep(10_000);
      const sentAt = Date.now();
      victimDown = true;
      await control.signal(VICTIM, 'SIGTERM');
      const drain = await watchDrain(VICTIM, victim.url, pid, sentAt);
      await sleep(10_000);
      const samples = await load.stop();
      const failed = samples.filter((s) => s.status !== 200);
      const served = (await servedBy(VICTIM)) - servedBefore;

      const { value: spansAfter, afterMs: spansAfterMs } = await waitFor(`span metrics of ${VICTIM} counting the ${served} requests it served`, async () => {
        const now = await counterSnapshot(prometheus, callsOf(VICTIM));
        return growth(spansBefore, now) >= served ? now : undefined;
      }, { timeoutMs: 60_000, intervalMs: 2000 });
      await sleep(3000); // the surviving replica's last log batch (OTEL_BLRP_SCHEDULE_DELAY=1000)
      const logsAccepted = sumOf(await scrape(f.endpoints.collectorMetrics), 'otelcol_receiver_accepted_log_records') - logsAcceptedBefore;
      const victimLog = logSince(f, VICTIM, offsets[VICTIM]!);
      const records = f.endpoints.replicas.map((r) => winstonRecords(logSince(f, r.name, offsets[r.name]!)));
      const written = records.reduce((n, list) => n + list.length, 0);
      const victimAccessLogs = records[f.endpoints.replicas.indexOf(victim)]!.filter((r) => r['context'] === 'AccessLog').length;

      printFigures(`${VICTIM} sent SIGTERM under 50 req/s (SHUTDOWN_DRAIN_MS=3000, HAProxy check inter 1 s fall 2)`, [
        ['requests sent', `${samples.length}, ${failed.length} failed, ${samples.filter((s) => s.retried).length} sent again after a kept-alive connection closed unanswered`],
        ['readiness false after', drain.readinessFalseAfterMs === undefined ? 'never seen' : seconds(drain.readinessFalseAfterMs)],
        ['HAProxy marked it DOWN after', drain.lbDownAfterMs === undefined ? 'never seen' : seconds(drain.lbDownAfterMs)],
        ['process exited after', drain.exitedAfterMs === undefined ? 'not within 40 s' : seconds(drain.exitedAfterMs)],
        [`requests ${VICTIM} served (HAProxy)`, served],
        [`its access-log lines (stdout)`, victimAccessLogs],
        [`its SERVER spans counted (span metrics)`, `${growth(spansBefore, spansAfter)} (${seconds(spansAfterMs)} after the load stopped)`],
        ['log records: written / accepted by the collector', `${written} / ${logsAccepted} (both replicas, over OTLP)`],
        ['its last log lines', victimLog.split('\n').filter((l) => l.includes('"Bootstrap"')).map((l) => JSON.parse(l).message).join(' | ')],
      ]);

      expect(failed, `failed requests: ${JSON.stringify(failed.slice(0, 5))}`).toEqual([]);
      expect(drain.readinessFalseAfterMs, 'readiness false while draining').toBeDefined();
      expect(drain.lbDownAfterMs, 'HAProxy took it out of the pool').toBeDefined();
      expect(drain.lbDownAfterMs!, 'out of the pool before it stopped accepting (SHUTDOWN_DRAIN_MS=3000)').toBeLessThan(3000);
      expect(drain.exitedAfterMs, 'exited').toBeDefined();
      expect(served).toBeGreaterThan(RATE * 3);
      expect(victimAccessLogs, 'an access-log line for every request it served').toBe(served);
      expect(growth(spansBefore, spansAfter), 'a SERVER span for every request it served, up to its exit').toBe(served);
      expect(logsAccepted, 'every log record written reached the collector').toBe(written);
      expect(victimLog).toContain('"message":"stopped serving; flushing telemetry"');
      expect(victimLog).toContain('"message":"telemetry flushed; exiting"');

      await control.start(VICTIM);
      victimDown = false;
      await stackHealthy(f);
      const rejoined = await servedBy(VICTIM);
      for (let i = 0; i < 10; i++) expect((await fetch(`${f.endpoints.loadBalancer}/`)).status).toBe(200);
      expect(await servedBy(VICTIM), `${VICTIM} serves again through the balancer`).toBeGreaterThan(rejoined);
    } finally {
      await load.stop();
      if (victimDown) await control.start(VICTIM);
    }
  });

  it('still drains and exits cleanly when the collector is down and the final flush fails', { timeout: 3 * 60_000 }, async () => {
    await stackHealthy(f);
    const name = 'dice-api-2';
    const replica = f.endpoints.replicas.find((r) => r.name === name)!;
    const offset = logSize(f, name);
    const pid = await control.pid(name);
    const load = openLoopLoad(f.endpoints.loadBalancer, PATHS, RATE, 2 * 60);
    let collectorDown = false;
    let replicaDown = false;
    try {
      collectorDown = true;
      await control.stop('otel-collector');
      await sleep(5000); // spans and logs pile up in the SDK with nowhere to go
      const sentAt = Date.now();
      replicaDown = true;
      await control.signal(name, 'SIGTERM');
      const drain = await watchDrain(name, replica.url, pid, sentAt);
      await sleep(2000);
      const samples = await load.stop();
      const failed = samples.filter((s) => s.status !== 200);
      const log = logSince(f, name, offset);
      printFigures(`${name} sent SIGTERM while the collector is down`, [
        ['requests sent', `${samples.length}, ${failed.length} failed, ${samples.filter((s) => s.retried).length} sent again after a kept-alive connection closed unanswered`],
        ['HAProxy marked it DOWN after', drain.lbDownAfterMs === undefined ? 'never seen' : seconds(drain.lbDownAfterMs)],
        ['process exited after', drain.exitedAfterMs === undefined ? 'not within 40 s' : seconds(drain.exitedAfterMs)],
        ['its last log lines', log.split('\n').filter((l) => l.includes('"Bootstrap"')).map((l) => JSON.parse(l).message).join(' | ')],
      ]);
      expect(failed).toEqual([]);
      expect(drain.exitedAfterMs, 'exited').toBeDefined();
      expect(log).toContain('"message":"telemetry flush failed; the spans and log records still pending are lost"');
      expect(log, 'no crash on the failed flush').not.toMatch(/triggerUncaughtException|Unhandled|^Node\.js v/m);
    } finally {
      await load.stop();
      if (replicaDown) await control.start(name);
      if (collectorDown) await control.start('otel-collector');
    }
  });
});
