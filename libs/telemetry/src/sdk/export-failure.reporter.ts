import { setGlobalErrorHandler } from '@opentelemetry/core';

/** A reminder while export keeps failing, so a long outage is not mistaken for a one-off. */
const REMINDER_INTERVAL_MS = 5 * 60_000;

/**
 * Routes the SDK's export errors to one warning (not one per batch or per request) plus a reminder
 * every five minutes with how many were suppressed. The counts per signal are also exported as SDK
 * metrics (OTEL_NODE_EXPERIMENTAL_SDK_METRICS), which is where dashboards should look.
 */
export function reportExportFailuresOnce(write: (line: string) => void = (line) => process.stderr.write(line)): void {
  let lastReportAt = -Infinity;
  let suppressed = 0;
  setGlobalErrorHandler((error) => {
    const now = Date.now();
    if (now - lastReportAt < REMINDER_INTERVAL_MS) {
      suppressed += 1;
      return;
    }
    const record = {
      level: 'warn',
      message: 'OpenTelemetry export is failing; the service keeps serving, telemetry is buffered or dropped',
      context: 'Telemetry',
      error: error instanceof Error ? error.message : String(error),
      suppressed_since_last_report: suppressed,
      timestamp: new Date(now).toISOString(),
    };
    write(`${JSON.stringify(record)}\n`);
    lastReportAt = now;
    suppressed = 0;
  });
}
