import { createRequire } from 'node:module';
import type { Logger as WinstonLogger, LoggerOptions } from 'winston';
import { destinationTransport, stdoutDestination } from './stdout.destination.js';

type Winston = typeof import('winston');

// winston is required lazily, on the first logger, rather than imported at the top: a static
// import would be hoisted above startTelemetry() when the instrumentation module imports this
// library, and the winston instrumentation (which adds trace_id/span_id and the OTLP transport)
// only patches winston if it is loaded after the SDK has started.
const requireFromHere = createRequire(import.meta.url);
let winston: Winston | undefined;
const loadWinston = (): Winston => (winston ??= requireFromHere('winston') as Winston);

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface JsonLoggerOptions {
  level?: LogLevel;
  /** Where the JSON lines go; stdout in production, a buffer in tests. */
  stream?: NodeJS.WritableStream;
  /**
   * false: no stream of its own; its records then go only where the winston instrumentation sends
   * them (OTLP), if anywhere: see `hasDestination`. Ignored when `stream` is given.
   */
  stdout?: boolean;
}

/**
 * One JSON object per line on stdout (asynchronously, see stdout.destination.ts). JSON.stringify escapes CR, LF, quotes and control characters
 * in every field, so user input in a message or a field cannot split or forge a record.
 * The same records go over OTLP through the transport the winston instrumentation adds.
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): WinstonLogger {
  const { createLogger, format, transports } = loadWinston();
  const loggerOptions: LoggerOptions = {
    level: options.level ?? 'info',
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    format: format.combine(format.timestamp(), format.errors({ stack: true }), format.json()),
    transports: options.stream
      ? [new transports.Stream({ stream: options.stream })]
      : options.stdout === false
        ? []
        : [destinationTransport(stdoutDestination())],
  };
  return createLogger(loggerOptions);
}

/**
 * Whether a logger writes anywhere: a logger created with `stdout: false` has a transport only if
 * the winston instrumentation added its OTLP one (the SDK is running and its logs exporter is not
 * `none`). A logger with none would warn on every record, so callers skip logging instead.
 */
export function hasDestination(logger: WinstonLogger): boolean {
  return logger.transports.length > 0;
}
