import { logs as apiLogs, metrics, trace, type Meter } from '@opentelemetry/api';
import { logs as legacyLogs } from '@opentelemetry/api-logs';
import { getNodeAutoInstrumentations, type InstrumentationConfigMap } from '@opentelemetry/auto-instrumentations-node';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { IMetricReader, ViewOptions } from '@opentelemetry/sdk-metrics';
import { AggregationType } from '@opentelemetry/sdk-metrics';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { HTTP_DURATION_BUCKETS_SECONDS, RECORDED_QUERY_PARAMS, SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, UNOBSERVED_PATHS } from './telemetry.constants.js';
import { reportExportFailuresOnce } from './export-failure.reporter.js';
import { recordFastifyRoutes } from './fastify-route.hook.js';

/**
 * What a test may replace. Production passes nothing: exporters, sampler and resource then come
 * from the standard OTEL_* variables only (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER, ...).
 */
export interface TelemetryOverrides {
  spanProcessors?: SpanProcessor[];
  logRecordProcessors?: LogRecordProcessor[];
  /** Extra readers beside the Prometheus exporter that serves /metrics. */
  metricReaders?: IMetricReader[];
  /**
   * false: no MeterProvider at all (no /metrics content, no runtime or process metrics, every
   * metric record a no-op). Only for bench/'s price list, which measures what metrics cost; it is not
   * offered to users, since the SLO rules and dashboards are built on these metrics.
   */
  metrics?: false;
}

export interface Telemetry {
  /** Serves the Prometheus exposition; the app mounts it on its own port at /metrics. */
  readonly prometheus: Pick<PrometheusExporter, 'getMetricsRequestHandler'>;
  readonly meter: Meter;
  /** Flushes pending spans, log records and metrics, then stops the SDK. Safe to call twice. */
  shutdown(): Promise<void>;
}

export const TELEMETRY_SCOPE = 'dice-api';

/**
 * Every instrumentation auto-instrumentations-node 0.82 knows, each switched on or off here, so
 * that its defaults do not decide what this service records (`enabled` in the config wins over
 * them). OTEL_NODE_ENABLED_INSTRUMENTATIONS / OTEL_NODE_DISABLED_INSTRUMENTATIONS can only narrow
 * this set (instrumentationConfig below). Disabled ones are not even constructed. http.route comes
 * from fastify-route.hook.ts: 0.82 ships no Fastify instrumentation.
 */
const INSTRUMENTATIONS: InstrumentationConfigMap = {
  '@opentelemetry/instrumentation-http': {
    enabled: true,
    // Scrapes and probes every few seconds would drown the traces users care about.
    ignoreIncomingRequestHook: (request) => UNOBSERVED_PATHS.has(pathOf(request.url)),
    // The OTLP exporters' own requests must not be traced (a trace per export, forever).
    ignoreOutgoingRequestHook: () => true,
    // Replaces the instrumentation's url.query (which redacts only a few cloud signature names).
    startIncomingSpanHook: (request) => queryAttribute(request.url),
  },
  // trace_id and span_id in every JSON line, and the records over OTLP (@opentelemetry/winston-transport).
  '@opentelemetry/instrumentation-winston': { enabled: true },
  // Event-loop delay and utilisation: the saturation signal of a single-threaded server.
  // The precision is the delay histogram's sampling period: it bounds what can be measured.
  '@opentelemetry/instrumentation-runtime-node': { enabled: true, monitoringPrecision: 10 },
  // CPU time and RSS of this process, per replica. Host-wide metrics are node-exporter's job.
  '@opentelemetry/instrumentation-host-metrics': { enabled: true, metricGroups: ['process.cpu', 'process.memory'] },
  // Two spans per request (request context, handler) that repeat the SERVER span's route and
  // method: a span costs export and CPU on every request, and adds nothing here.
  '@opentelemetry/instrumentation-nestjs-core': { enabled: false },
  // The app makes no outgoing calls, opens no sockets of its own and reads no files per request;
  // these would trace only the OTLP exporters' connections and Nest's startup.
  '@opentelemetry/instrumentation-undici': { enabled: false },
  '@opentelemetry/instrumentation-net': { enabled: false },
  '@opentelemetry/instrumentation-dns': { enabled: false },
  '@opentelemetry/instrumentation-fs': { enabled: false },
  // Libraries this service does not use (no database, queue, cache, RPC, cloud SDK or other web
  // framework; winston is its only logger): nothing to instrument, so nothing is loaded.
  '@opentelemetry/instrumentation-amqplib': { enabled: false },
  '@opentelemetry/instrumentation-aws-lambda': { enabled: false },
  '@opentelemetry/instrumentation-aws-sdk': { enabled: false },
  '@opentelemetry/instrumentation-bunyan': { enabled: false },
  '@opentelemetry/instrumentation-cassandra-driver': { enabled: false },
  '@opentelemetry/instrumentation-connect': { enabled: false },
  '@opentelemetry/instrumentation-cucumber': { enabled: false },
  '@opentelemetry/instrumentation-dataloader': { enabled: false },
  '@opentelemetry/instrumentation-express': { enabled: false },
  '@opentelemetry/instrumentation-generic-pool': { enabled: false },
  '@opentelemetry/instrumentation-graphql': { enabled: false },
  '@opentelemetry/instrumentation-grpc': { enabled: false },
  '@opentelemetry/instrumentation-hapi': { enabled: false },
  '@opentelemetry/instrumentation-ioredis': { enabled: false },
  '@opentelemetry/instrumentation-kafkajs': { enabled: false },
  '@opentelemetry/instrumentation-knex': { enabled: false },
  '@opentelemetry/instrumentation-koa': { enabled: false },
  '@opentelemetry/instrumentation-lru-memoizer': { enabled: false },
  '@opentelemetry/instrumentation-memcached': { enabled: false },
  '@opentelemetry/instrumentation-mongodb': { enabled: false },
  '@opentelemetry/instrumentation-mongoose': { enabled: false },
  '@opentelemetry/instrumentation-mysql': { enabled: false },
  '@opentelemetry/instrumentation-mysql2': { enabled: false },
  '@opentelemetry/instrumentation-openai': { enabled: false },
  '@opentelemetry/instrumentation-oracledb': { enabled: false },
  '@opentelemetry/instrumentation-pg': { enabled: false },
  '@opentelemetry/instrumentation-pino': { enabled: false },
  '@opentelemetry/instrumentation-redis': { enabled: false },
  '@opentelemetry/instrumentation-restify': { enabled: false },
  '@opentelemetry/instrumentation-router': { enabled: false },
  '@opentelemetry/instrumentation-socket.io': { enabled: false },
  '@opentelemetry/instrumentation-tedious': { enabled: false },
};

