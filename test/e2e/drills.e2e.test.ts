// Live drills: each turns on a fault through the replicas' fault-injection admin API, under a
// load it sends itself, and measures the time until the alert fires in Prometheus (and, for the
// page, until Alertmanager delivers it to the webhook). The production windows are unchanged:
// the fault sizes exceed both windows of a burn-rate pair at once, and after the availability
// drill a burst of healthy traffic brings the short windows back under their thresholds.
// A drill runs on a young stack whose long windows hold only minutes of history, so it alerts
// sooner than production would: each time is printed with the history the 1h window held and
// the time docs/slo.md predicts with a full hour of healthy history.
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { DESIGN, detectionTime } from '../../scripts/slo/burn-rate-scenarios.ts';
import { steadyLoad, type Load } from './support/load.ts';
import { getJson, promQuery, waitFor } from './support/poll.ts';
import { setFaults as setReplicaFaults } from './support/requests.ts';

const targets = inject('targets');
const timings: Record<string, string> = {};
let load: Load | undefined;

const setFaults = (body: Record<string, number>) => setReplicaFaults(targets, body);

const firing = (alertname: string, extra = '') => async () => {
  const rows = await promQuery(targets.prometheus, `ALERTS{alertname="${alertname}", alertstate="firing"${extra}}`);
  return rows.length > 0 ? rows : undefined;
};

interface Notification {
  receiver: string;
  status: string;
  alerts: { status: string; labels: Record<string, string> }[];
}

