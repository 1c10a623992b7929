// The recorder's hand-written OTLP subset (otlp-recorder.ts) against the real encoder: requests
// serialized by the SDK's own OTLP protobuf serializers (what an OTLP exporter sends) must decode
// to the same trace IDs, kinds, routes, statuses, bodies and services.
import { SpanKind, context, trace } from '@opentelemetry/api';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLogs, decodeSpans, readRecorded, startRecorder, TEMPO_MAX_REQUEST_BYTES } from './otlp-recorder.ts';

const resource = resourceFromAttributes({ 'service.name': 'dice-api', 'service.instance.id': 'dice-api-1' });

describe('the recorder decodes what OTLP exporters send', () => {
  it('spans: trace and span IDs, kind, name, service, http.route and an integer status', () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('spec');
    const server = tracer.startSpan('GET /roll', { kind: SpanKind.SERVER, attributes: { 'http.route': '/roll', 'http.response.status_code': 400, 'x.big': 'x'.repeat(2048) } });
    tracer.startSpan('dice.roll', {}, trace.setSpan(context.active(), server)).end();
    server.end();

    const spans = decodeSpans(ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!, 7);
    const sent = server.spanContext();
    expect(spans).toHaveLength(2);
    expect(spans.find((s) => s.kind === 2)).toEqual({ at: 7, traceId: sent.traceId, spanId: sent.spanId, kind: 2, name: 'GET /roll', service: 'dice-api', route: '/roll', status: 400 });
    expect(spans.find((s) => s.name === 'dice.roll')).toMatchObject({ traceId: sent.traceId, kind: 1, service: 'dice-api' });
  });

  it('log records: trace and span IDs, severity, body and service', () => {
    const exporter = new InMemoryLogRecordExporter();
    const logger = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] }).getLogger('spec');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    const ctx = trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: 1 });
    logger.emit({ severityText: 'info', body: 'request', context: ctx, attributes: { 'http.route': '/roll' } });

    const logs = decodeLogs(ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!, 9);
    expect(logs).toEqual([{ at: 9, traceId, spanId, service: 'dice-api', severity: 'info', body: 'request' }]);
  });
});

describe("the recorder's OTLP/HTTP edges answer as Tempo's and Loki's receivers do", () => {
  let dir: string;
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'otlp-recorder-'));
    recorder = await startRecorder({ dir, tempoHost: '127.0.0.1', tempoPort: 0, lokiHost: '127.0.0.1', lokiPort: 0 });
  });
  afterAll(async () => {
    await recorder?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const spansRequest = (attributes: Record<string, string> = {}) => {
    const exporter = new InMemorySpanExporter();
    const tracer = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('spec');
    const span = tracer.startSpan('GET /roll', { kind: SpanKind.SERVER, attributes });
    span.end();
    return { traceId: span.spanContext().traceId, body: Buffer.from(ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!) };
  };
  const post = (path: string, body: Buffer, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${recorder.tempoPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', ...headers }, body });
  const recordedTraceIds = () => readRecorded(dir).spans.map((s) => s.traceId);

  it('records gzip-compressed spans posted to /v1/traces, as the otlp_http exporter sends them', async () => {
    const { traceId, body } = spansRequest();
    const res = await post('/v1/traces', gzipSync(body), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(recordedTraceIds()).toContain(traceId);
  });

  it(`refuses a body over ${TEMPO_MAX_REQUEST_BYTES / 1024 / 1024} MiB once decompressed, with 400, and records nothing of it`, async () => {
    // Compresses to ~20 KiB: only the decompressed size is over the limit.
    const { traceId, body } = spansRequest({ 'x.big': 'x'.repeat(TEMPO_MAX_REQUEST_BYTES) });
    const res = await post('/v1/traces', gzipSync(body), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/over the 20971520-byte limit/);
    expect(recordedTraceIds()).not.toContain(traceId);
  });

  it('refuses JSON, which the exporters do not send, rather than half-decoding it', async () => {
    const res = await post('/v1/traces', Buffer.from('{}'), { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/expected application\/x-protobuf/);
  });

  it('answers 404 off the OTLP paths and 200 on /ready', async () => {
    expect((await post('/otlp/v1/logs', Buffer.alloc(0))).status).toBe(404); // logs go to Loki's edge
    expect((await fetch(`http://127.0.0.1:${recorder.lokiPort}/ready`)).status).toBe(200);
  });
});
