// Nest 12 on Fastify vs Express, with and without OpenTelemetry: throughput, latency, and whether
// http.route reaches the SERVER span and http.server.request.duration.
//
//   ./node_modules/.bin/node bench/adapters/run.mjs            # 3 rounds x 8 s, 50 connections
//   ./node_modules/.bin/node bench/adapters/run.mjs --quick    # 1 round x 2 s (smoke test)
//   options: --rounds=N --duration=S --connections=N --warmup=S --skip-check --skip-load
//            --lean   also measure both instrumented adapters with fewer framework spans
//
// Every server is a forked child (server.mjs); autocannon is a separate process; this process only
// orchestrates and runs the OTLP sink that the instrumented servers export their spans to.
// Load goes to 127.0.0.1 only. Results are printed (a Markdown table, then the raw JSON).
import { fork, spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    lean: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string' },
    'skip-check': { type: 'boolean', default: false },
    'skip-load': { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(argv.rounds ?? (argv.quick ? 1 : 3));
const DURATION = Number(argv.duration ?? (argv.quick ? 2 : 8));
const WARMUP = Number(argv.warmup ?? (argv.quick ? 1 : 3));
const CONNECTIONS = Number(argv.connections);

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

const VARIANTS = [
  { name: 'fastify', adapter: 'fastify', otel: false },
  { name: 'express', adapter: 'express', otel: false },
  { name: 'fastify+otel', adapter: 'fastify', otel: true },
  { name: 'express+otel', adapter: 'express', otel: true },
  ...(argv.lean
    ? [
        { name: 'fastify+otel-lean', adapter: 'fastify', otel: true, lean: true },
        { name: 'express+otel-lean', adapter: 'express', otel: true, lean: true },
      ]
    : []),
];
const CHECKS = [
  { name: 'fastify+otel', adapter: 'fastify', otel: true },
  { name: 'express+otel', adapter: 'express', otel: true },
  { name: 'express+otel, no loader hook', adapter: 'express', otel: true, noHook: true },
  ...VARIANTS.filter((v) => v.lean),
];
const slug = (name) => name.replace(/[^a-z0-9]+/gi, '-');

// ---- OTLP/HTTP sink: answers 200 to every export; counts spans; keeps payloads only when asked.
const sinkStats = new Map(); // key -> { exports, bytes, spans, payloads|null }
const SPAN_ID = Buffer.from('"spanId"');
const sink = createServer((req, res) => {
  const key = decodeURIComponent(req.url.split('/')[1] ?? '');
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const stats = sinkStats.get(key) ?? { exports: 0, bytes: 0, spans: 0, payloads: null };
    sinkStats.set(key, stats);
    stats.exports += 1;
    stats.bytes += body.length;
    for (let i = body.indexOf(SPAN_ID); i !== -1; i = body.indexOf(SPAN_ID, i + SPAN_ID.length)) stats.spans += 1;
    if (stats.payloads) stats.payloads.push(JSON.parse(body.toString('utf8')));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
sink.listen(0, '127.0.0.1');
await once(sink, 'listening');
const SINK_PORT = sink.address().port;

// ---- children
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
const children = new Set();

async function startServer(variant, key) {
  const args = [`--adapter=${variant.adapter}`, `--service-name=bench-${key}`];
  if (variant.otel) args.push('--otel', `--otlp=http://127.0.0.1:${SINK_PORT}/${key}/v1/traces`);
  if (variant.noHook) args.push('--no-hook');
  if (variant.lean) args.push('--lean');
  const child = fork(SERVER, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: childEnv });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${variant.name}: not ready after 30 s`)), 30_000);
    child.on('message', (m) => m?.type === 'ready' && (clearTimeout(timer), resolve(m)));
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${variant.name}: exited with ${code}`))));
  });
  return { child, port: ready.port, hook: ready.hook };
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function scrape(child) {
  return new Promise((resolve) => {
    const onMessage = (m) => m?.type === 'scrape' && (child.off('message', onMessage), resolve(m.text));
    child.on('message', onMessage);
    child.send({ type: 'scrape' });
  });
}

