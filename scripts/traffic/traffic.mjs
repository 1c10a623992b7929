// Steady, realistic traffic through the load balancer, so that dashboards show live data as
// soon as the stack is up: mostly valid rolls of varied dice, some GET /, some bad input and
// unknown routes. Runs in compose (the `traffic` service) and in the native stack.
//   TARGET_URL    where to send it (default http://127.0.0.1:80)
//   TRAFFIC_RATE  requests per second in total; 0 idles (default 20)
//   DURATION_S    stop after this many seconds; 0 runs until stopped (default 0)
import autocannon from 'autocannon';

const target = process.env.TARGET_URL ?? 'http://127.0.0.1:80';
const rate = Number(process.env.TRAFFIC_RATE ?? 20);
const durationS = Number(process.env.DURATION_S ?? 0);
if (!Number.isFinite(rate) || rate < 0) throw new Error(`TRAFFIC_RATE must be a number >= 0, got "${process.env.TRAFFIC_RATE}"`);
if (!Number.isFinite(durationS) || durationS < 0) throw new Error(`DURATION_S must be a number >= 0, got "${process.env.DURATION_S}"`);

const SIDES = [4, 6, 8, 10, 12, 20, 100];
const BAD = ['/roll?dice=0&sides=6', '/roll?dice=3&sides=7', '/roll?dice=lots&sides=6', '/roll?sides=20', '/roll?dice=2&dice=3&sides=6', '/roll?dice=1&sides=6&cheat=1'];
const pick = (list) => list[Math.floor(Math.random() * list.length)];
// Few dice most of the time, now and then a handful, rarely a hundred.
const diceCount = () => (Math.random() < 0.8 ? 1 + Math.floor(Math.random() * 3) : Math.random() < 0.95 ? 4 + Math.floor(Math.random() * 16) : 100);

/** One request path of the mix: 70% /roll, 15% /, 10% bad input, 5% unknown routes. */
export function nextPath() {
  const r = Math.random();
  if (r < 0.7) return `/roll?dice=${diceCount()}&sides=${pick(SIDES)}`;
  if (r < 0.85) return '/';
  if (r < 0.95) return pick(BAD);
  return `/${pick(['dice', 'rolls', 'favicon.ico', 'admin', 'api/roll'])}`;
}

const CHUNK_S = 30;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const started = Date.now();
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => (stopping = true));
  console.log(JSON.stringify({ message: 'traffic starting', target, rate, duration_s: durationS }));
  while (!stopping) {
    const left = durationS > 0 ? durationS - (Date.now() - started) / 1000 : CHUNK_S;
    if (left <= 0) break;
    if (rate === 0) {
      await sleep(1000);
      continue;
    }
    const result = await autocannon({
      url: target,
      connections: Math.max(1, Math.min(10, Math.ceil(rate / 20))),
      overallRate: rate,
      duration: Math.min(CHUNK_S, left),
      requests: [{ setupRequest: (request) => ({ ...request, path: nextPath() }) }],
    });
    console.log(
      JSON.stringify({
        message: 'traffic chunk',
        requests: result.requests.total,
        '2xx': result['2xx'],
        '4xx': result['4xx'],
        '5xx': result['5xx'],
        errors: result.errors,
        p99_ms: result.latency.p99,
      }),
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(`traffic generator failed: ${error.message}`);
    process.exit(1);
  });
}
