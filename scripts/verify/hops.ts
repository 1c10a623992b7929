// The checks of `npm run verify`, one per hop: each observes one backend's HTTP API (or the OTLP
// recorder's files) and returns an Outcome for scripts/verify/verdict.ts to judge. Nothing here
// throws at the caller: an unreachable URL is an outcome, said in one line.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readRecorded } from '../../test/support/otlp-recorder.ts';
import type { Outcome } from './verdict.ts';

/** A request sent through the balancer under a known trace ID. */
export interface Sent {
  traceId: string;
  path: string;
  status: number;
}

/** The replicas' own request counter, as the collector scrapes it (http.server.request.duration). */
// HEAD, not GET: compose's traffic generator sends only GETs, so HEAD /roll has series of its own.
// Then the counter grows by exactly these requests, and the span-metrics exemplars of its buckets
// are theirs (with 20 GETs a second beside them, 5 GETs' exemplars were outnumbered and not found).
export const PROBE_METHOD = 'HEAD';
export const REQUEST_COUNTER = `sum(http_server_request_duration_count{job="dice-api", http_route="/roll", http_request_method="${PROBE_METHOD}"})`;
/** The span-metrics histogram whose exemplars point at traces (otel-collector/config.yaml: span_metrics). */
export const EXEMPLAR_SERIES = `traces_span_metrics_duration_seconds_bucket{service_name="dice-api", http_request_method="${PROBE_METHOD}"}`;
/** The replicas' OTLP resource service.name; Loki's `service_name` stream label. */
export const SERVICE = 'dice-api';

/** A URL that does not answer over HTTP at all: stops its hop at once. */
export class Unreachable extends Error {}
/** An HTTP answer that is not what the API promises: kept while polling, reported if it persists. */
export class BadAnswer extends Error {}

const REQUEST_TIMEOUT_MS = 5000;

/** One line for a failed fetch: what Node's undici puts in `cause` is the useful part. */
export function describeFetchError(error: unknown, timeoutMs = REQUEST_TIMEOUT_MS): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: { code?: string }[] } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = e?.cause?.code ?? e?.cause?.errors?.[0]?.code;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host not found (DNS)',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset',
    UND_ERR_SOCKET: 'connection closed',
  };
  if (code && known[code]) return known[code];
  return code ?? e?.cause?.message ?? e?.message ?? String(error);
}

export async function httpGet(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, { method, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    throw new Unreachable(`${new URL(url).origin} does not answer: ${describeFetchError(error)}`);
  }
  return { status: res.status, text: await res.text() };
}

