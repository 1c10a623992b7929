// Can the telemetry be trusted? Every signal's path, end to end: the SDK in each replica, the
// collector (accepted, refused, failed, queued, sent, per signal and exporter), and the backends'
// own ingestion. When something here is red, the service dashboards undercount or go stale.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { landingUid, queueFillRatio, runbookUrl, spec } from './lib/knobs.ts';
import { finalize, link, orZeroLike, prom, rangeText, stateTimeline, statPanel, timeSeries, stackDashboard, valueText } from './lib/panels.ts';
import { PIPELINE_CHECKS, pipelineProblems } from './lib/signals.ts';
import { environmentVariable, replicaVariable } from './lib/variables.ts';

/** The collector's per-signal metric suffix and the data_type its queue metrics carry. */
const SIGNALS = [
  { name: 'spans', suffix: 'spans', dataType: 'traces' },
  { name: 'log records', suffix: 'log_records', dataType: 'logs' },
  { name: 'metric points', suffix: 'metric_points', dataType: 'metrics' },
] as const;

/** The SDK's batch processors' outcome counter, in the selected replicas. */
const sdk = (kind: 'span' | 'log', extra = '') =>
  `otel_sdk_processor_${kind}_processed_total{job="${spec.service}", instance=~"$instance"${extra ? `, ${extra}` : ''}}`;

const runbook = (alert: string) => link(`Runbook: ${alert}`, runbookUrl(alert), true);

