import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { durationSeconds, normalDelays, readSources } from './pipeline-delays.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sources = () => structuredClone(readSources(ROOT));

describe('durationSeconds', () => {
  it('reads the duration strings of the collector and Prometheus configs', () => {
    expect(durationSeconds('10s')).toBe(10);
    expect(durationSeconds('500ms')).toBe(0.5);
    expect(durationSeconds('1m30s')).toBe(90);
    expect(() => durationSeconds('10')).toThrow('not a duration: "10"');
    expect(() => durationSeconds('10s junk')).toThrow(/not a duration/);
  });
});

describe('normalDelays', () => {
  it('adds up the waits of the committed configs, naming each setting', () => {
    const compose = normalDelays('compose', readSources(ROOT));
    // otel-collector/config.yaml: dice-api scrape_interval 10s, every exporter's flush_timeout 1s,
    // span_metrics metrics_flush_interval 1s; docker-compose.yml leaves the SDK's batch delays unset.
    expect(compose.metric.seconds).toBe(11);
    expect(compose.metric.because).toMatch(/scrape_interval 10s \+ otlp_http\/prometheus batch flush_timeout 1s/);
    expect(compose.exemplar.seconds).toBe(7);
    expect(compose.exemplar.because).toMatch(/OTEL_BSP_SCHEDULE_DELAY unset: SDK default 5000 ms \+ span_metrics metrics_flush_interval 1s/);
    expect(compose.trace.seconds).toBe(6);
    expect(compose.trace.because).toMatch(/query_end_cutoff/);
    expect(compose.logs.seconds).toBe(2);
    expect(compose.alertmanager.seconds).toBe(15);
  });

  it("uses the native replicas' shorter batch delays from scripts/native/stack.ts", () => {
    const native = normalDelays('native', readSources(ROOT));
    expect(native.exemplar.seconds).toBe(3);
    expect(native.exemplar.because).toMatch(/OTEL_BSP_SCHEDULE_DELAY=1000 \(scripts\/native\/stack\.ts\)/);
    expect(native.trace.seconds).toBe(2);
    expect(native.logs.because).toMatch(/OTEL_BLRP_SCHEDULE_DELAY=1000/);
  });

  it('follows the configs when they change', () => {
    const s = sources();
    s.collector['receivers']['prometheus']['config']['scrape_configs'][0]['scrape_interval'] = '30s';
    s.collector['exporters']['otlp_http/tempo']['sending_queue']['batch'] = { flush_timeout: '200ms' };
    s.compose['x-dice-api-env']['OTEL_BSP_SCHEDULE_DELAY'] = '2000';
    const d = normalDelays('compose', s);
    expect(d.metric.seconds).toBe(31);
    expect(d.trace.seconds).toBe(2.2);
    expect(d.trace.because).toMatch(/OTEL_BSP_SCHEDULE_DELAY=2000 \(docker-compose\.yml\)/);
  });

  it('names the missing setting when a config lacks one', () => {
    const s = sources();
    delete s.collector['exporters']['otlp_http/loki']['sending_queue']['batch'];
    expect(() => normalDelays('compose', s)).toThrow('otel-collector/config.yaml: exporters.otlp_http/loki.sending_queue.batch.flush_timeout is missing');
  });
});
