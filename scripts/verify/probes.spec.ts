// The probes' reading of each backend's HTTP answers, against stubs that answer in the shapes the
// pinned APIs document (Prometheus /api/v1/query and /api/v1/query_exemplars; Tempo
// GET /api/v2/traces/<id>: 404 until the trace is found; Loki /loki/api/v1/query_range "streams").
// Tempo and Loki cannot run here (AGPL): against them, only `npm run test:compose` (with the real
// images) or a user's run shows more. The queries themselves are checked with the grammars
// Grafana's editors use (scripts/dashboards/query-grammars.ts).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logqlLabels, logqlProblems, promqlMetricNames } from '../dashboards/query-grammars.ts';
import { alertmanagerProbe, BadAnswer, exemplarProbe, EXEMPLAR_SERIES, logQuery, lokiProbe, metricProbe, REQUEST_COUNTER, tempoProbe } from './hops.ts';

type Handler = (url: URL, req: IncomingMessage) => { status: number; body: unknown };
let handler: Handler = () => ({ status: 404, body: '' });
const seen: URL[] = [];
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    seen.push(url);
    const { status, body } = handler(url, req);
    res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const [A, B] = ['0af7651916cd43dd8448eb211c80319c', '4bf92f3577b34da6a3ce929d0e0e4736'];
const vector = (v: string | undefined) => ({ status: 'success', data: { resultType: 'vector', result: v === undefined ? [] : [{ metric: {}, value: [1, v] }] } });

describe('the queries', () => {
  it("are valid LogQL and PromQL, on the labels and metrics the stack's dashboards use", () => {
    expect(logqlProblems(logQuery(A))).toEqual([]);
    expect(logqlLabels(logQuery(A))).toMatchObject({ stream: ['service_name'], filtered: ['trace_id'] });
    expect(promqlMetricNames(REQUEST_COUNTER)).toEqual(['http_server_request_duration_count']);
    expect(promqlMetricNames(EXEMPLAR_SERIES)).toEqual(['traces_span_metrics_duration_seconds_bucket']);
  });
});

describe('metricProbe', () => {
  it('waits until the counter grew by the requests sent', async () => {
    handler = () => ({ status: 200, body: vector(undefined) });
    expect(await metricProbe(base, 0, 5)()).toEqual({ pending: `no ${REQUEST_COUNTER} series in Prometheus yet` });
    handler = () => ({ status: 200, body: vector('14') });
    expect(await metricProbe(base, 10, 5)()).toMatchObject({ pending: expect.stringMatching(/at 14, waiting for 15/) });
    handler = () => ({ status: 200, body: vector('15') });
    expect(await metricProbe(base, 10, 5)()).toMatchObject({ done: expect.stringMatching(/went from 10 to 15/) });
    expect(seen.at(-1)!.searchParams.get('query')).toBe(REQUEST_COUNTER);
  });

  it("reports Prometheus's refusal as a bad answer", async () => {
    handler = () => ({ status: 400, body: { status: 'error', error: 'parse error' } });
    await expect(metricProbe(base, 0, 1)()).rejects.toBeInstanceOf(BadAnswer);
  });
});

describe('exemplarProbe', () => {
  it('finds an exemplar carrying a sent trace ID, and only that', async () => {
    const series = (traceId: string) => ({
      status: 'success',
      data: [{ seriesLabels: { http_route: '/roll', http_response_status_code: '200', le: '0.005' }, exemplars: [{ labels: { trace_id: traceId }, value: '0.003', timestamp: 1 }] }],
    });
    handler = () => ({ status: 200, body: series(B) });
    expect(await exemplarProbe(base, new Set([A]), Date.now())()).toEqual({ pending: '1 exemplars since the requests, none with a sent trace ID' });
    handler = () => ({ status: 200, body: series(A) });
    expect(await exemplarProbe(base, new Set([A]), Date.now())()).toEqual({
      done: `exemplar with trace ${A} on traces_span_metrics_duration_seconds_bucket{http_route="/roll", http_response_status_code="200", le="0.005"}`,
    });
    expect(seen.at(-1)!.pathname).toBe('/api/v1/query_exemplars');
  });
});