const PREFIX = '@opentelemetry/instrumentation-';
/** The instrumentations that only record metrics: off when there is no MeterProvider. */
const METRICS_ONLY = ['@opentelemetry/instrumentation-runtime-node', '@opentelemetry/instrumentation-host-metrics'];

/**
 * INSTRUMENTATIONS as this process runs them. The standard variables can switch off what is on,
 * never on what is off, with auto-instrumentations-node 0.82.0's syntax and precedence
 * (src/utils.ts, getInstrumentationsFromEnv and shouldDisableInstrumentation): comma-separated names
 * without the `@opentelemetry/instrumentation-` prefix; a name in OTEL_NODE_DISABLED_INSTRUMENTATIONS is
 * off; when OTEL_NODE_ENABLED_INSTRUMENTATIONS is set, a name not in it is off. With
 * OTEL_LOGS_EXPORTER=none (no LoggerProvider) the winston instrumentation adds no OTLP transport, so
 * log records are not converted for nothing; trace_id and span_id still go into every line.
 * Unknown names are returned, to be reported.
 */
export function instrumentationConfig(
  env: Record<string, string | undefined>,
  options: { metrics: boolean; otlpLogs: boolean },
): { config: InstrumentationConfigMap; unknown: string[] } {
  const list = (name: string) =>
    env[name]
      ?.split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => `${PREFIX}${x}`);
  const enabledList = list('OTEL_NODE_ENABLED_INSTRUMENTATIONS');
  const disabledList = list('OTEL_NODE_DISABLED_INSTRUMENTATIONS') ?? [];
  const config: InstrumentationConfigMap = {};
  for (const [name, entry] of Object.entries(INSTRUMENTATIONS) as [keyof InstrumentationConfigMap, { enabled?: boolean }][]) {
    const off =
      disabledList.includes(name) || (enabledList !== undefined && enabledList.length > 0 && !enabledList.includes(name)) || (!options.metrics && METRICS_ONLY.includes(name));
    config[name] = { ...entry, enabled: entry.enabled === true && !off } as never;
  }
  if (!options.otlpLogs) config['@opentelemetry/instrumentation-winston'] = { ...config['@opentelemetry/instrumentation-winston'], disableLogSending: true };
  const unknown = [...(enabledList ?? []), ...disabledList].filter((name) => !(name in INSTRUMENTATIONS)).map((name) => name.slice(PREFIX.length));
  return { config, unknown };
}

/** OTEL_LOGS_EXPORTER as NodeSDK 0.300 reads it: a list that contains `none` means no LoggerProvider. */
const logsExporterNone = (env: Record<string, string | undefined>) => (env['OTEL_LOGS_EXPORTER'] ?? '').split(',').map((x) => x.trim()).includes('none');

let active: Telemetry | undefined;

/**
 * Starts the OpenTelemetry SDK. It must run before Nest, Fastify and winston are loaded (the app's
 * instrumentation module is loaded with `node --import`), so that the instrumentations see them.
 */