async function getJson<T>(url: string, what: string): Promise<T> {
  const { status, text } = await httpGet(url);
  if (status !== 200) throw new BadAnswer(`${what} answered HTTP ${status}: ${text.trim().slice(0, 200)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new BadAnswer(`${what} answered something that is not JSON (is ${new URL(url).origin} really ${what}?): ${text.trim().slice(0, 100)}`);
  }
}

/** Reachability of a base URL: undefined when anything answers over HTTP, else why not. */
export async function unreachableReason(url: string): Promise<string | undefined> {
  try {
    await httpGet(url);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export const newTraceId = (): string => {
  for (;;) {
    const id = randomBytes(16).toString('hex');
    if (!/^0+$/.test(id)) return id; // all-zero is the W3C "invalid" trace ID
  }
};
export const traceparent = (traceId: string) => `00-${traceId}-${randomBytes(8).toString('hex')}-01`;

/** Hop 1: `count` HEAD /roll requests through the balancer, each under a fresh sampled trace ID. */
export async function sendThroughBalancer(lb: string, count: number): Promise<{ outcome: Outcome; sent: Sent[]; lastAt: number }> {
  const started = Date.now();
  const sent: Sent[] = [];
  for (let i = 0; i < count; i++) {
    const traceId = newTraceId();
    const path = `/roll?dice=${1 + (i % 3)}&sides=20`;
    let answer: { status: number; text: string };
    try {
      answer = await httpGet(`${lb}${path}`, { traceparent: traceparent(traceId) }, PROBE_METHOD);
    } catch (error) {
      return { outcome: { kind: 'error', afterMs: Date.now() - started, reason: (error as Error).message }, sent, lastAt: Date.now() };
    }
    if (answer.status !== 200) {
      const why = answer.status === 503 ? ' (no replica behind it is ready: HAProxy answers 503 then)' : '';
      return {
        outcome: { kind: 'error', afterMs: Date.now() - started, reason: `${PROBE_METHOD} ${path} answered HTTP ${answer.status}${why}: ${answer.text.trim().slice(0, 160)}` },
        sent,
        lastAt: Date.now(),
      };
    }
    sent.push({ traceId, path, status: answer.status });
  }
  const shown = sent.length > 2 ? `${sent[0]!.traceId}, ${sent[1]!.traceId}, ...` : sent.map((s) => s.traceId).join(', ');
  return {
    outcome: { kind: 'ok', afterMs: Date.now() - started, detail: `${sent.length} ${PROBE_METHOD} /roll answered 200 through ${lb}, trace IDs ${shown}` },
    sent,
    lastAt: Date.now(),
  };
}

/** A probe's answer on one poll: done (with what was found) or not yet (with how far it got). */
export type Probe = { done: string } | { pending: string };

/**
 * Polls `probe` until done or `deadline`; times are from `since` (the last request). Unreachable
 * ends at once; a bad answer is retried (a backend still starting) and reported if it lasts.
 */
export async function pollHop(probe: () => Promise<Probe>, since: number, deadline: number, intervalMs = 1000): Promise<Outcome> {
  let seen = 'nothing seen yet';
  let bad: string | undefined;
  for (;;) {
    try {
      const p = await probe();
      if ('done' in p) return { kind: 'ok', afterMs: Date.now() - since, detail: p.done };
      seen = p.pending;
      bad = undefined;
    } catch (error) {
      if (error instanceof Unreachable) return { kind: 'error', afterMs: Date.now() - since, reason: error.message };
      if (!(error instanceof BadAnswer)) throw error;
      bad = error.message;
    }
    if (Date.now() + intervalMs > deadline) {
      return bad ? { kind: 'error', afterMs: Date.now() - since, reason: bad } : { kind: 'timeout', waitedMs: Date.now() - since, seen };
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

interface PromResult {
  status: string;
  error?: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

export async function promScalar(prometheus: string, query: string): Promise<number | undefined> {
  const body = await getJson<PromResult>(`${prometheus}/api/v1/query?${new URLSearchParams({ query })}`, 'Prometheus');
  if (body.status !== 'success') throw new BadAnswer(`Prometheus refused ${query}: ${body.error}`);
  const v = body.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

/** Hop 2: the replicas' request counter grew by at least the requests sent. */
export function metricProbe(prometheus: string, before: number, count: number): () => Promise<Probe> {
  return async () => {
    const now = await promScalar(prometheus, REQUEST_COUNTER);
    if (now === undefined) return { pending: `no ${REQUEST_COUNTER} series in Prometheus yet` };
    if (now >= before + count) return { done: `${REQUEST_COUNTER} went from ${before} to ${now} (>= ${before} + ${count} sent)` };
    return { pending: `${REQUEST_COUNTER} at ${now}, waiting for ${before + count} (${before} before + ${count} sent)` };
  };
}

interface ExemplarResult {
  status: string;
  error?: string;
  data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string; timestamp: number }[] }[];
}

/** Hop 3: a span-metrics exemplar in Prometheus carries one of the sent trace IDs. */
export function exemplarProbe(prometheus: string, ids: Set<string>, sentAtMs: number): () => Promise<Probe> {
  return async () => {
    const params = new URLSearchParams({
      query: EXEMPLAR_SERIES,
      start: String(Math.floor(sentAtMs / 1000) - 60),
      end: String(Math.ceil(Date.now() / 1000) + 60),
    });
    const body = await getJson<ExemplarResult>(`${prometheus}/api/v1/query_exemplars?${params}`, 'Prometheus');
    if (body.status !== 'success') throw new BadAnswer(`Prometheus refused the exemplar query: ${body.error}`);
    const all = body.data.flatMap((series) => series.exemplars.map((e) => ({ series: series.seriesLabels, traceId: e.labels['trace_id'] ?? '' })));
    const ours = all.find((e) => ids.has(e.traceId));
    if (ours) {
      const where = ['http_route', 'http_response_status_code', 'le'].map((k) => `${k}="${ours.series[k] ?? ''}"`).join(', ');
      return { done: `exemplar with trace ${ours.traceId} on traces_span_metrics_duration_seconds_bucket{${where}}` };
    }
    return { pending: all.length === 0 ? `no exemplar of ${EXEMPLAR_SERIES} since the requests` : `${all.length} exemplars since the requests, none with a sent trace ID` };
  };
}

/** Hop 4 (Tempo): every sent trace is found by ID, with a span of the dice API. */
export function tempoProbe(tempo: string, ids: string[]): () => Promise<Probe> {
  const found = new Set<string>();
  return async () => {
    for (const id of ids.filter((x) => !found.has(x))) {
      const { status, text } = await httpGet(`${tempo}/api/v2/traces/${id}`);
      if (status === 404) continue;
      if (status !== 200) throw new BadAnswer(`Tempo answered HTTP ${status} for trace ${id}: ${text.trim().slice(0, 200)}`);
      if (!text.includes(`"${SERVICE}"`)) throw new BadAnswer(`Tempo's trace ${id} has no span of service.name "${SERVICE}": ${text.slice(0, 200)}`);
      found.add(id);
    }
    if (found.size === ids.length) return { done: `all ${ids.length} traces found by ID (${tempo}/api/v2/traces/<id>)` };
    return { pending: `${found.size} of ${ids.length} traces found by ID, e.g. not ${ids.find((x) => !found.has(x))}` };
  };
}

