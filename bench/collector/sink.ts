// Counting sinks standing in for the network edge of Tempo (/v1/traces), Loki (/otlp/v1/logs) and
// Prometheus (/api/v1/otlp/v1/metrics) while bench/collector/run.ts measures the collector. They
// answer every export at once with an empty (valid) OTLP response and only count requests and
// bytes, never decode, so that they cost little next to the collector: the run reports their CPU.
// With SINK_DECODE=1 they also decode spans and log records (test/support/otlp-recorder.ts's
// decoders, and a metrics subset below) to count items and series: the "shape" phase does, at a
// low rate.
//   TEMPO_ADDR=127.0.7.40 LOKI_ADDR=127.0.7.41 [PROM_ADDR=127.0.7.30] CONTROL=127.0.7.60:7000 node bench/collector/sink.ts
// GET http://$CONTROL/stats answers the counters as JSON.
import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { decodeLogs, decodeSpans } from '../../test/support/otlp-recorder.ts';

// The few fields of opentelemetry-proto v1.11.0 metrics/v1/metrics.proto and
// collector/metrics/v1/metrics_service.proto that counting series needs (field numbers upstream's).
const METRICS_SUBSET = {
  nested: {
    AnyValue: { fields: { stringValue: { type: 'string', id: 1 }, intValue: { type: 'int64', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    NumberDataPoint: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 7 } } },
    HistogramDataPoint: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 9 }, explicitBounds: { rule: 'repeated', type: 'double', id: 7 } } },
    Sum: { fields: { dataPoints: { rule: 'repeated', type: 'NumberDataPoint', id: 1 } } },
    Gauge: { fields: { dataPoints: { rule: 'repeated', type: 'NumberDataPoint', id: 1 } } },
    Histogram: { fields: { dataPoints: { rule: 'repeated', type: 'HistogramDataPoint', id: 1 } } },
    Metric: { fields: { name: { type: 'string', id: 1 }, gauge: { type: 'Gauge', id: 5 }, sum: { type: 'Sum', id: 7 }, histogram: { type: 'Histogram', id: 9 } } },
    ScopeMetrics: { fields: { metrics: { rule: 'repeated', type: 'Metric', id: 2 } } },
    ResourceMetrics: { fields: { resource: { type: 'Resource', id: 1 }, scopeMetrics: { rule: 'repeated', type: 'ScopeMetrics', id: 2 } } },
    ExportMetricsServiceRequest: { fields: { resourceMetrics: { rule: 'repeated', type: 'ResourceMetrics', id: 1 } } },
  },
};
const metricsRequest = protobuf.Root.fromJSON(METRICS_SUBSET).lookupType('ExportMetricsServiceRequest');
type KV = { key: string; value?: { stringValue?: string; intValue?: string } };
const kv = (attrs?: KV[]) => (attrs ?? []).map((a) => `${a.key}=${a.value?.stringValue ?? a.value?.intValue ?? ''}`).sort().join(',');
function countSeries(buf: Buffer) {
  const req = metricsRequest.toObject(metricsRequest.decode(buf), { longs: String }) as {
    resourceMetrics?: { resource?: { attributes?: KV[] }; scopeMetrics?: { metrics?: { name: string; gauge?: { dataPoints?: { attributes?: KV[] }[] }; sum?: { dataPoints?: { attributes?: KV[] }[] }; histogram?: { dataPoints?: { attributes?: KV[]; explicitBounds?: number[] }[] } }[] }[] }[];
  };
  let points = 0;
  for (const rm of req.resourceMetrics ?? []) {
    const resource = kv(rm.resource?.attributes);
    seriesSeen.set(`target_info|${resource}`, 1);
    for (const sm of rm.scopeMetrics ?? [])
      for (const m of sm.metrics ?? []) {
        for (const dp of [...(m.sum?.dataPoints ?? []), ...(m.gauge?.dataPoints ?? [])]) {
          points++;
          seriesSeen.set(`${m.name}|${resource}|${kv(dp.attributes)}`, 1);
        }
        for (const dp of m.histogram?.dataPoints ?? []) {
          points++;
          seriesSeen.set(`${m.name}|${resource}|${kv(dp.attributes)}`, (dp.explicitBounds?.length ?? 0) + 3);
        }
      }
  }
  return points;
}

let decode = process.env.SINK_DECODE === '1';
// Distinct series the metrics sink saw while decoding, as Prometheus's OTLP receiver would make
// them: a sum is one series, a classic histogram len(bounds)+1 buckets plus _sum and _count.
const seriesSeen = new Map<string, number>();
// bytes: uncompressed protobuf; wireBytes: as received (HTTP bodies are gzip); gzipBytes (decoding
// only): each request's protobuf gzipped here at zlib's default level, the same for every signal.
type Counter = { requests: number; bytes: number; wireBytes: number; items: number; gzipBytes: number };
const stats: Record<'traces' | 'logs' | 'metrics', Counter> = {
  traces: { requests: 0, bytes: 0, wireBytes: 0, items: 0, gzipBytes: 0 },
  logs: { requests: 0, bytes: 0, wireBytes: 0, items: 0, gzipBytes: 0 },
  metrics: { requests: 0, bytes: 0, wireBytes: 0, items: 0, gzipBytes: 0 },
};

async function body(req: IncomingMessage): Promise<{ raw: Buffer; wire: number }> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const wire = Buffer.concat(chunks);
  return { raw: req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire, wire: wire.length };
}

function otlpHttp(host: string, port: number, routes: Record<string, 'traces' | 'logs' | 'metrics'>) {
  const server = createServer(async (req, res) => {
    const signal = routes[req.url ?? ''];
    if (req.method !== 'POST' || !signal) {
      res.writeHead(404).end();
      return;
    }
    const { raw, wire } = await body(req);
    const s = stats[signal];
    s.requests++;
    s.bytes += raw.length;
    s.wireBytes += wire;
    if (decode && signal === 'logs') s.items += decodeLogs(raw, Date.now()).length;
    if (decode && signal === 'traces') s.items += decodeSpans(raw, Date.now()).length;
    if (decode && signal === 'metrics') s.items += countSeries(raw);
    if (decode) s.gzipBytes += gzipSync(raw).length;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
  return new Promise<void>((resolve) => server.listen(port, host, () => resolve()));
}

const [controlHost, controlPort] = (process.env.CONTROL ?? '127.0.7.60:7000').split(':');
await otlpHttp(process.env.TEMPO_ADDR!, 4318, { '/v1/traces': 'traces' });
await otlpHttp(process.env.LOKI_ADDR!, 3100, { '/otlp/v1/logs': 'logs' });
// Without PROM_ADDR (the benchmark's native stack, scripts/native/stack.ts edgeSink), the real
// Prometheus takes the metrics.
if (process.env.PROM_ADDR) await otlpHttp(process.env.PROM_ADDR, 9090, { '/api/v1/otlp/v1/metrics': 'metrics' });
// GET /stats: the counters; POST /decode?on=0|1: stop or start decoding (and forget the series).
createServer((req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/decode')) {
    decode = req.url.endsWith('on=1');
    seriesSeen.clear();
  }
  const series = [...seriesSeen.values()].reduce((a, b) => a + b, 0);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...stats, series, points: seriesSeen.size }));
}).listen(Number(controlPort), controlHost, () => console.log('sink ready'));
