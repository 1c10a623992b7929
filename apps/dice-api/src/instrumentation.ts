// Loaded with `node --import` before main.js: the OpenTelemetry SDK must be running before Nest,
// Fastify and winston are loaded. Configured only by the standard OTEL_* environment variables.
import { startTelemetry } from '@app/telemetry';

startTelemetry();
