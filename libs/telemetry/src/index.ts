export { startTelemetry, getTelemetry, getTracer, type Telemetry, type TelemetryOverrides } from './sdk/telemetry.sdk.js';
export { HTTP_DURATION_BUCKETS_SECONDS, UNOBSERVED_PATHS } from './sdk/telemetry.constants.js';
export { createJsonLogger, hasDestination, LOG_LEVELS, type LogLevel, type JsonLoggerOptions } from './logging/winston.logger.js';
export { NestWinstonLogger } from './logging/nest-winston.logger.js';
export { DiceInstruments, type FaultState } from './metrics/dice.instruments.js';
export { TelemetryModule } from './telemetry.module.js';
