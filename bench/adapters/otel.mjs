// The instrumented variants: NodeSDK + HttpInstrumentation + the adapter's route instrumentation (Fastify: the app's route hook),
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
    // The app's own route hook (libs/telemetry/src/sdk/fastify-route.hook.ts, built by `npm run build`):
    // http.route through RPC metadata, no framework span. ADR 0001 measured @fastify/otel 0.21.2 here,
    // which the app no longer uses (it pulled in a second @opentelemetry/core and instrumentation).
    const { recordFastifyRoutes } = await import('../../dist/libs/telemetry/src/sdk/fastify-route.hook.js');
    recordFastifyRoutes();
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
