// Open-loop load at a fixed rate, run as its own process (pinned by the runner), printing one JSON
// object: latency percentiles with microsecond resolution (autocannon reports whole milliseconds),
// status counts, and how late the generator itself was. Used for latency at a moderate rate, for
// the footprint load and for the cardinality requests.
//
//   node bench/lib/paced-load.ts --url http://127.0.4.101:8000/roll?dice=3&sides=6 --rate 500 --duration 8
//   options: --connections N (keep-alive sockets, default 16)
//            --warmup S (default 1): first send at the same rate for S seconds, unrecorded, so that
//            the generator's own JIT warm-up does not show up as latency
//            --paths fixed | unknown-and-valid (random unknown routes and random valid rolls, half each)
//
// Requests are sent on schedule whether or not earlier ones have answered (open loop), so a stall
// shows up as latency instead of fewer requests. Latency runs from the moment a request is due and
// handed to the HTTP agent to the end of its response: time spent waiting for a free socket counts.
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '16' },
    paths: { type: 'string', default: 'fixed' },
    warmup: { type: 'string', default: '1' },
  },
});
if (!args.url || !args.rate || !args.duration) {
  process.stderr.write('usage: paced-load.ts --url URL --rate REQ_PER_S --duration S [--connections N] [--paths fixed|unknown-and-valid]\n');
  process.exit(2);
}
const url = new URL(args.url);
const rate = Number(args.rate);
const durationS = Number(args.duration);
const connections = Number(args.connections);
const warmupS = Number(args.warmup);
if (!(rate > 0) || !(durationS > 0) || !(connections > 0)) throw new Error('--rate, --duration and --connections must be positive numbers');

const SIDES = [4, 6, 8, 10, 12, 20, 100];
const randomToken = () => Math.random().toString(36).slice(2, 10);
const nextPath: () => string =
  args.paths === 'unknown-and-valid'
    ? () =>
        Math.random() < 0.5
          ? `/${randomToken()}/${randomToken()}`
          : `/roll?dice=${1 + Math.floor(Math.random() * 100)}&sides=${SIDES[Math.floor(Math.random() * SIDES.length)]}`
    : () => url.pathname + url.search;

const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
const warmupTotal = Math.round(rate * warmupS);
const total = Math.round(rate * durationS);
const intervalMs = 1000 / rate;
// Preallocated: the generator's own garbage collection must not show up as server latency.
const latenciesMs = new Float64Array(total);
const lagsMs = new Float64Array(total);
let recorded = 0;
const statuses: Record<string, number> = {};
let errors = 0;
let sent = 0;
let done = 0;
let warmupResponses = 0;
const firstError: string[] = [];

let started = performance.now();

function fire(recordIt: boolean): void {
  const begin = performance.now();
  const request = http.get({ agent, host: url.hostname, port: url.port, path: nextPath() }, (response) => {
    response.resume();
    response.on('end', () => {
      if (!recordIt) {
        warmupResponses += 1;
        return;
      }
      latenciesMs[recorded++] = performance.now() - begin;
      const key = String(response.statusCode);
      statuses[key] = (statuses[key] ?? 0) + 1;
      finishOne();
    });
  });
  request.on('error', (error) => {
    if (!recordIt) return;
    errors += 1;
    if (firstError.length === 0) firstError.push(error.message);
    finishOne();
  });
}

function warmup(): Promise<void> {
  return new Promise((resolve) => {
    const begin = performance.now();
    let n = 0;
    const step = () => {
      while (n < warmupTotal && begin + n * intervalMs <= performance.now()) {
        n += 1;
        fire(false);
      }
      if (n < warmupTotal) setTimeout(step, Math.max(0, begin + n * intervalMs - performance.now()));
      else setTimeout(resolve, intervalMs);
    };
    step();
  });
}

function tick(): void {
  const now = performance.now();
  while (sent < total && started + sent * intervalMs <= now) {
    lagsMs[sent] = now - (started + sent * intervalMs);
    sent += 1;
    fire(true);
  }
  if (sent < total) setTimeout(tick, Math.max(0, started + sent * intervalMs - performance.now()));
}

let finished = false;
function finishOne(): void {
  done += 1;
  if (done === total) report();
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function report(): void {
  if (finished) return;
  finished = true;
  const elapsedS = (performance.now() - started) / 1000;
  const sorted = latenciesMs.slice(0, recorded).sort();
  const lags = lagsMs.slice(0, sent).sort();
  const round = (x: number) => Math.round(x * 1000) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      target: rate,
      sent,
      responses: recorded,
      warmupResponses,
      achievedRate: round(recorded / elapsedS),
      statuses,
      errors,
      firstError: firstError[0],
      latencyMs: {
        p50: round(percentile(sorted, 50)),
        p90: round(percentile(sorted, 90)),
        p99: round(percentile(sorted, 99)),
        p999: round(percentile(sorted, 99.9)),
        max: round(recorded ? sorted[recorded - 1]! : NaN),
      },
      generatorLagMs: { p99: round(percentile(lags, 99)), max: round(sent ? lags[sent - 1]! : NaN) },
      elapsedS: round(elapsedS),
    })}\n`,
  );
  agent.destroy();
  process.exit(0);
}

// Bounded in time whatever the server does: whatever has not answered 10 s after the last send is
// counted as missing, and the process ends.
setTimeout(report, (warmupS + durationS + 10) * 1000).unref();
await warmup();
started = performance.now();
tick();
