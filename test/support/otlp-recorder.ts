// A recording OTLP receiver standing in for the NETWORK EDGE of Tempo and Loki, which cannot run
// here (AGPL; see README). It is not Tempo or Loki: it tests our side, what the collector delivers
// (otel-collector/config.yaml: otlp_http/tempo, otlp_http/loki). It listens where the stack puts
// them: Tempo's OTLP/HTTP traces path on tempo:4318/v1/traces and Loki's OTLP/HTTP push path on
// loki:3100/otlp/v1/logs.
//
// Like Tempo's OTLP/HTTP receiver (confighttp's default, which Tempo 3.0.3 keeps) it refuses a body
// larger than 20 MiB, compressed or decompressed, with 400: the collector drops such a batch without
// retrying, so a batch bound that is too loose loses spans here as it would there.
//
// Every span and log record received is appended, one JSON object a line, to
// <dir>/spans.jsonl and <dir>/logs.jsonl with the time it arrived, so that a test can count what
// was delivered by trace ID, across a restart of this process (an outage of Tempo and Loki).
// The wire formats are decoded with protobufjs from a subset of opentelemetry-proto v1.11.0 written
// here (OTLP_SUBSET below): protobuf skips the fields a schema does not name, so the few this
// receiver reads are enough, with their upstream field numbers.
import { appendFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/** The largest OTLP/HTTP body Tempo 3.0.3 takes: confighttp's defaultMaxRequestBodySize
 * (vendor/go.opentelemetry.io/collector/config/confighttp/server.go), on the wire and decompressed. */
export const TEMPO_MAX_REQUEST_BYTES = 20 * 1024 * 1024;

/** A span as received, reduced to what the tests count and compare. */
export interface RecordedSpan {
  /** Epoch ms when the request carrying it arrived. */
  at: number;
  traceId: string;
  spanId: string;
  /** OTLP SpanKind number: 2 is SERVER. */
  kind: number;
  name: string;
  service: string;
  route?: string;
  status?: number;
}

export interface RecordedLog {
  at: number;
  traceId: string;
  spanId: string;
  service: string;
  severity: string;
  body: string;
}

/**
 * The messages and fields this receiver reads, with the field numbers of opentelemetry-proto
 * v1.11.0: opentelemetry/proto/common/v1/common.proto (AnyValue, KeyValue), resource/v1/resource.proto,
 * trace/v1/trace.proto (ResourceSpans, ScopeSpans, Span), logs/v1/logs.proto (ResourceLogs,
 * ScopeLogs, LogRecord) and collector/{trace,logs}/v1/*_service.proto (the Export requests).
 */
const OTLP_SUBSET = {
  nested: {
    AnyValue: { fields: { stringValue: { type: 'string', id: 1 }, boolValue: { type: 'bool', id: 2 }, intValue: { type: 'int64', id: 3 }, doubleValue: { type: 'double', id: 4 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
      },
    },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    LogRecord: {
      fields: {
        severityText: { type: 'string', id: 3 },
        body: { type: 'AnyValue', id: 5 },
        traceId: { type: 'bytes', id: 9 },
        spanId: { type: 'bytes', id: 10 },
      },
    },
    ScopeLogs: { fields: { logRecords: { rule: 'repeated', type: 'LogRecord', id: 2 } } },
    ResourceLogs: { fields: { resource: { type: 'Resource', id: 1 }, scopeLogs: { rule: 'repeated', type: 'ScopeLogs', id: 2 } } },
    ExportLogsServiceRequest: { fields: { resourceLogs: { rule: 'repeated', type: 'ResourceLogs', id: 1 } } },
  },
};

const otlp = protobuf.Root.fromJSON(OTLP_SUBSET);
const types = { traces: otlp.lookupType('ExportTraceServiceRequest'), logs: otlp.lookupType('ExportLogsServiceRequest') };

/** Decodes an OTLP protobuf ExportTraceServiceRequest into the spans this receiver records. */
export const decodeSpans = (buf: Uint8Array, at: number) => spansOf(types.traces.toObject(types.traces.decode(buf), { longs: String }) as TracesRequest, at);
/** Decodes an OTLP protobuf ExportLogsServiceRequest into the log records this receiver records. */
export const decodeLogs = (buf: Uint8Array, at: number) => logsOf(types.logs.toObject(types.logs.decode(buf), { longs: String }) as LogsRequest, at);

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value?: AnyValue };
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');
const attr = (list: KeyValue[] | undefined, key: string): AnyValue | undefined => list?.find((kv) => kv.key === key)?.value;
const str = (v: AnyValue | undefined) => (v === undefined ? undefined : String(v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue ?? ''));

interface TracesRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: { traceId: Uint8Array; spanId: Uint8Array; kind?: number; name?: string; attributes?: KeyValue[] }[] }[] }[];
}
interface LogsRequest {
  resourceLogs?: { resource?: { attributes?: KeyValue[] }; scopeLogs?: { logRecords?: { traceId?: Uint8Array; spanId?: Uint8Array; severityText?: string; body?: AnyValue }[] }[] }[];
}

