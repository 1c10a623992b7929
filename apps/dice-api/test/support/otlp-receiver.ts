import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as OTLP/JSON carries it (ids are hex strings in the JSON encoding). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

export interface OtlpLogRecord {
  traceId?: string;
  spanId?: string;
  severityText?: string;
  body: unknown;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

type KeyValue = { key: string; value: Record<string, unknown> };

/**
 * Receives OTLP/HTTP with JSON bodies (OTEL_EXPORTER_OTLP_PROTOCOL=http/json), as a collector
 * would, and keeps what it got. It decodes the wire format the SDK really sends.
 */
export class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  readonly logs: OtlpLogRecord[] = [];
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        if (req.url === '/v1/traces') this.takeSpans(body);
        else if (req.url === '/v1/logs') this.takeLogs(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private takeSpans(body: { resourceSpans?: unknown[] }) {
    for (const rs of (body.resourceSpans ?? []) as { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[]) {
      const resource = attributesOf(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: s['traceId'] as string,
            spanId: s['spanId'] as string,
            parentSpanId: (s['parentSpanId'] as string) || undefined,
            name: s['name'] as string,
            kind: s['kind'] as number,
            attributes: attributesOf(s['attributes'] as KeyValue[]),
            resource,
          });
        }
      }
    }
  }

  private takeLogs(body: { resourceLogs?: unknown[] }) {
    for (const rl of (body.resourceLogs ?? []) as { resource?: { attributes?: KeyValue[] }; scopeLogs?: { logRecords?: Record<string, unknown>[] }[] }[]) {
      const resource = attributesOf(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          this.logs.push({
            traceId: (r['traceId'] as string) || undefined,
            spanId: (r['spanId'] as string) || undefined,
            severityText: r['severityText'] as string | undefined,
            body: valueOf((r['body'] ?? {}) as Record<string, unknown>),
            attributes: attributesOf(r['attributes'] as KeyValue[]),
            resource,
          });
        }
      }
    }
  }
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

function valueOf(value: Record<string, unknown>): unknown {
  if ('stringValue' in value) return value['stringValue'];
  if ('intValue' in value) return Number(value['intValue']);
  if ('doubleValue' in value) return value['doubleValue'];
  if ('boolValue' in value) return value['boolValue'];
  return value;
}
