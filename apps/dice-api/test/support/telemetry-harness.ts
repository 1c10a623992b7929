// Started before every test file (vitest setupFiles): the real SDK setup of the app, with
// in-memory exporters in place of OTLP so that tests can read what the app emitted.
import { startTelemetry } from '@app/telemetry';
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';

interface Harness {
  spans: InMemorySpanExporter;
  logs: InMemoryLogRecordExporter;
}

const key = Symbol.for('dice-api.test.telemetry-harness');
const holder = globalThis as typeof globalThis & { [key]?: Harness };

if (!holder[key]) {
  const spans = new InMemorySpanExporter();
  const logs = new InMemoryLogRecordExporter();
  startTelemetry({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
    logRecordProcessors: [new SimpleLogRecordProcessor({ exporter: logs })],
  });
  holder[key] = { spans, logs };
}

/** What the app exported in this test process so far. */
export const exported: Harness = holder[key]!;