export function spansOf(req: TracesRequest, at: number): RecordedSpan[] {
  return (req.resourceSpans ?? []).flatMap((rs) => {
    const service = str(attr(rs.resource?.attributes, 'service.name')) ?? '';
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => {
        const status = str(attr(s.attributes, 'http.response.status_code'));
        return {
          at,
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          kind: s.kind ?? 0,
          name: s.name ?? '',
          service,
          route: str(attr(s.attributes, 'http.route')),
          ...(status === undefined ? {} : { status: Number(status) }),
        };
      }),
    );
  });
}

export function logsOf(req: LogsRequest, at: number): RecordedLog[] {
  return (req.resourceLogs ?? []).flatMap((rl) => {
    const service = str(attr(rl.resource?.attributes, 'service.name')) ?? '';
    return (rl.scopeLogs ?? []).flatMap((sl) =>
      (sl.logRecords ?? []).map((r) => ({
        at,
        traceId: hex(r.traceId),
        spanId: hex(r.spanId),
        service,
        severity: r.severityText ?? '',
        body: (str(r.body) ?? '').slice(0, 200),
      })),
    );
  });
}

export interface RecorderOptions {
  /** Where spans.jsonl and logs.jsonl are appended (kept across restarts). */
  dir: string;
  /** Host and port of the OTLP/HTTP edge of Tempo's distributor (traces at /v1/traces). */
  tempoHost: string;
  tempoPort: number;
  /** Host and port of the OTLP/HTTP edge of Loki's distributor (logs at /otlp/v1/logs). */
  lokiHost: string;
  lokiPort: number;
}

/** Decompresses a gzip body, refusing one that inflates beyond the limit (a decompression bomb too). */
function gunzipWithin(raw: Buffer, tooLarge: () => Error): Buffer {
  try {
    return gunzipSync(raw, { maxOutputLength: TEMPO_MAX_REQUEST_BYTES });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw error;
  }
}

/** One OTLP/HTTP edge: POST `path` with a protobuf body (gzip or not) is decoded and appended to
 * `file`; GET /ready answers 200, as Tempo's and Loki's own readiness paths, for the stack's probe. */
function otlpHttpEdge(path: string, record: (body: Buffer) => void): HttpServer {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= TEMPO_MAX_REQUEST_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/ready') {
        res.writeHead(200).end('ready');
        return;
      }
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404).end();
        return;
      }
      try {
        // The collector's otlp_http exporter sends protobuf (its default encoding); JSON is refused
        // here so that a change of encoding is noticed rather than half-decoded.
        if (req.headers['content-type'] !== 'application/x-protobuf') throw new Error(`expected application/x-protobuf, got ${req.headers['content-type']}`);
        const tooLarge = (n: number) => new Error(`request body ${n} bytes, over the ${TEMPO_MAX_REQUEST_BYTES}-byte limit`);
        if (size > TEMPO_MAX_REQUEST_BYTES) throw tooLarge(size);
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipWithin(raw, () => tooLarge(size)) : raw;
        record(body);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(error instanceof Error ? error.message : String(error));
      }
    });
  });
}

/** Starts both edges; resolves once both listen, with the ports they listen on (0 in the options: any free one). */
export async function startRecorder(o: RecorderOptions): Promise<{ tempoPort: number; lokiPort: number; stop(): Promise<void> }> {
  mkdirSync(o.dir, { recursive: true });
  const append = (file: string, rows: object[]) => {
    if (rows.length > 0) appendFileSync(join(o.dir, file), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  };
  const edges = [
    { server: otlpHttpEdge('/v1/traces', (body) => append('spans.jsonl', decodeSpans(body, Date.now()))), host: o.tempoHost, port: o.tempoPort },
    { server: otlpHttpEdge('/otlp/v1/logs', (body) => append('logs.jsonl', decodeLogs(body, Date.now()))), host: o.lokiHost, port: o.lokiPort },
  ];
  for (const { server, host, port } of edges) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
  }
  const portOf = (server: HttpServer) => (server.address() as { port: number }).port;
  return {
    tempoPort: portOf(edges[0]!.server),
    lokiPort: portOf(edges[1]!.server),
    stop: async () => {
      for (const { server } of edges) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What the recorder in `dir` has received so far (both files; empty before anything arrived). */
export function readRecorded(dir: string): { spans: RecordedSpan[]; logs: RecordedLog[] } {
  const read = <T>(file: string): T[] =>
    existsSync(join(dir, file))
      ? readFileSync(join(dir, file), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as T)
      : [];
  return { spans: read<RecordedSpan>('spans.jsonl'), logs: read<RecordedLog>('logs.jsonl') };
}

/** As a service of the native stack: OTLP_RECORDER_DIR, TEMPO_HOST, LOKI_HOST (scripts/native/stack.ts). */
async function main() {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`the OTLP recorder needs ${name}`);
    return value;
  };
  const recorder = await startRecorder({
    dir: env('OTLP_RECORDER_DIR'),
    tempoHost: env('TEMPO_HOST'),
    tempoPort: 4318,
    lokiHost: env('LOKI_HOST'),
    lokiPort: 3100,
  });
  console.log(`OTLP recorder (network edge of Tempo and Loki) listening on ${env('TEMPO_HOST')}:4318 and ${env('LOKI_HOST')}:3100 (OTLP/HTTP)`);
  // Every acknowledged export is already on disk (appendFileSync before the answer): exit at once,
  // and let an export in flight fail, as it would against a Tempo or Loki going down.
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  void recorder;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(`the OTLP recorder failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