const delivered = (receiver: string, alertname: string, status: 'firing' | 'resolved') => async () => {
  const all = await getJson<Notification[]>(`${targets.alertWebhook}/notifications`);
  const match = all.find((n) => n.receiver === receiver && n.alerts.some((a) => a.labels['alertname'] === alertname && a.status === status));
  return match;
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

/** The SLIs' input series: how much of them a window holds is the history the alert judged. */
const SLI_SERIES = {
  availability: 'haproxy_frontend_http_responses_total{proxy="public"}',
  latency: 'http_server_request_duration_count{job="dice-api", http_route=~"/|/roll"}',
} as const;

/**
 * How much history the SLO's 1h window held just now (the span and number of samples of its
 * longest-lived input series in the last hour) and Prometheus's age.
 */
async function history(slo: keyof typeof SLI_SERIES): Promise<string> {
  const res = await fetch(`${targets.prometheus}/api/v1/query?${new URLSearchParams({ query: `${SLI_SERIES[slo]}[1h]` })}`);
  const body = (await res.json()) as { status: string; data?: { result: { values: [number, string][] }[] } };
  const series = body.status === 'success' ? (body.data?.result ?? []) : [];
  const longest = series.reduce((best, s) => (s.values.length > best.length ? s.values : best), [] as [number, string][]);
  const held = longest.length > 0 ? `1h window held ${((Date.now() / 1000 - longest[0]![0]) / 60).toFixed(1)} min (${longest.length} samples)` : '1h window held no samples';
  const [age] = await promQuery(targets.prometheus, 'time() - process_start_time_seconds{job="prometheus"}').catch(() => []);
  return `${held}, Prometheus up ${age ? `${(Number(age.value[1]) / 60).toFixed(1)} min` : 'for an unknown time'}`;
}

/** The page time docs/slo.md predicts for this error ratio once the windows hold full history. */
function predictedPage(slo: keyof typeof SLI_SERIES, errorRatio: number): string {
  const minutes = detectionTime(DESIGN.slos.find((s) => s.name === slo)!, errorRatio, 'page').minutes;
  return minutes === undefined ? 'would not page with full history' : `with a full hour of healthy history: ${minutes.toFixed(1)} min`;
}

afterEach(async () => {
  await load?.stop();
  load = undefined;
  if (targets.admins.length > 0) await setFaults({ errorRatio: 0, latencyMs: 0, jitterMs: 0, bias: 0 });
});

afterAll(() => {
  console.log(
    `drills (${targets.mode} stack), time from fault to alert, and the history the windows held then:\n` +
      Object.entries(timings).map(([k, v]) => `  ${k.padEnd(58)} ${v}`).join('\n'),
  );
});

describe.skipIf(targets.admins.length === 0 || !targets.alertWebhook)('drills', { timeout: 12 * 60_000 }, () => {
  it('added latency fires the latency burn alert', async () => {
    load = steadyLoad(targets.loadBalancer, ['/roll?dice=2&sides=6', '/'], 20);
    const started = Date.now();
    await setFaults({ latencyMs: 200, jitterMs: 20 });
    const { afterMs } = await waitFor('DiceApiLatencyBudgetBurn firing', firing('DiceApiLatencyBudgetBurn', ', severity="page"'), { timeoutMs: 6 * 60_000, intervalMs: 2000 });
    timings['latency 200 ms on every request -> latency page firing'] = `${seconds(afterMs)} (${await history('latency')}; ${predictedPage('latency', 1)})`;
    expect(Date.now() - started).toBeLessThan(6 * 60_000);
  });

  it('a high error ratio pages through Alertmanager, and resolves once the fault is off', async () => {
    load = steadyLoad(targets.loadBalancer, ['/roll?dice=2&sides=6', '/'], 10);
    const started = Date.now();
    await setFaults({ errorRatio: 0.5 });
    await waitFor('DiceApiAvailabilityBudgetBurn (page) firing', firing('DiceApiAvailabilityBudgetBurn', ', severity="page"'), { timeoutMs: 6 * 60_000, intervalMs: 2000 });
    timings['50% errors -> availability page firing in Prometheus'] = `${seconds(Date.now() - started)} (${await history('availability')}; ${predictedPage('availability', 0.5)})`;
    await waitFor('the page delivered to the webhook', delivered('page', 'DiceApiAvailabilityBudgetBurn', 'firing'), { timeoutMs: 2 * 60_000, intervalMs: 2000 });
    timings['50% errors -> page delivered to the webhook'] = seconds(Date.now() - started);

    // Recovery: the fault off, then healthy traffic at a rate that brings the 5m and 30m error
    // ratios back under 14.4x and 6x the budget within a minute or two.
    await load.stop();
    await setFaults({ errorRatio: 0 });
    const off = Date.now();
    load = steadyLoad(targets.loadBalancer, ['/roll?dice=1&sides=6', '/'], 300);
    await waitFor('DiceApiAvailabilityBudgetBurn (page) resolved in Prometheus', async () => {
      const rows = await promQuery(targets.prometheus, 'ALERTS{alertname="DiceApiAvailabilityBudgetBurn", severity="page"}');
      return rows.length === 0 ? true : undefined;
    }, { timeoutMs: 5 * 60_000, intervalMs: 2000 });
    timings['fault off -> page resolved in Prometheus'] = seconds(Date.now() - off);
    await waitFor('the resolution delivered to the webhook', delivered('page', 'DiceApiAvailabilityBudgetBurn', 'resolved'), { timeoutMs: 3 * 60_000, intervalMs: 2000 });
    timings['fault off -> resolution delivered to the webhook'] = seconds(Date.now() - off);
  });

  it('a loaded die fires the fairness alert', async () => {
    load = steadyLoad(targets.loadBalancer, ['/roll?dice=10&sides=6'], 20);
    const started = Date.now();
    await setFaults({ bias: 0.5 });
    const { value } = await waitFor('DiceBiased firing', firing('DiceBiased'), { timeoutMs: 6 * 60_000, intervalMs: 2000 });
    timings['bias 0.5 on d6 -> fairness alert firing'] = seconds(Date.now() - started);
    expect(value[0]!.metric['dice_sides']).toBe('6');
  });

  it('both replicas stopped: the balancer answers 503 problem+json, the availability SLI counts it, and service returns with them', async (ctx) => {
    if (!targets.control) {
      ctx.skip('needs the native stack, which can stop and start the replicas (E2E_STACK=external has no control endpoint)');
      return;
    }
    const control = (action: 'stop' | 'start') =>
      Promise.all(['dice-api-1', 'dice-api-2'].map(async (name) => {
        const res = await fetch(`${targets.control}/${action}/${name}`, { method: 'POST' });
        expect(res.status, `${action} ${name}: ${await res.text()}`).toBe(204);
      }));
    await control('stop');
    try {
      const res = await fetch(`${targets.loadBalancer}/roll?dice=1&sides=6`);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      load = steadyLoad(targets.loadBalancer, ['/'], 20);
      // Burning at page speed (14.4x the budget) over the short window, from 503s at the edge.
      const { afterMs } = await waitFor('the availability SLO burning at more than 14.4x at the balancer', async () => {
        const rows = await promQuery(targets.prometheus, 'slo:current_burn_rate:ratio{slo="availability"} > 14.4');
        return rows.length > 0 ? rows : undefined;
      }, { timeoutMs: 3 * 60_000, intervalMs: 2000 });
      timings['both replicas down -> availability SLI burning'] = `${seconds(afterMs)} (${await history('availability')})`;
    } finally {
      await load?.stop();
      load = undefined;
      await control('start');
    }
    await waitFor('the balancer serving again', async () => ((await fetch(`${targets.loadBalancer}/`)).status === 200 ? true : undefined), { timeoutMs: 60_000 });
  });
});
