import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadAnswer, httpGet, newTraceId, pollHop, recorderProbe, traceparent, Unreachable, unreachableReason } from './hops.ts';

/** A port where nothing listens: bound, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('reaching a URL', () => {
  let server: Server;
  let live: string;
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(503).end('starting'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    live = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('says in one line that nothing answers, and why', async () => {
    const port = await deadPort();
    const reason = await unreachableReason(`http://127.0.0.1:${port}/-/ready`);
    expect(reason).toBe(`http://127.0.0.1:${port} does not answer: connection refused`);
    await expect(httpGet(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(Unreachable);
  });

  it('counts any HTTP answer, even a 503, as reachable', async () => {
    expect(await unreachableReason(`${live}/ready`)).toBeUndefined();
    expect(await httpGet(`${live}/ready`)).toEqual({ status: 503, text: 'starting' });
  });
});

describe('pollHop', () => {
  const since = Date.now();
  it('returns what was found, timed from the last request', async () => {
    const o = await pollHop(async () => ({ done: 'found' }), since, Date.now() + 5_000, 10);
    expect(o).toMatchObject({ kind: 'ok', detail: 'found' });
  });

  it('times out with the last thing seen', async () => {
    let n = 0;
    const o = await pollHop(async () => ({ pending: `seen ${++n}` }), Date.now(), Date.now() + 100, 10);
    expect(o.kind).toBe('timeout');
    expect(o.kind === 'timeout' && o.seen).toBe(`seen ${n}`);
  });

  it('stops at once when the backend is unreachable', async () => {
    let calls = 0;
    const o = await pollHop(async () => (calls++, Promise.reject(new Unreachable('refused'))), Date.now(), Date.now() + 10_000, 10);
    expect(o).toMatchObject({ kind: 'error', reason: 'refused' });
    expect(calls).toBe(1);
  });

  it('retries a bad answer (a backend still starting) and reports it when it lasts', async () => {
    let calls = 0;
    const recovered = await pollHop(async () => (++calls < 3 ? Promise.reject(new BadAnswer('HTTP 503')) : { done: 'up' }), Date.now(), Date.now() + 5_000, 10);
    expect(recovered).toMatchObject({ kind: 'ok', detail: 'up' });
    const lasting = await pollHop(async () => Promise.reject(new BadAnswer('HTTP 500: boom')), Date.now(), Date.now() + 100, 10);
    expect(lasting).toMatchObject({ kind: 'error', reason: 'HTTP 500: boom' });
  });
});

describe('recorderProbe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verify-recorder-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const [a, b] = [newTraceId(), newTraceId()];
  const span = (traceId: string, kind = 2, service = 'dice-api') => JSON.stringify({ at: 1, traceId, spanId: '01', kind, name: 'GET /roll', service });

  it('finds the SERVER span of every sent trace, and only of the dice API', async () => {
    const probe = recorderProbe(dir, 'spans', [a, b]);
    expect(await probe()).toEqual({ pending: `the SERVER span of 0 of 2 traces in ${dir}/spans.jsonl` });
    appendFileSync(join(dir, 'spans.jsonl'), [span(a), span(b, 1), span(b, 2, 'other')].join('\n') + '\n');
    expect(await probe()).toEqual({ pending: `the SERVER span of 1 of 2 traces in ${dir}/spans.jsonl` });
    appendFileSync(join(dir, 'spans.jsonl'), span(b) + '\n');
    expect(await probe()).toEqual({ done: `the SERVER span of all 2 traces delivered to the OTLP recorder (${dir}/spans.jsonl)` });
  });

  it('finds log records by trace ID', async () => {
    appendFileSync(join(dir, 'logs.jsonl'), JSON.stringify({ at: 1, traceId: a, spanId: '01', service: 'dice-api', severity: 'info', body: 'request' }) + '\n');
    expect(await recorderProbe(dir, 'logs', [a])()).toMatchObject({ done: expect.stringMatching(/log records of all 1 traces/) });
  });

  it('calls a missing directory unreachable', async () => {
    await expect(recorderProbe(join(dir, 'nope'), 'spans', [a])()).rejects.toThrow(`no OTLP recorder output at ${dir}/nope (no such directory)`);
  });
});

describe('trace IDs', () => {
  it('makes valid, sampled W3C traceparent headers', () => {
    const id = newTraceId();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(id).not.toMatch(/^0+$/);
    expect(traceparent(id)).toMatch(new RegExp(`^00-${id}-[0-9a-f]{16}-01$`));
  });
});