interface LokiResult {
  status: string;
  data: { result: { stream: Record<string, string>; values: [string, string][] }[] };
}

/** The LogQL the Grafana trace-to-logs link runs (observability/grafana/provisioning/datasources). */
export const logQuery = (traceId: string) => `{service_name="${SERVICE}"} | trace_id="${traceId}"`;

/** Hop 5 (Loki): every sent trace has log lines under its trace_id. */
export function lokiProbe(loki: string, ids: string[], sentAtMs: number): () => Promise<Probe> {
  const lines = new Map<string, number>();
  return async () => {
    for (const id of ids.filter((x) => !lines.has(x))) {
      const params = new URLSearchParams({
        query: logQuery(id),
        start: String(BigInt(sentAtMs - 300_000) * 1_000_000n),
        end: String(BigInt(Date.now() + 60_000) * 1_000_000n),
        limit: '100',
      });
      const body = await getJson<LokiResult>(`${loki}/loki/api/v1/query_range?${params}`, 'Loki');
      const count = body.data.result.reduce((n, stream) => n + stream.values.length, 0);
      if (count > 0) lines.set(id, count);
    }
    const total = [...lines.values()].reduce((a, b) => a + b, 0);
    if (lines.size === ids.length) return { done: `${total} log lines for all ${ids.length} traces (${logQuery('<id>')})` };
    return { pending: `log lines for ${lines.size} of ${ids.length} traces, e.g. none yet for ${logQuery(ids.find((x) => !lines.has(x))!)}` };
  };
}

/** Hops 4 and 5 with the OTLP recorder in place of Tempo and Loki: what it wrote, by trace ID. */
export function recorderProbe(dir: string, signal: 'spans' | 'logs', ids: string[]): () => Promise<Probe> {
  const file = join(dir, `${signal}.jsonl`);
  return async () => {
    if (!existsSync(dir)) throw new Unreachable(`no OTLP recorder output at ${dir} (no such directory)`);
    const recorded = readRecorded(dir);
    const ofOurs =
      signal === 'spans'
        ? recorded.spans.filter((x) => x.kind === 2 && x.service === SERVICE && ids.includes(x.traceId)).map((x) => x.traceId)
        : recorded.logs.filter((x) => x.service === SERVICE && ids.includes(x.traceId)).map((x) => x.traceId);
    const got = new Set(ofOurs);
    const what = signal === 'spans' ? 'SERVER span' : 'log records';
    if (got.size === ids.length) return { done: `the ${what} of all ${ids.length} traces delivered to the OTLP recorder (${file})` };
    return { pending: `the ${what} of ${got.size} of ${ids.length} traces in ${file}` };
  };
}

interface AlertmanagersResult {
  status: string;
  data: { activeAlertmanagers: { url: string }[]; droppedAlertmanagers: { url: string }[] };
}

/** Hop 6: Alertmanager ready (directly when it has a URL) and Prometheus sending it alerts. */
export function alertmanagerProbe(prometheus: string, alertmanager: string | undefined): () => Promise<Probe> {
  return async () => {
    const said: string[] = [];
    if (alertmanager) {
      const ready = await httpGet(`${alertmanager}/-/ready`);
      if (ready.status !== 200) return { pending: `${alertmanager}/-/ready answered HTTP ${ready.status}` };
      const status = await getJson<{ versionInfo?: { version?: string }; cluster?: { status?: string } }>(`${alertmanager}/api/v2/status`, 'Alertmanager');
      said.push(`ready, version ${status.versionInfo?.version ?? '?'}, cluster ${status.cluster?.status ?? '?'}`);
    } else {
      // Compose does not publish Alertmanager's port; Prometheus scrapes it (job "alertmanager").
      const up = await promScalar(prometheus, 'max(up{job="alertmanager"})');
      if (up !== 1) return { pending: up === undefined ? 'Prometheus has not scraped Alertmanager yet' : 'Prometheus scrapes Alertmanager as down (up == 0)' };
      said.push('up in Prometheus (up{job="alertmanager"} == 1; its port is not published, so checked through Prometheus)');
    }
    const am = await getJson<AlertmanagersResult>(`${prometheus}/api/v1/alertmanagers`, 'Prometheus');
    const active = am.data.activeAlertmanagers.map((a) => a.url);
    if (active.length === 0) return { pending: 'Prometheus has discovered no Alertmanager to send alerts to (/api/v1/alertmanagers)' };
    said.push(`Prometheus sends alerts to ${active.join(', ')}`);
    return { done: said.join('; ') };
  };
}
