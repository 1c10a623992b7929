import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exported } from './support/telemetry-harness.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const server = (t: TestApp) => t.app.getHttpServer();
const TRACEPARENT = (traceId: string) => `00-${traceId}-00f067aa0ba902b7-01`;

function serverSpanOf(traceId: string): ReadableSpan {
  const spans = exported.spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const serverSpans = spans.filter((s) => s.kind === SpanKind.SERVER);
  expect(serverSpans, `SERVER spans of trace ${traceId}: ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
  return serverSpans[0]!;
}

async function scrape(t: TestApp): Promise<string> {
  const res = await request(server(t)).get('/metrics').expect(200);
  return res.text;
}

// Runtime series (a GC kind seen for the first time) appear on their own; requests cannot add them.
const RUNTIME_SCOPE = 'otel_scope_name="@opentelemetry/instrumentation-runtime-node"';

function seriesOf(exposition: string): string[] {
  return exposition
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#') && !line.includes(RUNTIME_SCOPE))
    .map((line) => line.slice(0, line.lastIndexOf(' ')));
}

describe('telemetry of a request', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());
  beforeEach(() => {
    exported.spans.reset();
    exported.logs.reset();
  });

  it('a roll yields a SERVER span with route and status, the roll span as its child, and a correlated access log over OTLP', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await request(server(t)).get('/roll?dice=3&sides=8').set('traceparent', TRACEPARENT(traceId)).expect(200);

    const serverSpan = serverSpanOf(traceId);
    expect(serverSpan.attributes).toMatchObject({
      'http.route': '/roll',
      'http.request.method': 'GET',
      'http.response.status_code': 200,
    });
    expect(serverSpan.name).toBe('GET /roll');

    const roll = exported.spans.getFinishedSpans().find((s) => s.name === 'dice.roll' && s.spanContext().traceId === traceId);
    expect(roll, 'dice.roll span').toBeDefined();
    expect(roll!.attributes).toMatchObject({ 'dice.count': 3, 'dice.sides': 8 });
    expect(roll!.attributes['dice.total']).toBeGreaterThanOrEqual(3);
    // The roll span descends from the SERVER span (possibly through the framework's handler span).
    const byId = new Map(exported.spans.getFinishedSpans().map((s) => [s.spanContext().spanId, s]));
    let ancestor = roll!;
    while (ancestor.parentSpanContext && ancestor !== serverSpan) ancestor = byId.get(ancestor.parentSpanContext.spanId)!;
    expect(ancestor).toBe(serverSpan);

    // Went through winston -> @opentelemetry/winston-transport -> the SDK's logger provider.
    const access = exported.logs
      .getFinishedLogRecords()
      .find((r) => r.body === 'request' && r.attributes['context'] === 'AccessLog');
    expect(access, 'access-log record exported over the OpenTelemetry logs pipeline').toBeDefined();
    expect(access!.spanContext?.traceId).toBe(traceId);
    expect(access!.attributes).toMatchObject({ 'http.route': '/roll', 'http.response.status_code': 200 });
    expect(access!.resource.attributes['service.name']).toBe('dice-api-test');

    // The same record on stdout carries trace_id and span_id as JSON fields.
    const line = t.logLines().find((l) => l['context'] === 'AccessLog' && l['trace_id'] === traceId);
    expect(line, 'stdout JSON access log with trace_id').toBeDefined();
    expect(line!['span_id']).toMatch(/^[0-9a-f]{16}$/);
  });

  it('an injected error yields an error SERVER span with error.type and the exception, and an error log with the trace', async () => {
    const admin = await import('../src/chaos/fault-injector.js');
    const faults = t.app.get(admin.FaultInjector);
    faults.update({ errorRatio: 1 }, 'test');
    try {
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const res = await request(server(t)).get('/roll?dice=1&sides=6').set('traceparent', TRACEPARENT(traceId)).expect(500);
      expect(res.body).toMatchObject({ type: '/problems/injected-fault', status: 500, trace_id: traceId });

      const serverSpan = serverSpanOf(traceId);
      expect(serverSpan.status.code).toBe(SpanStatusCode.ERROR);
      expect(serverSpan.attributes['http.response.status_code']).toBe(500);
      expect(serverSpan.attributes['error.type']).toBe('500');
      const exceptionEvents = exported.spans
        .getFinishedSpans()
        .filter((s) => s.spanContext().traceId === traceId)
        .flatMap((s) => s.events)
        .filter((e) => e.name === 'exception');
      expect(exceptionEvents.map((e) => e.attributes?.['exception.type'])).toContain('InjectedFaultException');

      const errorLog = exported.logs.getFinishedLogRecords().find((r) => r.severityText === 'error' && r.spanContext?.traceId === traceId);
      expect(errorLog, 'error log record correlated to the trace').toBeDefined();
      expect(errorLog!.attributes['error.type']).toBe('InjectedFaultException');
    } finally {
      faults.reset('test');
    }
  });

  it('a 400 is recorded with its status and is not an error span (the client erred)', async () => {
    const traceId = 'a3ce929d0e0e47364bf92f3577b34da6';
    await request(server(t)).get('/roll?dice=0&sides=6').set('traceparent', TRACEPARENT(traceId)).expect(400);
    const serverSpan = serverSpanOf(traceId);
    expect(serverSpan.attributes['http.response.status_code']).toBe(400);
    expect(serverSpan.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  // The README promises a user can quote the trace of any failed request, not only of a 5xx.
  it.each([
    ['a bad parameter (400)', '/roll?dice=0&sides=7', 400, '/problems/invalid-parameters', '04007b34da6a3ce929d0e0e4736bf92f'],
    ['an unknown route (404)', '/no/such/route', 404, 'about:blank', '04047b34da6a3ce929d0e0e4736bf92f'],
  ])('%s answers problem+json carrying the trace ID of its SERVER span', async (_name, path, status, type, traceId) => {
    const res = await request(server(t)).get(path).set('traceparent', TRACEPARENT(traceId)).expect(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, type, trace_id: traceId });
    expect(serverSpanOf(traceId).spanContext().traceId).toBe(res.body.trace_id);
  });

  it('scrapes and probes are neither traced nor access-logged at info', async () => {
    await request(server(t)).get('/metrics').expect(200);
    await request(server(t)).get('/health/ready').expect(200);
    expect(exported.spans.getFinishedSpans()).toHaveLength(0);
    const infoLogs = exported.logs.getFinishedLogRecords().filter((r) => r.body === 'request' && r.severityText === 'info');
    expect(infoLogs).toHaveLength(0);
  });
});

describe('/metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('starts every face of every allowed die at zero, so the fairness check sees unrolled faces', async () => {
    const faces = [...(await scrape(t)).matchAll(/^dice_rolls_total\{[^}]*dice_sides="(\d+)"[^}]*\}/gm)].map((m) => m[1]);
    expect(faces).toHaveLength(4 + 6 + 8 + 10 + 12 + 20 + 100);
  });

  it('exposes the request duration histogram in seconds with the route, and the dice counters', async () => {
    await request(server(t)).get('/roll?dice=10&sides=20').expect(200);
    await request(server(t)).get('/').expect(200);
    const text = await scrape(t);
    expect(text).toMatch(/# UNIT http_server_request_duration s/);
    expect(text).toMatch(/http_server_request_duration_bucket\{[^}]*http_route="\/roll"[^}]*le="0\.1"\}/);
    expect(text).toMatch(/http_server_request_duration_bucket\{[^}]*http_route="\/"[^}]*http_response_status_code="200"/);
    const rolled20 = [...text.matchAll(/^dice_rolls_total\{[^}]*dice_sides="20"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(rolled20).toBe(10);
    expect(text).toMatch(/^dice_roll_total_bucket\{[^}]*dice_sides="20"/m);
    expect(text).toMatch(/^dice_faults_active(_ratio)?\{[^}]*\} 0/m);
    // Saturation signals of the replica: event loop, CPU, memory.
    expect(text).toMatch(/^nodejs_eventloop_utilization/m);
    expect(text).toMatch(/^process_cpu_time(_seconds)?_total\{/m);
    expect(text).toMatch(/^process_memory_usage(_bytes)?\{/m);
  });

  it('a thousand requests to random unknown URLs add no series', async () => {
    await request(server(t)).get('/no-such-route').expect(404); // the 404 series exists once
    await request(server(t)).get('/roll?bogus=1').expect(400);
    const before = new Set(seriesOf(await scrape(t)));
    for (let i = 0; i < 1000; i++) {
      const path = `/${Math.random().toString(36).slice(2)}/${i}?q=${i}`;
      await request(server(t)).get(path).expect(404);
    }
    const after = seriesOf(await scrape(t)).filter((s) => !before.has(s));
    expect(after).toEqual([]);
  });
});
