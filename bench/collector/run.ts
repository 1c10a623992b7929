// The collector's own throughput per core with OUR config (otel-collector/config.yaml), the input
// docs/scaling.md sizes collectors from. Writes docs/collector-throughput.json.
//   flock /tmp/dice-heavy.lock node bench/collector/run.ts [--quick]
// Needs: otelcol-dice (bash scripts/native/build-backends.sh), telemetrygen (TELEMETRYGEN=path, or
// the telemetrygen= line of build-backends.sh --print-paths), and `npm run build` (the shape phase
// runs one instrumented dice API). Bounded: about 3 minutes (--quick: about 1). Loopback only, on
// DICE_STACK_SUBNET (default 127.0.7).
//
// Layout (2 cores): the collector pinned to core 0; telemetrygen, the counting sinks
// (bench/collector/sink.ts) and this script on core 1. The collector's exporters are pointed at the
// sinks with --set (the config file is otherwise loaded as it is, persistent queues included).
// Phases:
//   shape      one instrumented dice API replica (core 1) exporting straight to a decoding sink:
//              spans and log records per request, protobuf bytes per span and per log record.
//   traces     telemetrygen traces at saturation: 2 spans a trace (CLIENT parent, SERVER child,
//              as a request's SERVER span and its dice.roll child), our span_metrics dimensions as
//              attributes, so span_metrics works as it does for real traffic.
//   logs       telemetrygen logs at saturation, a body the size of the dice API's.
//   mixed-N    traces and logs together at N requests/s, in the shape phase's ratio.
// Figures per phase: items accepted/s, collector CPU (utime+stime from /proc/<pid>/stat), items per
// CPU-second, bytes/s delivered to the sinks, refused/failed counts from the collector's metrics.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, stopServer, ROOT } from '../lib/servers.ts';
import { usageOf } from '../lib/proc.ts';

const quick = process.argv.includes('--quick');
const SUBNET = process.env.DICE_STACK_SUBNET ?? '127.0.7';
const A = { collector: `${SUBNET}.20`, prometheus: `${SUBNET}.30`, tempo: `${SUBNET}.40`, loki: `${SUBNET}.41`, app: `${SUBNET}.101`, control: `${SUBNET}.60` };
const PHASE_S = quick ? 8 : 15;
const DRAIN_S = 4; // > the exporters' batch flush_timeout (1 s) and span_metrics' flush (1 s)
const RUN = join(ROOT, 'bench/results/collector');
const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

