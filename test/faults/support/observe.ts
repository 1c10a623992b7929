// What the fault tests read and do: the stack's control endpoint (test/faults/support/global-setup.ts),
// a process's resident memory from /proc, Prometheus text expositions scraped directly (the
// collector's, a replica's, HAProxy's: they answer while Prometheus is down), and raw samples
// from Prometheus with their own timestamps, to tell when a data point was produced.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FaultTargets } from './global-setup.ts';
import type { Sample } from './open-loop.ts';
import { readRecorded } from '../../support/otlp-recorder.ts';

import { waitFor } from '../../e2e/support/poll.ts';

export { promQuery, waitFor } from '../../e2e/support/poll.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// --- the stack --------------------------------------------------------------------------------

export function controlOf(f: FaultTargets) {
  const post = async (path: string) => {
    const res = await fetch(`${f.control}${path}`, { method: 'POST' });
    if (!res.ok) throw new Error(`control POST ${path}: ${res.status} ${await res.text()}`);
  };
  return {
    stop: (service: string) => post(`/stop/${service}`),
    start: (service: string) => post(`/start/${service}`),
    signal: (service: string, signal: NodeJS.Signals) => post(`/signal/${service}/${signal}`),
    move: (service: string, address: string) => post(`/move/${service}/${address}`),
    pid: async (service: string) => {
      const res = await fetch(`${f.control}/pid/${service}`);
      if (!res.ok) throw new Error(`control GET /pid/${service}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { pid: number }).pid;
    },
  };
}

/** The service's log as written since `offset` (a byte offset from logSize). */
export const logSince = (f: FaultTargets, service: string, offset: number) =>
  readFileSync(join(f.runDir, 'logs', `${service}.log`)).subarray(offset).toString('utf8');
export const logSize = (f: FaultTargets, service: string) => statSync(join(f.runDir, 'logs', `${service}.log`)).size;

export const isRunning = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

/** VmRSS of a process in MiB, or undefined once it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

export interface RssSampler {
  /** Peak VmRSS in MiB of each process among the samples taken in [from, to). */
  peak(name: string, from: number, to: number): number;
  last(name: string): number;
  stop(): void;
}

/** Reads VmRSS of each named process every `everyMs`. */
export function sampleRss(pids: Record<string, number>, everyMs = 1000): RssSampler {
  const samples: { at: number; name: string; mib: number }[] = [];
  const take = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const mib = rssMiB(pid);
      if (mib !== undefined) samples.push({ at: Date.now(), name, mib });
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    peak: (name, from, to) => Math.max(...samples.filter((s) => s.name === name && s.at >= from && s.at < to).map((s) => s.mib)),
    last: (name) => samples.filter((s) => s.name === name).at(-1)?.mib ?? NaN,
    stop: () => clearInterval(timer),
  };
}

// --- Prometheus text expositions, scraped directly ---------------------------------------------

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseExposition(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    series.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return series;
}

export async function scrape(url: string): Promise<Series[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return parseExposition(await res.text());
}

/**
 * The sum of the series named `name` (with or without the `_total` suffix, which some exporters
 * add and others do not) whose labels match `where`; a label given as null must be absent.
 */
export function sumOf(series: Series[], name: string, where: Record<string, string | null> = {}): number {
  return series
    .filter((s) => s.name === name || s.name === `${name}_total`)
    .filter((s) => Object.entries(where).every(([k, v]) => (v === null ? s.labels[k] === undefined : s.labels[k] === v)))
    .reduce((sum, s) => sum + s.value, 0);
}

// --- Prometheus, by the timestamps of the data points ------------------------------------------

export interface RawSeries {
  labels: Record<string, string>;
  /** [epoch ms, value], oldest first. */
  points: [number, number][];
}

/** Every stored data point of `selector` with a timestamp in (to - lookback, to]. */
export async function rawPoints(prometheus: string, selector: string, toMs: number, lookbackMs: number): Promise<RawSeries[]> {
  const query = `${selector}[${Math.ceil(lookbackMs / 1000)}s]`;
  const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query, time: (toMs / 1000).toFixed(3) })}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${query}: ${body.error}`);
  return body.data.result.map((r) => ({ labels: r.metric, points: r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)]) }));
}

const keyOf = (labels: Record<string, string>) =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== '__name__').sort(([a], [b]) => a.localeCompare(b)));

/**
 * The last value of each series of a counter as of `atMs`, looking back 15 minutes: with the
 * collector's own id among the labels, a restarted collector starts new series, and the old ones
 * keep their last value here instead of dropping out of a 5-minute lookback.
 */
export async function counterSnapshot(prometheus: string, selector: string, atMs = Date.now()): Promise<Map<string, number>> {
  const series = await rawPoints(prometheus, selector, atMs, 15 * 60_000);
  return new Map(series.map((s) => [keyOf(s.labels), s.points.at(-1)![1]]));
}

/** How much a counter grew between two snapshots, over all its series (new ones count from 0). */
export function growth(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [key, value] of after) total += value - (before.get(key) ?? 0);
  return total;
}

