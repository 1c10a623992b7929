// Parts 3 to 5 of the benchmark, on the native stack (scripts/native/stack.ts): how fresh the
// metrics in Prometheus are, what the stack's processes weigh idle and under load, and whether
// Prometheus's series grow with unknown paths and varied parameter values.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { usageOf } from './proc.ts';
import { paced } from './load.ts';
import type { CardinalityResults, CardinalityStep, FootprintResults, FreshnessResults, FreshnessSignal, ProcessFootprint, Settings } from './results.ts';
import { ROOT } from './servers.ts';
import { ALL_CPUS, ROLL } from './throughput.ts';

export interface StackHandle {
  runDir: string;
  endpoints: { loadBalancer: string; prometheus: string; replicas: { url: string }[] };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** pid and service name of every process of the native stack (its pids file). */
export function stackProcesses(stack: StackHandle): { name: string; pid: number }[] {
  return readFileSync(join(stack.runDir, 'pids'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, name] = line.split(' ');
      return { name: name!, pid: Number(pid) };
    });
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function promGet<T>(prometheus: string, path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${prometheus}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data: T };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${path} ${JSON.stringify(params)}: ${body.error}`);
  return body.data;
}

const promQuery = async (prometheus: string, query: string) =>
  (await promGet<{ result: PromSample[] }>(prometheus, '/api/v1/query', { query })).result;

// ---------------------------------------------------------------------------------------------
// Freshness

/** Request kinds that land in different series (route and status), so that each is alone in its series. */
const KINDS = [
  { path: '/roll?dice=1&sides=6', route: '/roll', status: '200' },
  { path: '/', route: '/', status: '200' },
  { path: '/roll?dice=0&sides=6', route: '/roll', status: '400' },
  { path: '/no-such-route', route: '', status: '404' },
] as const;

interface Sent {
  kind: number;
  /** 1-based position among the requests of its kind. */
  nth: number;
  /** 1-based position among all requests. */
  seq: number;
  traceId: string;
  responseAt: number;
  seen: Record<string, number | undefined>;
}

const randomHex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');

async function sendTraced(loadBalancer: string, path: string, expected: string): Promise<{ traceId: string; at: number }> {
  const traceId = randomHex(16);
  const res = await fetch(`${loadBalancer}${path}`, { headers: { traceparent: `00-${traceId}-${randomHex(8)}-01` } });
  await res.arrayBuffer();
  if (String(res.status) !== expected) throw new Error(`freshness: ${path} through the load balancer answered ${res.status}, expected ${expected}`);
  return { traceId, at: Date.now() };
}

const seconds = (duration: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(duration.trim());
  if (!m) throw new Error(`cannot read the duration "${duration}"`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as 'ms' | 's' | 'm'];
};

export function pipelineIntervals(): FreshnessResults['intervals'] {
  const collector = parseYaml(readFileSync(join(ROOT, 'otel-collector/config.yaml'), 'utf8')) as {
    receivers: { prometheus: { config: { scrape_configs: { scrape_interval: string }[] } } };
    connectors: { span_metrics: { metrics_flush_interval: string } };
    // Batches form after each exporter's persistent queue; the metrics that freshness measures
    // leave through the Prometheus exporter's.
    exporters: { 'otlp_http/prometheus': { sending_queue: { batch: { flush_timeout: string } } } };
  };
  const prometheus = parseYaml(readFileSync(join(ROOT, 'observability/prometheus/prometheus.yml'), 'utf8')) as {
    global: { scrape_interval: string };
    scrape_configs: { job_name: string; scrape_interval?: string }[];
  };
  const lb = prometheus.scrape_configs.find((c) => c.job_name === 'load-balancer');
  return {
    collectorScrapeS: seconds(collector.receivers.prometheus.config.scrape_configs[0]!.scrape_interval),
    spanMetricsFlushS: seconds(collector.connectors.span_metrics.metrics_flush_interval),
    batchTimeoutS: seconds(collector.exporters['otlp_http/prometheus'].sending_queue.batch.flush_timeout),
    prometheusLbScrapeS: seconds(lb?.scrape_interval ?? prometheus.global.scrape_interval),
    // scripts/native/stack.ts sets OTEL_BSP_SCHEDULE_DELAY=1000 on its replicas; compose keeps
    // the SDK default (5000 ms).
    bspDelayNativeMs: 1000,
  };
}

export async function runFreshness(stack: StackHandle, settings: Settings, log: (line: string) => void): Promise<FreshnessResults> {
  const { loadBalancer: lb, prometheus } = stack.endpoints;
  const intervals = pipelineIntervals();
  const flushS = intervals.spanMetricsFlushS;
  const POLL_MS = 200;
  const phaseStartS = Math.floor(Date.now() / 1000);
  const keyOf = (m: Record<string, string>) => `${m['http_route'] ?? ''} ${m['http_response_status_code'] ?? ''}`;
  const countsBy = async (query: string) => new Map((await promQuery(prometheus, query)).map((x) => [keyOf(x.metric), Number(x.value[1])]));
  const scrapedQuery = 'sum by (http_route, http_response_status_code) (http_server_request_duration_count{job="dice-api"})';
  const spanQuery = 'sum by (http_route, http_response_status_code) (traces_span_metrics_calls_total{service_name="dice-api", deployment_environment_name="native"})';
  const edgeQuery = 'sum(haproxy_frontend_http_responses_total{proxy="public"})';
  const exemplarIds = async () => {
    const data = await promGet<{ exemplars: { labels: Record<string, string>; timestamp: number }[] }[]>(prometheus, '/api/v1/query_exemplars', {
      query: 'traces_span_metrics_duration_seconds_bucket{service_name="dice-api"}',
      start: String(phaseStartS - 60),
      end: String(Math.ceil(Date.now() / 1000) + 60),
    });
    return new Map(data.flatMap((x) => x.exemplars.map((e) => [e.labels['trace_id'] ?? '', e.timestamp] as const)));
  };
  const keyOfKind = (kind: number) => `${KINDS[kind]!.route} ${KINDS[kind]!.status}`;
  const SIGNALS = ['scraped', 'span-metrics', 'exemplar', 'edge'] as const;

  /**
   * Polls Prometheus until every request in `sent` has been seen by every signal, or until
   * `tailMs` after the last response once `sending()` is false. Counters are compared with their
   * values before the requests: the nth request of a kind is in when its series is up by n.
   */
  const observe = async (sent: Sent[], sending: () => boolean, tailMs: number) => {
    const baseScraped = await countsBy(scrapedQuery);
    const baseSpan = await countsBy(spanQuery);
    const baseEdge = Number((await promQuery(prometheus, edgeQuery))[0]?.value[1] ?? 0);
    return async () => {
      while (sending() || sent.some((x) => SIGNALS.some((sig) => !x.seen[sig]))) {
        const polled = await Promise.all([
          countsBy(scrapedQuery),
          countsBy(spanQuery),
          promQuery(prometheus, edgeQuery).then((r) => Number(r[0]?.value[1] ?? 0)),
          exemplarIds(),
        ]).catch(() => undefined);
        const now = Date.now();
        if (polled) {
          const [scraped, span, edge, ids] = polled;
          for (const x of sent) {
            const key = keyOfKind(x.kind);
            if (!x.seen['scraped'] && (scraped.get(key) ?? 0) - (baseScraped.get(key) ?? 0) >= x.nth) x.seen['scraped'] = now;
            if (!x.seen['span-metrics'] && (span.get(key) ?? 0) - (baseSpan.get(key) ?? 0) >= x.nth) x.seen['span-metrics'] = now;
            if (!x.seen['edge'] && edge - baseEdge >= x.seq) x.seen['edge'] = now;
            if (!x.seen['exemplar'] && ids.has(x.traceId)) x.seen['exemplar'] = now;
          }
        }
        if (!sending() && sent.length > 0 && now - sent.at(-1)!.responseAt > tailMs) break;
        await sleep(POLL_MS);
      }
    };
  };

  // 1. A burst of one kind. It proves the pipeline works, gives the span-metrics flush phase
  //    (exemplars carry the flush time), and shows how many trace IDs of a burst survive.
  const burst: { traceId: string; at: number }[] = [];
  for (let i = 0; i < 5; i++) burst.push(await sendTraced(lb, KINDS[0].path, KINDS[0].status));
  log(`  freshness: warm-up burst of ${burst.length} requests sent; waiting for the pipeline`);
  let flushPhaseS = NaN;
  let kept = 0;
  const warmDeadline = Date.now() + 60_000;
  while (Date.now() < warmDeadline) {
    const ids = await exemplarIds();
    const found = burst.filter((b) => ids.has(b.traceId));
    const scraped = (await countsBy(scrapedQuery)).get(keyOfKind(0)) ?? 0;
    if (found.length > 0 && scraped >= burst.length) {
      flushPhaseS = ids.get(found[0]!.traceId)! % flushS;
      // One more flush, so that late exemplars of the burst have had their chance.
      await sleep((flushS + intervals.batchTimeoutS + 1) * 1000);
      const later = await exemplarIds();
      kept = burst.filter((b) => later.has(b.traceId)).length;
      break;
    }
    await sleep(500);
  }
  if (Number.isNaN(flushPhaseS)) throw new Error('freshness: the warm-up requests never reached Prometheus (span-metric exemplar and scraped counter) within 60 s; check the collector log in the stack run dir');
  log(`  freshness: pipeline up; span metrics flush at ${flushPhaseS.toFixed(3)} s past each ${flushS} s; ${kept} of ${burst.length} burst trace IDs kept as exemplars`);

  // 2. The first request of a series that does not exist yet (the other three kinds, never sent
  //    so far), timed like the others.
  const firsts: Sent[] = [];
  const watchFirsts = await observe(firsts, () => false, (2 * flushS + 25) * 1000);
  for (let kind = 1; kind < KINDS.length; kind++) {
    const { traceId, at } = await sendTraced(lb, KINDS[kind]!.path, KINDS[kind]!.status);
    firsts.push({ kind, nth: 1, seq: firsts.length + 1, traceId, responseAt: at, seen: {} });
  }
  await watchFirsts();
  log(`  freshness: first requests of new series seen after ${SIGNALS.map((sig) => `${sig} ${firsts.map((x) => (x.seen[sig] ? ((x.seen[sig]! - x.responseAt) / 1000).toFixed(1) : '–')).join('/')} s`).join(', ')}`);

  // 3. Every kind on every replica, so that the measured requests all land in existing series.
  for (const replica of stack.endpoints.replicas) {
    for (const kind of KINDS) await sendTraced(replica.url, kind.path, kind.status);
  }
  await sleep((2 * flushS + intervals.batchTimeoutS + 1) * 1000);

  // 4. The measured requests. Each flush window gets at most one request of each kind, at a
  //    random moment early enough that its span reaches the collector (after the SDK's batch
  //    delay) before the window closes, so that each is alone in its series at the flush.
  const sent: Sent[] = [];
  const perKind = KINDS.map(() => 0);
  let sending = true;
  const watch = await observe(sent, () => sending, (2 * flushS + 25) * 1000);
  const watching = watch();
  try {
    let windowStart = (Math.floor((Date.now() / 1000 - flushPhaseS) / flushS) + 1) * flushS + flushPhaseS;
    while (sent.length < settings.freshnessRequests) {
      const moments = KINDS.map((_, kind) => ({ kind, at: windowStart + 0.3 + Math.random() * (flushS - 2.5) })).sort((a, b) => a.at - b.at);
      for (const { kind, at } of moments) {
        if (sent.length >= settings.freshnessRequests) break;
        await sleep(Math.max(0, at * 1000 - Date.now()));
        const { traceId, at: responseAt } = await sendTraced(lb, KINDS[kind]!.path, KINDS[kind]!.status);
        perKind[kind]! += 1;
        sent.push({ kind, nth: perKind[kind]!, seq: sent.length + 1, traceId, responseAt, seen: {} });
      }
      windowStart += flushS;
      log(`  freshness: ${sent.length}/${settings.freshnessRequests} requests sent`);
    }
  } finally {
    sending = false;
  }
  await watching;

  const LABELS: Record<(typeof SIGNALS)[number], { label: string; path: string }> = {
    scraped: { label: 'App counter `http_server_request_duration_count`, scraped', path: 'app /metrics → collector scrape (10 s) → batch → OTLP → Prometheus' },
    'span-metrics': { label: 'Span-metrics counter `traces_span_metrics_calls_total`', path: 'span → SDK batch → collector span_metrics (flush 10 s) → batch → OTLP → Prometheus' },
    exemplar: { label: "Span-metrics exemplar with the request's trace ID", path: 'as above; exemplar on `traces_span_metrics_duration_seconds_bucket`' },
    edge: { label: 'Load-balancer counter `haproxy_frontend_http_responses_total`', path: 'HAProxy /metrics → Prometheus scrape (5 s)' },
  };
  const summarize = (requests: Sent[]): FreshnessSignal[] =>
    SIGNALS.map((id) => {
      const ms = requests.filter((x) => x.seen[id]).map((x) => x.seen[id]! - x.responseAt);
      return { id, label: LABELS[id].label, path: LABELS[id].path, ms, sent: requests.length, missing: requests.length - ms.length };
    });
  return {
    requests: sent.length,
    flushPhaseS,
    signals: summarize(sent),
    firstOfSeries: summarize(firsts),
    burst: { sent: burst.length, exemplarsKept: kept },
    pollIntervalMs: POLL_MS,
    intervals,
  };
}

// ---------------------------------------------------------------------------------------------
// Footprint

async function footprintOver(processes: { name: string; pid: number }[], seconds: number, during?: Promise<unknown>): Promise<ProcessFootprint[]> {
  const before = new Map(processes.map((p) => [p.pid, usageOf(p.pid)]));
  const maxRss = new Map(processes.map((p) => [p.pid, before.get(p.pid)!.rssBytes]));
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, end - performance.now()));
    for (const p of processes) maxRss.set(p.pid, Math.max(maxRss.get(p.pid)!, usageOf(p.pid).rssBytes));
  }
  await during;
  const wall = (performance.now() - started) / 1000;
  return processes.map((p) => {
    const after = usageOf(p.pid);
    return {
      name: p.name,
      pid: p.pid,
      cpuPercent: ((after.cpuSeconds - before.get(p.pid)!.cpuSeconds) / wall) * 100,
      rssBytes: maxRss.get(p.pid)!,
      peakRssBytes: after.peakRssBytes,
    };
  });
}

export async function runFootprintIdle(stack: StackHandle, settings: Settings): Promise<FootprintResults['idle']> {
  return { seconds: settings.footprintIdleS, processes: await footprintOver(stackProcesses(stack), settings.footprintIdleS) };
}

export async function runFootprintLoad(stack: StackHandle, settings: Settings): Promise<FootprintResults['load']> {
  const load = paced(`${stack.endpoints.loadBalancer}${ROLL}`, settings.footprintRate, settings.footprintLoadS, ALL_CPUS, { connections: 4 });
  const processes = await footprintOver(stackProcesses(stack), settings.footprintLoadS, load);
  const r = await load;
  return { seconds: settings.footprintLoadS, rate: settings.footprintRate, achievedRate: r.achievedRate, p99Ms: r.latencyMs.p99, processes };
}

// ---------------------------------------------------------------------------------------------
// Cardinality

async function headSeries(prometheus: string): Promise<number> {
  // The same number as the prometheus_tsdb_head_series gauge, read live instead of scraped.
  return (await promGet<{ headStats: { numSeries: number } }>(prometheus, '/api/v1/status/tsdb', {})).headStats.numSeries;
}

async function seriesNow(prometheus: string): Promise<Map<string, Record<string, string>>> {
  const now = Math.floor(Date.now() / 1000);
  const data = await promGet<Record<string, string>[]>(prometheus, '/api/v1/series', { 'match[]': '{__name__=~".+"}', start: String(now - 120), end: String(now) });
  return new Map(data.map((labels) => [JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))), labels]));
}

export async function runCardinality(stack: StackHandle, settings: Settings, log: (line: string) => void): Promise<CardinalityResults> {
  const { loadBalancer: lb, prometheus } = stack.endpoints;
  const steps: CardinalityStep[] = [];
  for (const [i, requests] of settings.cardinalityBatches.entries()) {
    const headBefore = await headSeries(prometheus);
    const before = await seriesNow(prometheus);
    const seconds = requests / settings.cardinalityRate;
    const r = await paced(`${lb}/`, settings.cardinalityRate, seconds, ALL_CPUS, { connections: 16, paths: 'unknown-and-valid' });
    log(`  cardinality: batch ${i + 1}: ${r.responses} requests (${JSON.stringify(r.statuses)}); waiting ${settings.cardinalitySettleS} s for scrapes and span-metric flushes`);
    await sleep(settings.cardinalitySettleS * 1000);
    const headAfter = await headSeries(prometheus);
    const after = await seriesNow(prometheus);
    const fresh = [...after].filter(([key]) => !before.has(key)).map(([, labels]) => labels);
    const groups = new Map<string, { metric: string; job: string; count: number; example: string }>();
    for (const labels of fresh) {
      const metric = labels['__name__'] ?? '';
      const job = labels['job'] ?? '';
      const group = groups.get(`${metric} ${job}`) ?? { metric, job, count: 0, example: '' };
      group.count += 1;
      group.example ||= Object.entries(labels)
        .filter(([k]) => !['__name__', 'job', 'collector_instance_id', 'otel_scope_name', 'otel_scope_version'].includes(k))
        .map(([k, v]) => `${k}="${v}"`)
        .join(', ');
      groups.set(`${metric} ${job}`, group);
    }
    steps.push({
      requests: r.responses,
      statuses: r.statuses,
      headSeriesBefore: headBefore,
      headSeriesAfter: headAfter,
      newSeries: [...groups.values()].sort((a, b) => b.count - a.count),
      goneSeries: [...before.keys()].filter((key) => !after.has(key)).length,
    });
    log(`  cardinality: batch ${i + 1}: head series ${headBefore} -> ${headAfter}; ${fresh.length} new series (${[...groups.values()].map((g) => `${g.metric}{job="${g.job}"} x${g.count}`).join(', ') || 'none'})`);
  }
  return { steps };
}
