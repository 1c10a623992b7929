// Which instrumentations the service runs under the standard variables: they narrow the set of
// telemetry.sdk.ts, never widen it, and OTEL_LOGS_EXPORTER=none stops the winston OTLP transport.
import { describe, expect, it } from 'vitest';
import { instrumentationConfig } from './telemetry.sdk.js';

const on = (env: Record<string, string>, options = { metrics: true, otlpLogs: true }) => {
  const { config, unknown } = instrumentationConfig(env, options);
  return {
    enabled: Object.entries(config)
      .filter(([, c]) => (c as { enabled?: boolean }).enabled)
      .map(([name]) => name.replace('@opentelemetry/instrumentation-', ''))
      .sort(),
    config,
    unknown,
  };
};

describe('instrumentationConfig', () => {
  it('runs exactly its own set when no variable is set', () => {
    expect(on({}).enabled).toEqual(['host-metrics', 'http', 'runtime-node', 'winston']);
  });

  it('OTEL_NODE_ENABLED_INSTRUMENTATIONS keeps only the names listed, never one that is off here', () => {
    expect(on({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: ' http , nestjs-core' }).enabled).toEqual(['http']);
  });

  it('OTEL_NODE_DISABLED_INSTRUMENTATIONS switches off the names listed, and wins over the enabled list', () => {
    expect(on({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'runtime-node,host-metrics' }).enabled).toEqual(['http', 'winston']);
    expect(on({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,winston', OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'winston' }).enabled).toEqual(['http']);
  });

  it('returns the names it does not know, to be reported', () => {
    expect(on({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,htp' }).unknown).toEqual(['htp']);
  });

  it('keeps log correlation but sends no log records over OTLP without a logs exporter', () => {
    expect(on({}, { metrics: true, otlpLogs: false }).config['@opentelemetry/instrumentation-winston']).toMatchObject({ enabled: true, disableLogSending: true });
    expect(on({}).config['@opentelemetry/instrumentation-winston']).not.toHaveProperty('disableLogSending');
  });

  it('runs no metrics-only instrumentation without metrics, and keeps the http hooks', () => {
    const { enabled, config } = on({}, { metrics: false, otlpLogs: true });
    expect(enabled).toEqual(['http', 'winston']);
    expect(config['@opentelemetry/instrumentation-http']).toHaveProperty('ignoreIncomingRequestHook');
  });
});
