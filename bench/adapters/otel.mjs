// The instrumented variants: NodeSDK + HttpInstrumentation + the adapter's route instrumentation,
// spans batched (default BatchSpanProcessor limits) to OTLP/HTTP (JSON) on a local sink, metrics through a Prometheus reader.
// Imported (dynamically) before Nest, so the instrumentations see the adapters being loaded.
import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';

export async function startOtel({ adapter, otlpUrl, serviceName, exporter = 'otlp', routeInstrumentation = true, lean = false }) {
  const instrumentations = [
    // The exporter's own requests to the sink must not be traced.
    new HttpInstrumentation({ ignoreOutgoingRequestHook: () => true }),
  ];
  if (!routeInstrumentation) {
    // HttpInstrumentation alone (diagnostics): no adapter spans, no http.route.
  } else if (adapter === 'fastify') {
    const { FastifyOtelInstrumentation } = await import('@fastify/otel');
    // lean: no child span per lifecycle hook (Nest registers @fastify/middie, whose onRequest
    // hooks otherwise yield one span each); the request and handler spans remain.
    instrumentations.push(new FastifyOtelInstrumentation({ registerOnInitialization: true, ...(lean && { instrumentHooks: false }) }));
  } else {
    const { ExpressInstrumentation, ExpressLayerType } = await import('@opentelemetry/instrumentation-express');
    // lean: no span per middleware layer (Nest's query, json and urlencoded parsers); the
    // request handler span remains.
    instrumentations.push(new ExpressInstrumentation(lean ? { ignoreLayersType: [ExpressLayerType.MIDDLEWARE] } : {}));
  }

  // Not a server: the runner asks for the exposition over IPC (see scrape()).
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: exporter === 'none' ? { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} } : new OTLPTraceExporter({ url: otlpUrl }),
      }),
    ],
    metricReaders: [prometheus],
    logRecordProcessors: [], // no logs in this benchmark; stops the SDK's default OTLP log exporter
    instrumentations,
  });
  sdk.start();

  return {
    /** The Prometheus text exposition, exactly as GET /metrics would serve it. */
    scrape: () =>
      new Promise((resolve) => {
        prometheus.getMetricsRequestHandler(undefined, { statusCode: 0, setHeader() {}, end: resolve });
      }),
    shutdown: () => sdk.shutdown(),
  };
}
