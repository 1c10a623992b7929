// Both replicas killed outright (SIGKILL) under load: the balancer answers every request with a
// clear 503 problem+json (never a reset or a hang), the availability SLI measured at the edge
// counts those 503s, and service comes back as soon as the replicas do.
import { describe, expect, inject, it } from 'vitest';
import { openLoopLoad } from './support/open-loop.ts';
import { controlOf, printFigures, promQuery, scrape, seconds, sleep, stackHealthy, sumOf, waitFor } from './support/observe.ts';

const f = inject('faults');
const control = controlOf(f);

const RATE = 50;
const PATHS = ['/roll?dice=2&sides=6', '/', '/roll?dice=5&sides=20'];
const SLI = 'slo:sli_error:ratio_rate5m{slo="availability"}';

const sli = async () => Number((await promQuery(f.endpoints.prometheus, SLI))[0]?.value[1] ?? 0);
const edge5xx = async () => sumOf(await scrape(f.endpoints.loadBalancerMetrics), 'haproxy_frontend_http_responses_total', { proxy: 'public', code: '5xx' });

describe('both replicas killed (SIGKILL) under load', () => {
  it('the balancer answers 503 problem+json, the availability SLI counts it, and service returns with the replicas', { timeout: 5 * 60_000 }, async () => {
    await stackHealthy(f);
    const replicas = f.endpoints.replicas.map((r) => r.name);
    const sliBefore = await sli();
    const edgeBefore = await edge5xx();
    const load = openLoopLoad(f.endpoints.loadBalancer, PATHS, RATE, 4 * 60);
    let down = false;
    try {
      await sleep(5000);
      const killedAt = Date.now();
      down = true;
      for (const name of replicas) await control.signal(name, 'SIGKILL');
      const { value: sliDuring, afterMs: sliAfterMs } = await waitFor(`${SLI} rising above ${sliBefore}`, async () => {
        const value = await sli();
        return value > sliBefore && value > 0.01 ? value : undefined;
      }, { timeoutMs: 120_000, intervalMs: 2000 });
      const restartAt = Date.now();
      await Promise.all(replicas.map((name) => control.start(name)));
      down = false;
      const readyAt = Date.now();
      await sleep(10_000);
      const samples = await load.stop();
      const edgeDelta = (await edge5xx()) - edgeBefore;

      // HAProxy logs and counts a 503 for a request whose connection it closed unanswered (so
      // that the client may retry); the client then sees the 503 of its second attempt.
      const retried = samples.filter((s) => s.retried).length;
      const during = samples.filter((s) => s.at >= killedAt && s.at < restartAt);
      const refused = samples.filter((s) => s.status !== 200);
      const unclear = refused.filter((s) => s.status !== 503 || s.contentType !== 'application/problem+json' || JSON.parse(s.body ?? '{}').status !== 503);
      const first503 = refused.find((s) => s.status === 503);
      const lastFailure = refused.at(-1);
      // HAProxy puts a replica back after two passed checks (rise 2, inter 1 s).
      const afterReady = samples.filter((s) => s.at >= readyAt + 4000);
      printFigures('both replicas SIGKILLed under 50 req/s, restarted once the SLI showed it', [
        ['requests sent', `${samples.length}, ${refused.length} not 200`],
        ['while both were down', `${during.length} sent, ${during.filter((s) => s.status === 503).length} answered 503`],
        ['non-503 or non-problem failures', unclear.length],
        ['sent again by the client', `${retried} (HAProxy closed a kept-alive connection with no response, so that the client may retry)`],
        ['first 503 after the kill', first503 ? seconds(first503.at - killedAt) : 'none'],
        ['a 503 body', first503?.body ?? 'none'],
        ['HAProxy frontend 5xx counted', `${edgeDelta} (client saw ${refused.length}, plus ${retried} closed unanswered and sent again)`],
        ['availability SLI (error ratio, 5m)', `${sliBefore.toFixed(4)} -> ${sliDuring.toFixed(4)} after ${seconds(sliAfterMs)}`],
        ['replicas ready again after', seconds(readyAt - restartAt)],
        ['last failed request sent', lastFailure ? `${seconds(lastFailure.at - readyAt)} relative to ready` : 'none'],
      ]);

      expect(samples.filter((s) => s.status === 0), 'requests with no answer at all (reset, timeout)').toEqual([]);
      expect(unclear, `failures that are not a 503 problem+json: ${JSON.stringify(unclear.slice(0, 3))}`).toEqual([]);
      expect(during.length).toBeGreaterThan(0);
      expect(edgeDelta, 'HAProxy counted every 503 the clients saw').toBeGreaterThanOrEqual(refused.length);
      expect(edgeDelta, 'and no more than those plus the connections it closed unanswered').toBeLessThanOrEqual(refused.length + retried);
      expect(afterReady.length).toBeGreaterThan(RATE * 4);
      expect(afterReady.filter((s) => s.status !== 200), 'failures once the replicas were back').toEqual([]);
    } finally {
      await load.stop();
      if (down) for (const name of f.endpoints.replicas.map((r) => r.name)) await control.start(name);
    }
  });
});