/** Waits until a counter stops growing over one flush interval of its source; returns its snapshot. */
export async function counterSettled(prometheus: string, selector: string, flushMs: number) {
  let previous = await counterSnapshot(prometheus, selector);
  return waitFor(`${selector} to settle (no growth over ${flushMs / 1000} s)`, async () => {
    await sleep(flushMs + 2000);
    const now = await counterSnapshot(prometheus, selector);
    const settled = growth(previous, now) === 0;
    previous = now;
    return settled ? now : undefined;
  }, { timeoutMs: 90_000, intervalMs: 0 });
}

// --- reporting ---------------------------------------------------------------------------------

/** Prints a test's figures as one block, so that they read as a table in the run's output. */
export function printFigures(title: string, rows: [string, string | number][]) {
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n── ${title}\n${rows.map(([k, v]) => `   ${k.padEnd(width)}  ${v}`).join('\n')}\n`);
}

/** Waits until every service answers its readiness probe and the balancer serves through both replicas. */
export async function stackHealthy(f: FaultTargets): Promise<void> {
  const e = f.endpoints;
  const probes: [string, string][] = [
    ['collector', e.collectorHealth],
    ['prometheus', `${e.prometheus}/-/ready`],
    ...e.replicas.map((r): [string, string] => [r.name, `${r.url}/health/ready`]),
    ['load balancer', `${e.loadBalancer}/health/ready`], // not traced: adds no span to count
  ];
  for (const [name, url] of probes) {
    await waitFor(`${name} ready (${url})`, async () => ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined), { timeoutMs: 60_000 });
  }
  await waitFor('HAProxy sees both replicas UP', async () => {
    const lb = await scrape(e.loadBalancerMetrics);
    const up = e.replicas.every((r) => sumOf(lb, 'haproxy_server_status', { proxy: 'dice-api', server: r.name, state: 'UP' }) === 1);
    return up ? true : undefined;
  }, { timeoutMs: 30_000 });
}

// --- what reached the edge of Tempo and Loki ---------------------------------------------------

/**
 * The answered requests whose SERVER span, or whose access-log record, has not (yet) reached the
 * recording stand-in for Tempo's and Loki's network edge (test/support/otlp-recorder.ts), by trace
 * ID; and when the last of the others arrived there.
 */
export function undeliveredToEdge(f: FaultTargets, samples: readonly Sample[]) {
  const { spans, logs } = readRecorded(f.otlpRecorderDir);
  const spanAt = new Map<string, number>();
  for (const s of spans) if (s.kind === 2 && s.service === 'dice-api' && !spanAt.has(s.traceId)) spanAt.set(s.traceId, s.at);
  const logAt = new Map<string, number>();
  for (const l of logs) if (l.body === 'request' && l.service === 'dice-api' && !logAt.has(l.traceId)) logAt.set(l.traceId, l.at);
  const answered = samples.filter((s) => s.status > 0);
  return {
    answered: answered.length,
    spans: answered.filter((s) => !spanAt.has(s.traceId)),
    logs: answered.filter((s) => !logAt.has(s.traceId)),
    lastArrival: Math.max(...answered.map((s) => Math.max(spanAt.get(s.traceId) ?? 0, logAt.get(s.traceId) ?? 0))),
    /** Same span delivered more than once (a retry after an acknowledged export was lost). */
    duplicateSpans: spans.length - new Set(spans.map((s) => `${s.traceId}/${s.spanId}`)).size,
  };
}

/** Waits until every answered request's SERVER span and access-log record reached the edge. */
export async function allDeliveredToEdge(f: FaultTargets, samples: readonly Sample[], timeoutMs = 120_000) {
  return waitFor('every request\'s SERVER span and access-log record at the Tempo and Loki edge', async () => {
    const u = undeliveredToEdge(f, samples);
    if (u.spans.length + u.logs.length > 0) {
      throw new Error(`of ${u.answered} answered requests, ${u.spans.length} SERVER spans missing (e.g. ${u.spans[0]?.traceId}) and ${u.logs.length} access logs (e.g. ${u.logs[0]?.traceId})`);
    }
    return u;
  }, { timeoutMs, intervalMs: 1000 });
}

/**
 * How the edge recovered: when the first SERVER span and the first access-log record (any
 * request's) arrived after it was started again, and when the last of those of the requests sent
 * while it was down (`backlog`) arrived, per signal (the backlog's drain). In ms from `readyAt`, when
 * its readiness probe first answered: it listens on both ports before that (otlp-recorder.ts), so an
 * arrival between `startedAt` (the start requested) and `readyAt` counts, as a figure below 0.
 */
export function edgeRecovery(f: FaultTargets, backlog: readonly Sample[], startedAt: number, readyAt: number) {
  const { spans, logs } = readRecorded(f.otlpRecorderDir);
  const server = spans.filter((s) => s.kind === 2 && s.service === 'dice-api');
  const access = logs.filter((l) => l.body === 'request' && l.service === 'dice-api');
  const ids = new Set(backlog.filter((s) => s.status > 0).map((s) => s.traceId));
  const first = (rows: readonly { at: number }[]) => Math.min(...rows.filter((r) => r.at >= startedAt).map((r) => r.at)) - readyAt;
  const last = (rows: readonly { at: number; traceId: string }[]) => Math.max(...rows.filter((r) => ids.has(r.traceId)).map((r) => r.at)) - readyAt;
  return { firstSpanMs: first(server), firstLogMs: first(access), spansDrainedMs: last(server), logsDrainedMs: last(access) };
}