describe('tempoProbe', () => {
  it('asks for each trace by ID until all are found, and asks again only for the missing', async () => {
    const found = new Set([A]);
    handler = (url) => {
      const id = url.pathname.replace('/api/v2/traces/', '');
      return found.has(id) ? { status: 200, body: { trace: { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'dice-api' } }] } }] } } } : { status: 404, body: 'trace not found' };
    };
    const probe = tempoProbe(base, [A, B]);
    expect(await probe()).toEqual({ pending: `1 of 2 traces found by ID, e.g. not ${B}` });
    seen.length = 0;
    found.add(B);
    expect(await probe()).toEqual({ done: `all 2 traces found by ID (${base}/api/v2/traces/<id>)` });
    expect(seen.map((u) => u.pathname)).toEqual([`/api/v2/traces/${B}`]);
  });

  it('calls a trace without a span of the dice API a bad answer', async () => {
    handler = () => ({ status: 200, body: { trace: { resourceSpans: [] } } });
    await expect(tempoProbe(base, [A])()).rejects.toThrow(/has no span of service.name "dice-api"/);
  });
});

describe('lokiProbe', () => {
  it('counts log lines per trace ID with the trace-to-logs query', async () => {
    handler = (url) => {
      const q = url.searchParams.get('query') ?? '';
      const lines = q.includes(A) ? [['1', '{"message":"request"}'], ['2', '{"message":"rolled"}']] : [];
      return { status: 200, body: { status: 'success', data: { resultType: 'streams', result: lines.length ? [{ stream: { service_name: 'dice-api' }, values: lines }] : [] } } };
    };
    expect(await lokiProbe(base, [A, B], Date.now())()).toEqual({ pending: `log lines for 1 of 2 traces, e.g. none yet for ${logQuery(B)}` });
    expect(await lokiProbe(base, [A], Date.now())()).toEqual({ done: `2 log lines for all 1 traces (${logQuery('<id>')})` });
    const asked = seen.at(-1)!;
    expect(asked.pathname).toBe('/loki/api/v1/query_range');
    expect(asked.searchParams.get('query')).toBe(`{service_name="dice-api"} | trace_id="${A}"`);
    expect(asked.searchParams.get('start')).toMatch(/^\d{19}$/); // nanoseconds
  });
});

describe('alertmanagerProbe', () => {
  it('needs Alertmanager ready and Prometheus sending it alerts', async () => {
    let active: { url: string }[] = [];
    handler = (url) => {
      if (url.pathname === '/-/ready') return { status: 200, body: 'OK' };
      if (url.pathname === '/api/v2/status') return { status: 200, body: { versionInfo: { version: '0.34.0' }, cluster: { status: 'disabled' } } };
      if (url.pathname === '/api/v1/alertmanagers') return { status: 200, body: { status: 'success', data: { activeAlertmanagers: active, droppedAlertmanagers: [] } } };
      return { status: 200, body: vector('1') };
    };
    expect(await alertmanagerProbe(base, base)()).toEqual({ pending: 'Prometheus has discovered no Alertmanager to send alerts to (/api/v1/alertmanagers)' });
    active = [{ url: 'http://alertmanager:9093/api/v2/alerts' }];
    expect(await alertmanagerProbe(base, base)()).toEqual({
      done: 'ready, version 0.34.0, cluster disabled; Prometheus sends alerts to http://alertmanager:9093/api/v2/alerts',
    });
    expect(await alertmanagerProbe(base, undefined)()).toMatchObject({ done: expect.stringMatching(/^up in Prometheus \(up\{job="alertmanager"\} == 1; its port is not published/) });
  });
});
