// A replica recreated on another address under load, as `docker compose up -d --build` recreates a
// container (or a reboot renumbers it): the balancer finds it again through DNS (haproxy.cfg's
// `resolvers`; natively the stack's dnsmasq, as Docker's 127.0.0.11 in compose) and sends it
// traffic, with no balancer restart and no failed request. HAProxy without `resolvers` keeps the
// address it resolved at start and never sends the replica anything again.
import { describe, expect, inject, it } from 'vitest';
import { openLoopLoad } from './support/open-loop.ts';
import { controlOf, printFigures, scrape, seconds, sleep, stackHealthy, sumOf, waitFor } from './support/observe.ts';

const f = inject('faults');
const control = controlOf(f);

const RATE = 20;
const PATHS = ['/roll?dice=2&sides=6', '/', '/roll?dice=5&sides=20'];
const VICTIM = f.endpoints.replicas[0]!;
const HOME = new URL(VICTIM.url).hostname;
// Same subnet, an address no service of the stack uses (they stop at .53).
const ELSEWHERE = HOME.replace(/\.\d+$/, '.111');

/** Responses HAProxy got from the replica's server line, wherever it points now. */
const servedBy = async (server: string) =>
  sumOf(await scrape(f.endpoints.loadBalancerMetrics), 'haproxy_server_http_responses_total', { proxy: 'dice-api', server });
const isUp = async (server: string) =>
  sumOf(await scrape(f.endpoints.loadBalancerMetrics), 'haproxy_server_status', { proxy: 'dice-api', server, state: 'UP' }) === 1;
/** Requests the replica itself counted (its own /metrics, at the address it listens on). */
const handledAt = async (address: string) =>
  sumOf(await scrape(`http://${address}:8000/metrics`), 'http_server_request_duration_count', { http_route: '/roll' }) +
  sumOf(await scrape(`http://${address}:8000/metrics`), 'http_server_request_duration_count', { http_route: '/' });

describe('a replica recreated on another address', () => {
  it('takes traffic again through the same balancer process, found by DNS, with no failed request', { timeout: 4 * 60_000 }, async () => {
    await stackHealthy(f);
    const balancerPid = await control.pid('load-balancer');
    const load = openLoopLoad(f.endpoints.loadBalancer, PATHS, RATE, 3 * 60);
    let moved = false;
    try {
      await sleep(3000);
      const movedAt = Date.now();
      moved = true;
      await control.move(VICTIM.name, ELSEWHERE);
      const readyAt = Date.now();
      // The old process is gone: whatever HAProxy counts for this server from now on came from the new address.
      const servedAtReady = await servedBy(VICTIM.name);
      const handledBefore = await handledAt(ELSEWHERE);
      const { afterMs: backAfterMs } = await waitFor(
        `HAProxy to send ${VICTIM.name} traffic at ${ELSEWHERE} (its log: ${f.runDir}/logs/load-balancer.log)`,
        async () => ((await isUp(VICTIM.name)) && (await servedBy(VICTIM.name)) > servedAtReady ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      await sleep(5000);
      const samples = await load.stop();
      const servedSince = (await servedBy(VICTIM.name)) - servedAtReady;
      const handledSince = (await handledAt(ELSEWHERE)) - handledBefore;
      const failed = samples.filter((s) => s.status !== 200);
      const afterBack = samples.filter((s) => s.at >= readyAt + backAfterMs);

      printFigures(`${VICTIM.name} moved from ${HOME} to ${ELSEWHERE} under ${RATE} req/s`, [
        ['requests sent', `${samples.length}, ${failed.length} not 200`],
        ['stopped, renamed and ready again in', seconds(readyAt - movedAt)],
        ['balancer sent it traffic again after', `${seconds(backAfterMs)} (from ready at the new address)`],
        ['responses from it through the balancer since', `${servedSince} (it counted ${handledSince} requests itself)`],
        ['share of the requests since it was back', `${((servedSince / Math.max(1, afterBack.length)) * 100).toFixed(0)}% (round robin over two: ~50%)`],
      ]);

      expect(await control.pid('load-balancer'), 'the balancer was not restarted').toBe(balancerPid);
      expect(failed, `failed requests: ${JSON.stringify(failed.slice(0, 3))}`).toEqual([]);
      expect(handledSince, 'the replica at its new address served requests the balancer sent').toBeGreaterThan(0);
      // Round robin over both replicas again, not a trickle.
      expect(servedSince).toBeGreaterThan(afterBack.length / 4);
    } finally {
      await load.stop();
      if (moved) await control.move(VICTIM.name, HOME);
    }
    // Back home: the other fault tests find the stack as it started.
    await stackHealthy(f);
  });
});
