// The recorder's hand-written OTLP subset (otlp-recorder.ts) against the real encoder: requests
// serialized by the SDK's own OTLP protobuf serializers (what an OTLP exporter sends) must decode
// to the same trace IDs, kinds, routes, statuses, bodies and services.
import { SpanKind, context, trace } from '@opentelemetry/api';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { decodeLogs, decodeSpans } from './otlp-recorder.ts';

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