function autocannon(port, seconds) {
  return new Promise((resolve, reject) => {
    const args = [AUTOCANNON, '-c', String(CONNECTIONS), '-d', String(seconds), '-j', `http://127.0.0.1:${port}/roll`];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const killer = setTimeout(() => p.kill('SIGKILL'), (seconds + 30) * 1000);
    p.on('close', (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err.slice(0, 500)}`));
      const r = JSON.parse(out);
      resolve({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        responses: r.requests.total,
        bad: r.errors + r.timeouts + r.non2xx,
      });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const attr = (span, key) => {
  const a = span.attributes?.find((x) => x.key === key);
  return a ? Object.values(a.value ?? {})[0] : undefined;
};

// ---- http.route check: a few requests, then what the server exported (OTLP spans, Prometheus)
async function check(variant) {
  const key = `check-${slug(variant.name)}`;
  sinkStats.set(key, { exports: 0, bytes: 0, spans: 0, payloads: [] });
  const { child, port, hook } = await startServer(variant, key);
  const REQUESTS = 5;
  for (let i = 0; i < REQUESTS; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/roll`);
    const body = await res.json();
    if (res.status !== 200 || !(body.total >= 1 && body.total <= 6)) throw new Error(`${variant.name}: bad answer ${res.status} ${JSON.stringify(body)}`);
  }
  const metricsText = await scrape(child);
  await stopServer(child); // SDK shutdown flushes the BatchSpanProcessor
  for (let i = 0; i < 20 && sinkStats.get(key).spans < REQUESTS; i++) await sleep(100);

  const spans = sinkStats
    .get(key)
    .payloads.flatMap((p) => p.resourceSpans ?? [])
    .flatMap((rs) => rs.scopeSpans ?? [])
    .flatMap((ss) => (ss.spans ?? []).map((s) => ({ ...s, scope: ss.scope?.name })));
  const server = spans.filter((s) => s.kind === 2); // SPAN_KIND_SERVER
  // http.server.request.duration (unit s); this exporter version adds no _seconds suffix.
  const durationLines = metricsText.split('\n').filter((l) => /^http_server_request_duration(_seconds)?_count\{/.test(l));
  const metricRoutes = durationLines.map((l) => /http_route="([^"]*)"/.exec(l)?.[1] ?? '(none)');
  const oneTrace = spans.filter((s) => s.traceId === server[0]?.traceId);
  return {
    variant: variant.name,
    hook: hook ?? 'not registered',
    serverSpans: server.length,
    spanRoute: [...new Set(server.map((s) => attr(s, 'http.route') ?? '(missing)'))].join(', ') || '(no SERVER span)',
    serverSpanName: [...new Set(server.map((s) => s.name))].join(', '),
    metricRoute: [...new Set(metricRoutes)].join(', ') || '(no series)',
    metricSeries: durationLines,
    spansPerRequest: spans.length / REQUESTS,
    spansOfOneRequest: oneTrace.map((s) => `${s.name} [${s.scope}]`),
  };
}

function cpuModel() {
  return os.cpus()[0]?.model ?? 'unknown';
}

async function main() {
  const started = Date.now();
  const env = {
    node: process.version,
    nproc: Number(execFileSync('nproc').toString().trim()),
    cpu: cpuModel(),
    loadavgBefore: os.loadavg().map((x) => x.toFixed(2)),
    rounds: ROUNDS,
    duration: DURATION,
    warmup: WARMUP,
    connections: CONNECTIONS,
    command: `node ${process.argv.slice(1).map((a) => a.replace(process.cwd() + '/', '')).join(' ')}`,
  };
  console.log(`# bench/adapters: ${JSON.stringify(env)}`);

  const checks = [];
  if (!argv['skip-check']) {
    for (const v of CHECKS) {
      const c = await check(v);
      checks.push(c);
      console.log(`check ${c.variant}: SERVER span http.route=${c.spanRoute}, metric http_route=${c.metricRoute}, spans/request=${c.spansPerRequest}`);
    }
  }

  const load = new Map(VARIANTS.map((v) => [v.name, { variant: v, rounds: [], warmupResponses: 0 }]));
  if (!argv['skip-load']) {
    const est = VARIANTS.length * (WARMUP + ROUNDS * DURATION);
    console.log(`load: ${VARIANTS.length} variants, warm-up ${WARMUP} s, ${ROUNDS} x ${DURATION} s, -c ${CONNECTIONS} (~${est} s)`);
    for (const v of VARIANTS) {
      const l = load.get(v.name);
      Object.assign(l, await startServer(v, slug(v.name)));
      l.warmupResponses = (await autocannon(l.port, WARMUP)).responses;
    }
    for (let r = 0; r < ROUNDS; r++) {
      // Round-robin, rotated each round, so that drifting background noise is shared.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
      for (const v of order) {
        const l = load.get(v.name);
        const res = await autocannon(l.port, DURATION);
        l.rounds.push(res);
        console.log(`round ${r + 1}/${ROUNDS} ${v.name.padEnd(17)} ${res.rps.toFixed(0).padStart(6)} req/s  p50 ${res.p50} ms  p99 ${res.p99} ms${res.bad ? `  errors/non-2xx ${res.bad}` : ''}`);
      }
    }
    for (const l of load.values()) await stopServer(l.child); // flushes the spans still queued
    await sleep(500);
  }

  const base = median(load.get('fastify').rounds.map((x) => x.rps));
  const rows = [...load.values()].map((l) => {
    const rps = median(l.rounds.map((x) => x.rps));
    const responses = l.warmupResponses + l.rounds.reduce((a, x) => a + x.responses, 0);
    const c = checks.find((x) => x.variant === l.variant.name);
    const sunk = sinkStats.get(slug(l.variant.name));
    return {
      variant: l.variant.name,
      rps,
      p50: median(l.rounds.map((x) => x.p50)),
      p99: median(l.rounds.map((x) => x.p99)),
      ratio: rps / base,
      perRound: l.rounds.map((x) => Math.round(x.rps)),
      bad: l.rounds.reduce((a, x) => a + x.bad, 0),
      spanRoute: l.variant.otel ? (c?.spanRoute ?? 'not checked') : 'n/a',
      metricRoute: l.variant.otel ? (c?.metricRoute ?? 'not checked') : 'n/a',
      exportedSpansPerRequest: l.variant.otel && sunk ? sunk.spans / responses : null,
      checkedSpansPerRequest: c?.spansPerRequest ?? null,
    };
  });

  console.log('\n| variant | req/s (median) | p50 ms | p99 ms | vs fastify | req/s per round | SERVER span http.route | duration metric http_route | spans/req exported under load (expected) |');
  console.log('|---|---:|---:|---:|---:|---|---|---|---|');
  for (const r of argv['skip-load'] ? [] : rows) {
    const spans = r.exportedSpansPerRequest === null ? 'n/a' : `${r.exportedSpansPerRequest.toFixed(2)} (${r.checkedSpansPerRequest ?? '?'})`;
    console.log(`| ${r.variant} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.ratio.toFixed(2)} | ${r.perRound.join(' / ')} | ${r.spanRoute} | ${r.metricRoute} | ${spans} |`);
  }
  if (!argv['skip-load']) {
    const rps = Object.fromEntries(rows.map((r) => [r.variant, r.rps]));
    console.log(`\nfastify / express = ${(rps.fastify / rps.express).toFixed(2)}x; fastify+otel / express+otel = ${(rps['fastify+otel'] / rps['express+otel']).toFixed(2)}x`);
    console.log(`otel cost: fastify ${(100 * (1 - rps['fastify+otel'] / rps.fastify)).toFixed(0)}%, express ${(100 * (1 - rps['express+otel'] / rps.express)).toFixed(0)}% of req/s`);
  }
  if (checks.length) {
    console.log('\n| http.route check (5 x GET /roll) | SERVER span name | SERVER span http.route | http_server_request_duration_count series | spans per request | loader hook |');
    console.log('|---|---|---|---|---:|---|');
    for (const c of checks) {
      console.log(`| ${c.variant} | ${c.serverSpanName} | ${c.spanRoute} | ${c.metricSeries.map((s) => `\`${s.replace(/\s.*$/, '')}\``).join('<br>') || '(none)'} | ${c.spansPerRequest} | ${c.hook.replace(/^.*?\/node_modules\//, "node_modules/")} |`);
    }
    for (const c of checks) console.log(`spans of one request, ${c.variant}: ${c.spansOfOneRequest.join(' | ')}`);
  }
  env.loadavgAfter = os.loadavg().map((x) => x.toFixed(2));
  env.seconds = Math.round((Date.now() - started) / 1000);
  console.log(`\nraw: ${JSON.stringify({ env, rows, checks: checks.map(({ spansOfOneRequest, ...c }) => ({ ...c, spansOfOneRequest })) })}`);
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGKILL');
  sink.close();
}