function paths(): Record<string, string> {
  const out = spawnSync('bash', [join(ROOT, 'scripts/native/build-backends.sh'), '--print-paths'], { encoding: 'utf8' });
  return Object.fromEntries(out.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
const bins = paths();
const OTELCOL = bins['otelcol-dice'];
const TELEMETRYGEN = process.env.TELEMETRYGEN ?? bins['telemetrygen'];
for (const [name, path, how] of [
  ['otelcol-dice', OTELCOL, 'bash scripts/native/build-backends.sh'],
  ['telemetrygen', TELEMETRYGEN, 'bash scripts/native/build-backends.sh (component telemetrygen), or set TELEMETRYGEN'],
  ['dist/apps/dice-api/src/main.js', join(ROOT, 'dist/apps/dice-api/src/main.js'), 'npm run build'],
] as const) {
  if (!path || !existsSync(path)) {
    console.error(`${name} is missing (${path ?? 'no path'}): build it with ${how}`);
    process.exit(2);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(url: string, what: string, seconds = 30) {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      /* not yet */
    }
    await sleep(200);
  }
  throw new Error(`${what} not ready at ${url} after ${seconds} s`);
}

function startSink(decode: boolean): ChildProcess {
  return spawn('taskset', ['-c', '1', process.execPath, join(ROOT, 'bench/collector/sink.ts')], {
    env: { ...process.env, TEMPO_ADDR: A.tempo, LOKI_ADDR: A.loki, PROM_ADDR: A.prometheus, CONTROL: `${A.control}:7000`, SINK_DECODE: decode ? '1' : '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
type SinkStats = Record<'traces' | 'logs' | 'metrics', { requests: number; bytes: number; wireBytes: number; items: number; gzipBytes: number }> & { series: number; points: number };
const sinkStats = async (): Promise<SinkStats> => (await fetch(`http://${A.control}:7000/stats`)).json() as Promise<SinkStats>;

async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** Busy and total jiffies of each CPU, from /proc/stat. */
function cpuTimes(): { busy: number; total: number }[] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const f = l.split(/\s+/).slice(1).map(Number);
      const idle = f[3]! + f[4]!; // idle + iowait
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
      return { busy: total - idle, total };
    });
}

/** Sum of a counter over all its label sets, from the collector's own /metrics (port 8888). */
async function collectorMetrics(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${A.collector}:8888/metrics`)).text();
  const sums: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith('otelcol_')) continue;
    const name = line.slice(0, line.search(/[{ ]/));
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    // Per exporter, so that spans sent to Tempo and metric points sent to Prometheus stay apart.
    const exporter = /exporter="([^"]+)"/.exec(line)?.[1];
    const key = exporter ? `${name}{${exporter}}` : name;
    sums[key] = (sums[key] ?? 0) + value;
  }
  return sums;
}
const delta = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.keys(b).filter((k) => /_(accepted|refused|sent|failed|enqueue_failed)_/.test(k)).map((k) => [k, b[k]! - (a[k] ?? 0)]).filter(([, v]) => v !== 0));

// ---------------------------------------------------------------- shape: the dice API's real exports
/**
 * One instrumented replica exporting to the collector (as in compose), the sinks decoding: spans and
 * log records a request, protobuf bytes of each as the collector delivers them to Tempo and Loki,
 * and the Prometheus series its span metrics make.
 */
async function shapePhase() {
  log('shape: one instrumented dice API replica (core 1) exporting to the collector, the sinks decoding');
  await fetch(`http://${A.control}:7000/decode?on=1`, { method: 'POST' });
  const s0 = await sinkStats();
  const server = await startServer(
    { name: 'shape', kind: 'node', instrumented: true, cpus: '1' },
    { host: A.app, logDir: join(RUN, 'logs'), otlpEndpoint: `http://${A.collector}:4318` },
  );
  const requests = quick ? 1000 : 3000;
  // The compose traffic generator's paths (scripts/traffic): rolls of several shapes, the index,
  // and requests the API refuses (400) or does not know (404), which make their own series.
  const pathsToHit = ['/roll?dice=3&sides=6', '/roll?dice=1&sides=20', '/roll', '/', '/roll?dice=0', '/nope'];
  let sent = 0;
  const worker = async () => {
    while (sent < requests) {
      const i = sent++;
      const res = await fetch(`${server.url}${pathsToHit[i % pathsToHit.length]}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await stopServer(server); // its SDK flushes what it holds on SIGTERM
  await sleep(DRAIN_S * 1000);
  const s1 = await sinkStats();
  await fetch(`http://${A.control}:7000/decode?on=0`, { method: 'POST' });
  const spans = s1.traces.items - s0.traces.items;
  const logs = s1.logs.items - s0.logs.items;
  const shape = {
    requests,
    paths: pathsToHit,
    spans,
    logRecords: logs,
    spansPerRequest: spans / requests,
    logRecordsPerRequest: logs / requests,
    // Uncompressed OTLP protobuf as the collector's exporters send it (batches: the resource and
    // scope are shared by many items), which is what Tempo and Loki ingest.
    bytesPerSpan: (s1.traces.bytes - s0.traces.bytes) / spans,
    bytesPerLogRecord: (s1.logs.bytes - s0.logs.bytes) / logs,
    // The same batches gzipped (zlib default level): the compression the sizing assumes at rest.
    gzipBytesPerSpan: (s1.traces.gzipBytes - s0.traces.gzipBytes) / spans,
    gzipBytesPerLogRecord: (s1.logs.gzipBytes - s0.logs.gzipBytes) / logs,
    // Span metrics of this one replica: distinct OTLP data points (sent every metrics_flush_interval)
    // and the Prometheus series they become; protobuf bytes a data point as exported.
    spanMetricPoints: s1.points,
    spanMetricSeries: s1.series,
    bytesPerMetricPoint: (s1.metrics.bytes - s0.metrics.bytes) / (s1.metrics.items - s0.metrics.items),
  };
  log(
    `shape: ${shape.spansPerRequest.toFixed(2)} spans and ${shape.logRecordsPerRequest.toFixed(2)} log records a request; ${shape.bytesPerSpan.toFixed(0)} B a span, ` +
      `${shape.bytesPerLogRecord.toFixed(0)} B a log record; ${shape.spanMetricSeries} Prometheus series from its span metrics`,
  );
  return shape;
}

// ---------------------------------------------------------------- collector phases
const TRACE_ATTRS = [
  // span_metrics' dimensions (config.yaml) and the other attributes of the dice API's SERVER span
  'http.route="/roll"',
  'http.request.method="GET"',
  'http.response.status_code=200',
  'url.path="/roll"',
  'url.query="dice=3&sides=6"',
  'url.scheme="http"',
  'server.address="dice-api-1"',
  'server.port=8000',
  'network.protocol.version="1.1"',
  'client.address="10.0.0.1"',
  'user_agent.original="traffic/1.0"',
];
const RESOURCE_ATTRS = ['service.version="1.0.0"', 'deployment.environment.name="bench"', 'service.instance.id="dice-api-1"'];

/**
 * telemetrygen processes for one signal. Each traces process exports through one OTLP/gRPC
 * connection, one batch at a time, and every Export waits for the collector's persistent queue
 * (file_storage) to take the batch: one connection is bound by that latency, not by the collector's
 * CPU, and the Go SDK's batch processor drops what it cannot send (seen here: 1 span in 20 reached
 * the collector from one process at full speed). So several processes, as many replicas would be.
 * Even so, on this 2-core machine core 1 (generators and sinks) is the bottleneck, not the
 * collector: each phase records both cores' busy share from /proc/stat to show it.
 */
// Logs export synchronously per worker (no SDK queue to drop from): one process of 4 did best here.
const GENERATORS = { traces: { processes: 8, workers: 1 }, logs: { processes: 1, workers: 4 } };
function telemetrygen(signal: 'traces' | 'logs', rateTotal: number, seconds: number, logBody: string): ChildProcess[] {
  const { processes, workers } = GENERATORS[signal];
  // telemetrygen's limiter paces every span, parent and child alike (pkg/traces/worker.go at
  // v0.161.0): a trace of 2 spans takes 2 of the rate.
  const perItem = signal === 'traces' ? 2 : 1;
  const common = ['--otlp-endpoint', `${A.collector}:4317`, '--otlp-insecure', '--duration', `${seconds}s`, '--workers', String(workers), '--rate', String((rateTotal * perItem) / workers / processes), '--service', 'dice-api', '--interval', '60s', '--batch-size', '512'];
  for (const a of RESOURCE_ATTRS) common.push('--otlp-attributes', a);
  const args =
    signal === 'traces'
      ? ['traces', ...common, '--child-spans', '1', ...TRACE_ATTRS.flatMap((a) => ['--telemetry-attributes', a])]
      : ['logs', ...common, '--body', logBody, '--severity-text', 'info', '--severity-number', '9'];
  return Array.from({ length: processes }, () => {
    // Its log goes to a file: an unread pipe fills and blocks it.
    const out = openSync(join(RUN, 'logs', `telemetrygen-${signal}.log`), 'a');
    const child = spawn('taskset', ['-c', '1', TELEMETRYGEN!, ...args], { stdio: ['ignore', out, out] });
    closeSync(out);
    // Bounded: a generator still exporting long after its duration is killed (and counted as run).
    const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
    child.once('exit', () => clearTimeout(kill));
    return child;
  });
}

interface PhaseResult {
  name: string;
  target: { tracesPerS: number | 'max'; logsPerS: number | 'max' };
  seconds: number;
  accepted: { spans: number; logRecords: number };
  acceptedPerS: { spans: number; logRecords: number };
  delivered: { spans: number; logRecords: number; metricPoints: number };
  collectorCpuSeconds: number;
  collectorBusy: number;
  itemsPerCpuSecond: number;
  sinkBytesPerS: { traces: number; logs: number; metrics: number };
  sinkCpuSeconds: number;
  coreBusy: number[];
  refused: number;
  failed: number;
  counters: Record<string, number>;
}

async function collectorPhase(name: string, target: PhaseResult['target'], collectorPid: number, sinkPid: number, logBody: string): Promise<PhaseResult> {
  const m0 = await collectorMetrics();
  const s0 = await sinkStats();
  const c0 = usageOf(collectorPid).cpuSeconds;
  const k0 = usageOf(sinkPid).cpuSeconds;
  const p0 = cpuTimes();
  const t0 = Date.now();
  const gens: ChildProcess[] = [];
  if (target.tracesPerS !== 0) gens.push(...telemetrygen('traces', target.tracesPerS === 'max' ? 0 : target.tracesPerS, PHASE_S, logBody));
  if (target.logsPerS !== 0) gens.push(...telemetrygen('logs', target.logsPerS === 'max' ? 0 : target.logsPerS, PHASE_S, logBody));
  const heartbeat = setInterval(() => log(`  ${name}: running (${((Date.now() - t0) / 1000).toFixed(0)} s of ${PHASE_S})`), 5000);
  await Promise.all(gens.map((g) => new Promise((r) => g.once('exit', r))));
  clearInterval(heartbeat);
  const genSeconds = (Date.now() - t0) / 1000;
  const p1 = cpuTimes();
  await sleep(DRAIN_S * 1000);
  const m1 = await collectorMetrics();
  const s1 = await sinkStats();
  const cpu = usageOf(collectorPid).cpuSeconds - c0;
  const sinkCpu = usageOf(sinkPid).cpuSeconds - k0;
  const d = delta(m0, m1);
  const spans = d['otelcol_receiver_accepted_spans'] ?? 0;
  const logs = d['otelcol_receiver_accepted_log_records'] ?? 0;
  const wall = genSeconds + DRAIN_S;
  const r: PhaseResult = {
    name,
    target,
    seconds: genSeconds,
    accepted: { spans, logRecords: logs },
    acceptedPerS: { spans: spans / genSeconds, logRecords: logs / genSeconds },
    delivered: {
      spans: d['otelcol_exporter_sent_spans{otlp_http/tempo}'] ?? 0,
      logRecords: d['otelcol_exporter_sent_log_records{otlp_http/loki}'] ?? 0,
      metricPoints: d['otelcol_exporter_sent_metric_points{otlp_http/prometheus}'] ?? 0,
    },
    collectorCpuSeconds: cpu,
    // Over the generator's run and the drain after it (the work of the run ends within the drain).
    collectorBusy: cpu / wall,
    itemsPerCpuSecond: (spans + logs) / cpu,
    sinkBytesPerS: {
      traces: (s1.traces.bytes - s0.traces.bytes) / genSeconds,
      logs: (s1.logs.bytes - s0.logs.bytes) / genSeconds,
      metrics: (s1.metrics.bytes - s0.metrics.bytes) / genSeconds,
    },
    sinkCpuSeconds: sinkCpu,
    // Share of each core busy while the generators ran (whoever ran there, other users included).
    coreBusy: p1.map((c, i) => (c.busy - p0[i]!.busy) / (c.total - p0[i]!.total)),
    refused: (d['otelcol_receiver_refused_spans'] ?? 0) + (d['otelcol_receiver_refused_log_records'] ?? 0),
    failed: Object.entries(d).filter(([k]) => /send_failed|enqueue_failed/.test(k)).reduce((a, [, v]) => a + v, 0),
    counters: d,
  };
  log(
    `${name}: ${r.acceptedPerS.spans.toFixed(0)} spans/s + ${r.acceptedPerS.logRecords.toFixed(0)} logs/s accepted; collector ${cpu.toFixed(1)} CPU-s (busy ${(r.collectorBusy * 100).toFixed(0)}%), ` +
      `${r.itemsPerCpuSecond.toFixed(0)} items/CPU-s; refused ${r.refused}, failed ${r.failed}; sinks ${sinkCpu.toFixed(1)} CPU-s; cores busy ${r.coreBusy.map((b) => `${(b * 100).toFixed(0)}%`).join(' ')}`,
  );
  return r;
}

async function main() {
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(join(RUN, 'logs'), { recursive: true });
  log('collector: otelcol-dice with otel-collector/config.yaml pinned to core 0; sinks and telemetrygen on core 1');
  const sink = startSink(false);
  await waitFor(`http://${A.control}:7000/stats`, 'sink');
  const storage = join(RUN, 'queues');
  mkdirSync(storage, { recursive: true });
  const collector = spawn(
    'taskset',
    [
      '-c', '0', OTELCOL!, `--config=${join(ROOT, 'otel-collector/config.yaml')}`,
      `--set=exporters::otlp_http/tempo::endpoint=http://${A.tempo}:4318`,
      `--set=exporters::otlp_http/loki::endpoint=http://${A.loki}:3100/otlp`,
      `--set=exporters::otlp_http/prometheus::endpoint=http://${A.prometheus}:9090/api/v1/otlp`,
    ],
    { env: { PATH: process.env.PATH, LISTEN_HOST: A.collector, OTELCOL_STORAGE_DIR: storage }, stdio: ['ignore', 'ignore', openSync(join(RUN, 'logs', 'otelcol.log'), 'w')] },
  );
  try {
    await waitFor(`http://${A.collector}:13133/`, 'collector');
    await sleep(2000);
    const shape = await shapePhase();
    // A log body that brings telemetrygen's records to the dice API's protobuf size (its records
    // carry a few attributes of their own, ~60 B).
    const logBody = 'x'.repeat(Math.max(16, Math.round(shape.bytesPerLogRecord - 60)));
    const phases: PhaseResult[] = [];
    phases.push(await collectorPhase('traces-saturation', { tracesPerS: 'max', logsPerS: 0 }, collector.pid!, sink.pid!, logBody));
    phases.push(await collectorPhase('logs-saturation', { tracesPerS: 0, logsPerS: 'max' }, collector.pid!, sink.pid!, logBody));
    // Requests/s at fixed rates: one trace (2 spans) a request, and the shape's log records.
    for (const rps of quick ? [1000] : [1000, 2000, 4000]) {
      phases.push(await collectorPhase(`mixed-${rps}rps`, { tracesPerS: rps, logsPerS: Math.round(rps * shape.logRecordsPerRequest) }, collector.pid!, sink.pid!, logBody));
    }
    const sat = (n: string) => phases.find((p) => p.name === n)!;
    const mixed = phases.filter((p) => p.name.startsWith('mixed-'));
    // CPU a request costs the collector at the fixed rates (each is 2 spans + the shape's logs): the
    // sizing divides by it. The highest fixed rate, where batches fill as in production.
    const top = mixed[mixed.length - 1]!;
    const requestsPerCpuSecond = (top.accepted.spans / 2) / top.collectorCpuSeconds;
    const result = {
      meta: {
        command: `node bench/collector/run.ts${quick ? ' --quick' : ''}`,
        date: new Date().toISOString(),
        seconds: Math.round((Date.now() - started) / 1000),
        machine: { nproc: Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()), cpu: /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?' },
        otelcol: OTELCOL,
        config: 'otel-collector/config.yaml, exporters pointed at the sinks with --set',
        layout: 'collector pinned to core 0 (taskset -c 0); telemetrygen, sinks and this script on core 1',
        sinks: 'bench/collector/sink.ts: gRPC (Tempo edge) and HTTP (Loki /otlp, Prometheus /api/v1/otlp) servers that answer at once and count bytes without decoding',
        telemetrygen: {
          path: TELEMETRYGEN,
          traces: `--child-spans 1 (a CLIENT parent and a SERVER child a trace), ${TRACE_ATTRS.length} span attributes (${TRACE_ATTRS.map((a) => a.split('=')[0]).join(', ')}), resource ${RESOURCE_ATTRS.map((a) => a.split('=')[0]).join(', ')}, ${GENERATORS.traces.processes} processes of ${GENERATORS.traces.workers} worker, batches of 512 (the SDK's batch processor default), gRPC`,
          logs: `body of ${logBody.length} characters, severity info, same resource, ${GENERATORS.logs.processes} processes of ${GENERATORS.logs.workers} workers, batches of 512, gRPC`,
        },
        phaseSeconds: PHASE_S,
        drainSeconds: DRAIN_S,
        loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
      },
      shape,
      phases,
      perCore: {
        spansPerS: sat('traces-saturation').itemsPerCpuSecond,
        logRecordsPerS: sat('logs-saturation').itemsPerCpuSecond,
        requestsPerS: requestsPerCpuSecond,
        basis: `spansPerS and logRecordsPerS: accepted at saturation per collector CPU-second (its one pinned core); requestsPerS: requests (2 spans + ${shape.logRecordsPerRequest.toFixed(2)} log records each, plus their span metrics) per collector CPU-second at ${top.name}`,
      },
    };
    writeFileSync(join(ROOT, 'docs/collector-throughput.json'), JSON.stringify(result, null, 2) + '\n');
    log(`wrote docs/collector-throughput.json: ${result.perCore.spansPerS.toFixed(0)} spans/s, ${result.perCore.logRecordsPerS.toFixed(0)} log records/s, ${requestsPerCpuSecond.toFixed(0)} requests/s per collector core`);
  } catch (error) {
    console.error(`collector log tail (${join(RUN, 'logs', 'otelcol.log')}):\n${readFileSync(join(RUN, 'logs', 'otelcol.log'), 'utf8').slice(-3000)}`);
    throw error;
  } finally {
    await stop(collector);
    await stop(sink);
  }
}

await main();