export function startTelemetry(overrides: TelemetryOverrides = {}): Telemetry {
  if (active) return active;

  // The app serves /metrics itself (the reference architecture scrapes the app's own port), so
  // the exporter must not open its own server on 9464.
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const views: ViewOptions[] = [
    {
      instrumentName: 'http.server.request.duration',
      aggregation: {
        type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
        options: { boundaries: [...HTTP_DURATION_BUCKETS_SECONDS] },
      },
    },
  ];

  // The standard variables win; NodeSDK lets an explicit limit override them, so give it only when unset.
  const attributeLimitSet = ['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'].some((name) => process.env[name] !== undefined);
  const withMetrics = overrides.metrics !== false;
  const { config, unknown } = instrumentationConfig(process.env, {
    metrics: withMetrics,
    otlpLogs: overrides.logRecordProcessors !== undefined || !logsExporterNone(process.env),
  });
  if (unknown.length > 0) {
    process.stderr.write(
      `${JSON.stringify({ level: 'warn', message: `OTEL_NODE_ENABLED_INSTRUMENTATIONS / OTEL_NODE_DISABLED_INSTRUMENTATIONS name no instrumentation this service has: ${unknown.join(', ')}; it has ${Object.keys(INSTRUMENTATIONS).map((n) => n.slice(PREFIX.length)).join(', ')}`, context: 'Telemetry' })}\n`,
    );
  }
  const sdk = new NodeSDK({
    // An empty list, not undefined: NodeSDK would otherwise set up readers from OTEL_METRICS_EXPORTER.
    metricReaders: withMetrics ? [prometheus, ...(overrides.metricReaders ?? [])] : [],
    views,
    ...(attributeLimitSet ? {} : { spanLimits: { attributeValueLengthLimit: SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT } }),
    spanProcessors: overrides.spanProcessors,
    logRecordProcessors: overrides.logRecordProcessors,
    instrumentations: [getNodeAutoInstrumentations(config)],
  });
  recordFastifyRoutes();
  sdk.start();

  // @opentelemetry/winston-transport 0.34 still looks the logger provider up on the
  // @opentelemetry/api-logs global, while sdk-node 0.300 (as 0.301) registers it on @opentelemetry/api.
  // Without this bridge every winston record is silently dropped from OTLP. It has to happen before
  // the first winston logger is created, because the transport resolves its logger once.
  legacyLogs.setGlobalLoggerProvider(apiLogs.getLoggerProvider() as never);

  reportExportFailuresOnce();

  const meter = metrics.getMeter(TELEMETRY_SCOPE);
  let stopping: Promise<void> | undefined;
  active = {
    prometheus: withMetrics ? prometheus : { getMetricsRequestHandler: emptyExposition },
    meter,
    shutdown: () => (stopping ??= sdk.shutdown()),
  };
  return active;
}

/**
 * The running telemetry. Without the instrumentation module (`node main.js` alone, e.g. to measure
 * the app uninstrumented in bench/), the app still serves: the metrics API is OpenTelemetry's
 * no-op, /metrics answers an empty exposition, and one warning line says so on stderr.
 */
export function getTelemetry(): Telemetry {
  return active ?? (disabled ??= startWithoutTelemetry());
}

let disabled: Telemetry | undefined;

function startWithoutTelemetry(): Telemetry {
  // The JSON logger does not exist yet (main.ts creates it after Nest): one line in its format.
  process.stderr.write(
    `${JSON.stringify({
      level: 'warn',
      message:
        'OpenTelemetry is not started: serving without traces, metrics or OTLP logs (/metrics is empty). ' +
        'Run the app with `node --import ./dist/apps/dice-api/src/instrumentation.js` (see `npm start`).',
      context: 'Telemetry',
    })}\n`,
  );
  return {
    prometheus: { getMetricsRequestHandler: emptyExposition },
    // No global MeterProvider is registered without the SDK: this is the API's no-op meter.
    meter: metrics.getMeter(TELEMETRY_SCOPE),
    shutdown: () => Promise.resolve(),
  };
}

const emptyExposition: Telemetry['prometheus']['getMetricsRequestHandler'] = (_request, response) => {
  response.statusCode = 200;
  response.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
  response.end();
};

export function getTracer() {
  return trace.getTracer(TELEMETRY_SCOPE);
}

/**
 * url.query with the value of every parameter outside RECORDED_QUERY_PARAMS replaced by REDACTED
 * (a bare item with no `=` entirely, as it may be a value).
 */
function queryAttribute(url: string | undefined): Record<string, string> {
  const start = url?.indexOf('?') ?? -1;
  if (url === undefined || start === -1) return {};
  const query = url.slice(start + 1);
  const redacted = query
    .split('&')
    .map((pair) => {
      const name = pair.split('=', 1)[0]!;
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replaceAll('+', ' '));
      } catch {
        // a malformed escape: not one of ours
      }
      if (RECORDED_QUERY_PARAMS.has(decoded)) return pair;
      return pair.includes('=') ? `${name}=REDACTED` : 'REDACTED';
    })
    .join('&');
  return { 'url.query': redacted };
}

function pathOf(url: string | undefined): string {
  if (!url) return '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