export function telemetryPipeline(): dashboard.Dashboard {
  const board = stackDashboard(
    'Telemetry pipeline',
    'telemetry-pipeline',
    'The path of every signal: SDK in each replica -> collector (received, refused, queued, sent) -> Prometheus, Tempo, Loki. ' +
      'When a check here fails, the service dashboards may lie.',
    ['telemetry'],
  )
    .withVariable(environmentVariable())
    .withVariable(replicaVariable());

  // ---------------- verdict ----------------
  board.withRow(new dashboard.RowBuilder('Verdict: can the telemetry be trusted?'));
  board.withPanel(
    statPanel({
      title: 'Pipeline',
      description: 'How many of the checks on the right fail now. The landing dashboard shows the same verdict.',
      queries: [prom(pipelineProblems, 'failing checks', { instant: true })],
      mappings: [valueText({ '0': { text: 'OK', color: 'green' } }), rangeText(1, null, 'DEGRADED', 'red')],
      thresholds: [
        { value: null, color: 'green' },
        { value: 1, color: 'red' },
      ],
      width: 4,
      links: [link('Dice API health', `/d/${landingUid}?\${__url_time_range}`)],
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Checks',
      description: PIPELINE_CHECKS.map((c) => `${c.name}: ${c.meaning}`).join(' '),
      queries: PIPELINE_CHECKS.map((c) => prom(c.expr, c.name, { instant: true })),
      mappings: [valueText({ '0': { text: 'OK', color: 'green' } }), rangeText(1, null, 'FAILING', 'red')],
      thresholds: [
        { value: null, color: 'green' },
        { value: 1, color: 'red' },
      ],
      textMode: common.BigValueTextMode.ValueAndName,
      width: 20,
      links: [runbook('TelemetryCollectorDown'), runbook('TelemetryExportBacklog'), runbook('TelemetryRefused')],
    }),
  );

  // ---------------- collector in ----------------
  board.withRow(new dashboard.RowBuilder('Collector: received'));
  board.withPanel(
    timeSeries({
      title: 'Accepted, per signal',
      description: 'Items the collector\'s receivers accepted per second: spans and log records pushed by the replicas (otlp), metric points scraped from them (prometheus).',
      queries: SIGNALS.map((s) => prom(`sum by (receiver) (rate(otelcol_receiver_accepted_${s.suffix}{job="otel-collector"}[$__rate_interval]))`, `${s.name} ({{receiver}})`)),
      unit: 'short',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Refused and failed on receipt, per signal',
      description: 'Refused: the memory limiter pushed back (the sender retries). Failed: the receiver could not take the data. Anything above 0 means missing or late data.',
      queries: SIGNALS.flatMap((s) => [
        prom(`sum(rate(otelcol_receiver_refused_${s.suffix}{job="otel-collector"}[$__rate_interval])) or vector(0)`, `refused ${s.name}`),
        prom(`sum(rate(otelcol_receiver_failed_${s.suffix}{job="otel-collector"}[$__rate_interval])) or vector(0)`, `failed ${s.name}`),
      ]),
      unit: 'short',
      min: 0,
      thresholds: [
        { value: null, color: 'green' },
        { value: 0.001, color: 'red' },
      ],
      thresholdLines: false,
      links: [runbook('TelemetryRefused')],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Collector process',
      description: 'CPU (cores) and resident memory of the collector. The memory limiter refuses data at 80% of its container limit.',
      queries: [
        prom('sum(rate(otelcol_process_cpu_seconds{job="otel-collector"}[$__rate_interval]))', 'cpu (cores)'),
        prom('sum(otelcol_process_memory_rss{job="otel-collector"}) / 2^30', 'rss (GiB)'),
      ],
      unit: 'short',
      min: 0,
    }),
  );

  // ---------------- collector out ----------------
  board.withRow(new dashboard.RowBuilder('Collector: sent to the backends'));
  board.withPanel(
    timeSeries({
      title: 'Sent, by exporter',
      description: 'Items per second each exporter delivered: otlp_http/tempo (spans; otlp_grpc/tempo on Kubernetes), otlp_http/loki (log records), otlp_http/prometheus (metric points). Zero while its queue holds data: the backend is down.',
      queries: SIGNALS.map((s) =>
        prom(
          orZeroLike(
            `sum by (exporter) (rate(otelcol_exporter_sent_${s.suffix}{job="otel-collector"}[$__rate_interval]))`,
            `sum by (exporter) (otelcol_exporter_queue_capacity{job="otel-collector", data_type="${s.dataType}"})`,
          ),
          `{{exporter}}`,
        ),
      ),
      unit: 'short',
      min: 0,
      width: 6,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Send failures, by exporter',
      description: 'Items per second an exporter gave up on. The queues retry without a deadline, so failures here mean data lost.',
      queries: SIGNALS.map((s) =>
        prom(
          orZeroLike(
            `sum by (exporter) (rate(otelcol_exporter_send_failed_${s.suffix}{job="otel-collector"}[$__rate_interval]))`,
            `sum by (exporter) (otelcol_exporter_queue_capacity{job="otel-collector", data_type="${s.dataType}"})`,
          ),
          `{{exporter}}`,
        ),
      ),
      unit: 'short',
      min: 0,
      width: 6,
      links: [runbook('TelemetryRefused')],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Sending queue fill, by exporter',
      description: `Share of each exporter's on-disk queue in use. TelemetryExportBacklog fires above ${queueFillRatio * 100}% (dashed); at 100% new data is refused.`,
      queries: [prom('max by (exporter) (otelcol_exporter_queue_size{job="otel-collector"} / otelcol_exporter_queue_capacity{job="otel-collector"})', '{{exporter}}')],
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [
        { value: null, color: 'green' },
        { value: queueFillRatio, color: 'red' },
      ],
      width: 6,
      links: [runbook('TelemetryExportBacklog')],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Sending queue size and capacity',
      description: 'Batches waiting in each exporter\'s queue, and how many it can hold.',
      queries: [
        prom('max by (exporter) (otelcol_exporter_queue_size{job="otel-collector"})', 'size {{exporter}}'),
        prom('max by (exporter) (otelcol_exporter_queue_capacity{job="otel-collector"})', 'capacity {{exporter}}'),
      ],
      unit: 'short',
      min: 0,
      width: 6,
    }),
  );

  // ---------------- SDK ----------------
  board.withRow(new dashboard.RowBuilder('SDK in each replica: exported and dropped'));
  for (const kind of ['span', 'log'] as const) {
    const what = kind === 'span' ? 'Spans' : 'Log records';
    board.withPanel(
      timeSeries({
        title: `${what}: exported and dropped, by replica`,
        description: `${what} the replica's batch processor finished per second: exported, or dropped (error_type: queue full, export failed). Dropped ones never reach the collector.`,
        queries: [
          prom(`sum by (instance) (rate(${sdk(kind, 'error_type=""')}[$__rate_interval]))`, 'exported {{instance}}'),
          prom(
            orZeroLike(
              `sum by (instance, error_type) (rate(${sdk(kind, 'error_type!=""')}[$__rate_interval]))`,
              `sum by (instance) (rate(${sdk(kind)}[$__rate_interval]))`,
            ),
            'dropped {{instance}} {{error_type}}',
          ),
        ],
        unit: 'short',
        min: 0,
        links: [runbook('TelemetryRefused')],
      }),
    );
  }
  board.withPanel(
    timeSeries({
      title: 'SDK queue fill, by replica',
      description: 'Share of each replica\'s span and log queues in use. A full queue drops new records.',
      queries: (['span', 'log'] as const).map((kind) =>
        prom(
          `max by (instance) (otel_sdk_processor_${kind}_queue_size{job="${spec.service}", instance=~"$instance"} / otel_sdk_processor_${kind}_queue_capacity{job="${spec.service}", instance=~"$instance"})`,
          `${kind} {{instance}}`,
        ),
      ),
      unit: 'percentunit',
      min: 0,
      max: 1,
    }),
  );

  // ---------------- backends ----------------
  board.withRow(new dashboard.RowBuilder('Backends: ingestion'));
  board.withPanel(
    stateTimeline({
      title: 'Scrape targets up',
      description: 'Whether Prometheus can scrape each component of the pipeline (up). Tempo and Loki report their own ingestion below only while up.',
      queries: [prom('max by (job) (up{job=~"prometheus|otel-collector|tempo|loki|alertmanager"})', '{{job}}')],
      mappings: [valueText({ '0': { text: 'DOWN', color: 'red' }, '1': { text: 'UP', color: 'green' } })],
      width: 24,
      height: 5,
      links: [runbook('TelemetryCollectorDown')],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Prometheus: samples and exemplars appended',
      description: 'Samples and exemplars Prometheus stores per second (scrapes, OTLP from the collector, remote write from Tempo), and out-of-order samples it accepted late.',
      queries: [
        prom('sum(rate(prometheus_tsdb_head_samples_appended_total{job="prometheus"}[$__rate_interval]))', 'samples'),
        prom('sum(rate(prometheus_tsdb_exemplar_exemplars_appended_total{job="prometheus"}[$__rate_interval]))', 'exemplars'),
        prom('sum(rate(prometheus_tsdb_out_of_order_samples_total{job="prometheus"}[$__rate_interval]))', 'out of order'),
      ],
      unit: 'short',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Prometheus: OTLP and remote-write requests, by status',
      description: 'Pushes Prometheus received per second: OTLP from the collector (/api/v1/otlp/v1/metrics) and remote write from Tempo\'s metrics-generator (/api/v1/write), by HTTP code.',
      queries: [
        prom(
          'sum by (handler, code) (rate(prometheus_http_requests_total{job="prometheus", handler=~"/api/v1/otlp/v1/metrics|/api/v1/write"}[$__rate_interval]))',
          '{{handler}} {{code}}',
        ),
      ],
      unit: 'reqps',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Tempo: spans received and discarded',
      description: 'Spans Tempo\'s distributor received per second, and those it discarded by reason (rate limits, trace too large, ...).',
      queries: [
        prom('sum(rate(tempo_distributor_spans_received_total{job="tempo"}[$__rate_interval]))', 'received'),
        prom('sum by (reason) (rate(tempo_discarded_spans_total{job="tempo"}[$__rate_interval])) or (sum(up{job="tempo"}) * 0)', 'discarded {{reason}}'),
      ],
      unit: 'short',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Loki: lines received and discarded',
      description: 'Log lines Loki\'s distributor received per second, and samples it discarded by reason (rate limits, too old, line too long, ...).',
      queries: [
        prom('sum(rate(loki_distributor_lines_received_total{job="loki"}[$__rate_interval]))', 'received'),
        prom('sum by (reason) (rate(loki_discarded_samples_total{job="loki"}[$__rate_interval])) or (sum(up{job="loki"}) * 0)', 'discarded {{reason}}'),
      ],
      unit: 'short',
      min: 0,
    }),
  );

  return finalize(board.build());
}
