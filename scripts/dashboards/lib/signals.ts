// PromQL shared by more than one dashboard: the checks that say whether the telemetry pipeline
// can be trusted. When one fails, the service dashboards may undercount or go stale, and both the
// landing page and the pipeline dashboard say so with the same expressions.
import { queueFillRatio, spec } from './knobs.ts';

const SIGNALS = ['spans', 'log_records', 'metric_points'] as const;

/** `(sum(rate(a[w])) or vector(0)) + ...`: a total that stays a number while some counters do not exist yet. */
const sumOfRates = (metrics: string[], window: string) =>
  metrics.map((m) => `(sum(rate(${m}[${window}])) or vector(0))`).join('\n  + ');

interface Check {
  name: string;
  expr: string;
  meaning: string;
}

const checks: Check[] = [
  {
    name: 'collector or app scrape down',
    expr: `((1 - min(up{job=~"otel-collector|${spec.service}"})) or vector(1))\n  + (absent(up{job="${spec.service}"}) or vector(0))`,
    meaning: 'Prometheus cannot scrape the collector, or the collector cannot scrape a replica: app metrics are stale.',
  },
  {
    name: 'exporter stalled',
    expr:
      `count(\n  otelcol_exporter_queue_size{job="otel-collector"} > 0\n  unless on (exporter)\n  (\n` +
      SIGNALS.map((s) => `    rate(otelcol_exporter_sent_${s}{job="otel-collector"}[5m]) > 0`).join('\n    or\n') +
      `\n  )\n) or vector(0)`,
    meaning: 'A sending queue holds data and nothing has been delivered for 5 minutes: its backend is down.',
  },
  {
    name: 'sending queue filling',
    expr: `(max(otelcol_exporter_queue_size{job="otel-collector"} / otelcol_exporter_queue_capacity{job="otel-collector"}) > bool ${queueFillRatio}) or vector(0)`,
    meaning: `A sending queue is over ${queueFillRatio * 100}% full (TelemetryExportBacklog): data will soon be refused.`,
  },
  {
    name: 'collector refusing or failing',
    expr:
      `(\n  ${sumOfRates(
        SIGNALS.flatMap((s) => [`otelcol_receiver_refused_${s}{job="otel-collector"}`, `otelcol_receiver_failed_${s}{job="otel-collector"}`, `otelcol_exporter_send_failed_${s}{job="otel-collector"}`]),
        '5m',
      )}\n) > bool 0`,
    meaning: 'The collector refuses data (memory limiter), fails to receive it, or fails to send it (TelemetryRefused).',
  },
  {
    name: 'SDK dropping',
    expr: `(\n  ${sumOfRates(
      [`otel_sdk_processor_span_processed_total{job="${spec.service}", error_type!=""}`, `otel_sdk_processor_log_processed_total{job="${spec.service}", error_type!=""}`],
      '5m',
    )}\n) > bool 0`,
    meaning: 'A replica drops spans or log records before export (queue full or export failed): traces and logs are missing.',
  },
];

/** Each check is 1 while it fails, 0 while it passes; all are instant "now" views over 5 minutes. */
export const PIPELINE_CHECKS: Check[] = checks.map((check) => ({ ...check, expr: `clamp_max(\n${check.expr}\n, 1)` }));

/** How many pipeline checks fail now: 0 means the dashboards can be trusted. */
export const pipelineProblems = PIPELINE_CHECKS.map((c) => c.expr).join('\n+\n');
