// Builds the Prometheus rule groups from observability/slo/spec.yaml: SLO recording rules,
// multi-window multi-burn-rate alerts, the absent-SLI alerts, and the service's other alerts.
import { chiSquareCritical } from './chi-square.ts';

export interface SloSpec {
  name: string;
  objective: number;
  description: string;
  errors: string;
  total: string;
  absent_severity: 'page' | 'ticket';
  absent_selector: string;
}

export interface BurnRateAlert {
  severity: 'page' | 'ticket';
  long: string;
  short: string;
  burn_rate: number;
}

export interface Spec {
  service: string;
  runbook_base: string;
  dashboard_url: string;
  period_days: number;
  slos: SloSpec[];
  burn_rate_alerts: BurnRateAlert[];
  alerts: {
    replica_down: { for: string; severity: string };
    telemetry_pipeline: { queue_fill_ratio: number; for: string; severity: string };
    die_fairness: { window: string; p_value: number; min_rolls_per_face: number; for: string; severity: string; sides: number[] };
  };
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

const DURATION = /^\d+[smhd]$/;

/** Refuses a spec that would generate wrong rules, naming the field. */
export function validateSpec(spec: Spec): Spec {
  const fail = (field: string, why: string): never => {
    throw new Error(`observability/slo/spec.yaml: ${field} ${why}`);
  };
  if (!spec.service) fail('service', 'is required');
  if (!(spec.period_days > 0)) fail('period_days', 'must be a positive number of days');
  if (!Array.isArray(spec.slos) || spec.slos.length === 0) fail('slos', 'must list at least one SLO');
  for (const [i, slo] of spec.slos.entries()) {
    if (!/^[a-z][a-z0-9-]*$/.test(slo.name ?? '')) fail(`slos[${i}].name`, 'must be lower-case words joined by -');
    if (!(slo.objective > 0 && slo.objective < 100)) fail(`slos[${i}].objective`, 'must be a percentage between 0 and 100');
    for (const q of ['errors', 'total'] as const) {
      if (!slo[q]?.includes('{{window}}')) fail(`slos[${i}].${q}`, 'must contain {{window}} where the rate window goes');
    }
    if (!['page', 'ticket'].includes(slo.absent_severity)) fail(`slos[${i}].absent_severity`, 'must be page or ticket');
    if (!slo.absent_selector) fail(`slos[${i}].absent_selector`, 'is required');
  }
  for (const [i, a] of spec.burn_rate_alerts.entries()) {
    if (!DURATION.test(a.long) || !DURATION.test(a.short)) fail(`burn_rate_alerts[${i}]`, 'windows must be durations like 5m, 1h, 3d');
    if (!(a.burn_rate > 0)) fail(`burn_rate_alerts[${i}].burn_rate`, 'must be positive');
  }
  return spec;
}

const title = (name: string) => name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
const serviceTitle = (spec: Spec) => title(spec.service).replace(/Api$/, 'Api');
export const burnAlertName = (spec: Spec, slo: SloSpec) => `${serviceTitle(spec)}${title(slo.name)}BudgetBurn`;
export const absentAlertName = (spec: Spec, slo: SloSpec) => `${serviceTitle(spec)}${title(slo.name)}SLIAbsent`;

/** Every window the alerts need, shortest first. */
function windowsOf(spec: Spec): string[] {
  const seconds = (d: string) => Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600, d: 86400 }[d.at(-1) as 's' | 'm' | 'h' | 'd'];
  const all = new Set(spec.burn_rate_alerts.flatMap((a) => [a.long, a.short]));
  all.add('5m');
  return [...all].sort((a, b) => seconds(a) - seconds(b));
}

const fmt = (n: number) => String(Number(n.toPrecision(12)));

export function sloRecordingGroups(spec: Spec): RuleGroup[] {
  return spec.slos.map((slo) => {
    const labels = { slo: slo.name, slo_service: spec.service };
    const sel = `{slo="${slo.name}", slo_service="${spec.service}"}`;
    const budget = 1 - slo.objective / 100;
    const rules: Rule[] = windowsOf(spec).map((w) => ({
      record: `slo:sli_error:ratio_rate${w}`,
      // clamp_min keeps zero traffic at a ratio of 0 instead of NaN (0/0); with no series at
      // all the result is empty, which the absent alert reports.
      expr: `(${slo.errors.replaceAll('{{window}}', w)})\n/\nclamp_min(${slo.total.replaceAll('{{window}}', w)}, 1e-12)`,
      labels: { ...labels, slo_window: w },
    }));
    const period = `${spec.period_days}d`;
    rules.push(
      {
        record: `slo:sli_error:ratio_rate${period}`,
        expr: `sum_over_time(slo:sli_error:ratio_rate5m${sel}[${period}])\n/ ignoring (slo_window)\ncount_over_time(slo:sli_error:ratio_rate5m${sel}[${period}])`,
        labels: { ...labels, slo_window: period },
      },
      { record: 'slo:objective:ratio', expr: `vector(${fmt(slo.objective / 100)})`, labels },
      { record: 'slo:error_budget:ratio', expr: `vector(${fmt(budget)})`, labels },
      { record: 'slo:time_period:days', expr: `vector(${spec.period_days})`, labels },
      {
        record: 'slo:current_burn_rate:ratio',
        expr: `max without (slo_window) (slo:sli_error:ratio_rate5m${sel})\n/ on (slo, slo_service) group_left\nslo:error_budget:ratio${sel}`,
        labels,
      },
      {
        record: 'slo:period_burn_rate:ratio',
        expr: `max without (slo_window) (slo:sli_error:ratio_rate${period}${sel})\n/ on (slo, slo_service) group_left\nslo:error_budget:ratio${sel}`,
        labels,
      },
      { record: 'slo:period_error_budget_remaining:ratio', expr: `1 - slo:period_burn_rate:ratio${sel}`, labels },
    );
    return { name: `slo-recording-${spec.service}-${slo.name}`, rules };
  });
}

export function sloAlertGroups(spec: Spec): RuleGroup[] {
  return spec.slos.map((slo) => {
    const sel = `{slo="${slo.name}", slo_service="${spec.service}"}`;
    const budget = 1 - slo.objective / 100;
    const name = burnAlertName(spec, slo);
    const bySeverity = (severity: string) => spec.burn_rate_alerts.filter((a) => a.severity === severity);
    const rules: Rule[] = [];
    for (const severity of ['page', 'ticket'] as const) {
      const conditions = bySeverity(severity).map((a) => {
        const threshold = fmt(a.burn_rate * budget);
        return (
          `(\n  max without (slo_window) (slo:sli_error:ratio_rate${a.long}${sel} > ${threshold})\n` +
          `  and\n  max without (slo_window) (slo:sli_error:ratio_rate${a.short}${sel} > ${threshold})\n)`
        );
      });
      if (conditions.length === 0) continue;
      const windows = bySeverity(severity).map((a) => `${a.burn_rate}x over ${a.long} and ${a.short}`).join(', or ');
      rules.push({
        alert: name,
        // The value is the long window's error ratio; one alert whichever pair of windows fires.
        expr: conditions.join('\nor\n'),
        // Both windows already filter blips; `for` only absorbs one evaluation of scrape jitter.
        for: severity === 'page' ? '2m' : '15m',
        labels: { severity, slo: slo.name, service: spec.service },
        annotations: {
          summary: `${spec.service} is burning its ${slo.name} error budget ${severity === 'page' ? 'fast' : 'slowly'}`,
          description:
            `The ${slo.name} SLO (${slo.objective}% over ${spec.period_days} days) is failing at {{ $value | humanizePercentage }} ` +
            `of requests over the long window (${windows}); the budget is ${fmt(budget * 100)}%. ${slo.description}`,
          runbook_url: `${spec.runbook_base}/${name}.md`,
          dashboard_url: spec.dashboard_url,
        },
      });
    }
    rules.push({
      alert: absentAlertName(spec, slo),
      expr: `absent(${slo.absent_selector})`,
      for: '5m',
      labels: { severity: slo.absent_severity, slo: slo.name, service: spec.service },
      annotations: {
        summary: `The ${slo.name} SLI of ${spec.service} has no data`,
        description: `No ${slo.absent_selector} (absent: {{ $labels }}) has reached Prometheus for 5 minutes: the ${slo.name} SLO cannot be judged, and its burn alerts cannot fire.`,
        runbook_url: `${spec.runbook_base}/${absentAlertName(spec, slo)}.md`,
        dashboard_url: spec.dashboard_url,
      },
    });
    return { name: `slo-alerts-${spec.service}-${slo.name}`, rules };
  });
}

export function serviceRecordingGroups(spec: Spec): RuleGroup[] {
  const f = spec.alerts.die_fairness;
  const w = f.window;
  return [
    {
      name: `${spec.service}-fairness-recording`,
      rules: [
        { record: `dice:face_rolls:increase${w}`, expr: `sum by (dice_sides, dice_face) (increase(dice_rolls_total{job="${spec.service}"}[${w}]))` },
        {
          // Each face's expected count under a fair die: the rolls of that die over its faces.
          record: `dice:face_rolls_expected:increase${w}`,
          expr: `sum by (dice_sides) (dice:face_rolls:increase${w})\n/ on (dice_sides)\ncount by (dice_sides) (dice:face_rolls:increase${w})`,
        },
        {
          // Pearson's statistic: sum over faces of (observed - expected)^2 / expected.
          record: `dice:chi_square:${w}`,
          expr:
            `sum by (dice_sides) (\n  (dice:face_rolls:increase${w} - on (dice_sides) group_left dice:face_rolls_expected:increase${w}) ^ 2\n` +
            `  / on (dice_sides) group_left clamp_min(dice:face_rolls_expected:increase${w}, 1e-9)\n)`,
        },
        ...f.sides.map((sides) => ({
          record: `dice:chi_square_critical:p${String(f.p_value).replace('0.', '')}`,
          expr: `vector(${chiSquareCritical(f.p_value, sides - 1).toFixed(3)})`,
          labels: { dice_sides: String(sides) },
        })),
      ],
    },
  ];
}

export function serviceAlertGroups(spec: Spec): RuleGroup[] {
  const { replica_down: down, telemetry_pipeline: pipe, die_fairness: f } = spec.alerts;
  const p = String(f.p_value).replace('0.', '');
  const link = (alert: string) => ({ runbook_url: `${spec.runbook_base}/${alert}.md`, dashboard_url: spec.dashboard_url });
  return [
    {
      name: `${spec.service}-alerts`,
      rules: [
        {
          alert: 'DiceApiReplicaDown',
          // The balancer's own health check: what decides whether the replica gets traffic.
          expr: `haproxy_server_status{proxy="${spec.service}", state="UP"} == 0`,
          for: down.for,
          labels: { severity: down.severity, service: spec.service },
          annotations: {
            summary: 'A dice-api replica is out of the load balancer',
            description: 'Replica {{ $labels.server }} has failed its readiness check (GET /health/ready) on the load balancer; the other replica serves all traffic.',
            ...link('DiceApiReplicaDown'),
          },
        },
        {
          alert: 'DiceBiased',
          expr:
            `dice:chi_square:${f.window} > on (dice_sides) dice:chi_square_critical:p${p}\n` +
            `and on (dice_sides)\ndice:face_rolls_expected:increase${f.window} >= ${f.min_rolls_per_face}`,
          for: f.for,
          labels: { severity: f.severity, service: spec.service },
          annotations: {
            summary: 'A die is not fair',
            description:
              `The faces of the d{{ $labels.dice_sides }} over the last ${f.window} are not uniform: chi-square {{ $value | printf "%.1f" }} ` +
              `is beyond the critical value at p = ${f.p_value}. Check whether a fault-injection drill set a bias (dice_faults_bias).`,
            ...link('DiceBiased'),
          },
        },
      ],
    },
    {
      name: 'telemetry-pipeline-alerts',
      rules: [
        {
          alert: 'TelemetryCollectorDown',
          expr: 'up{job="otel-collector"} == 0',
          for: '2m',
          labels: { severity: 'ticket', service: 'otel-collector' },
          annotations: {
            summary: 'The OpenTelemetry Collector is not answering',
            description: 'Prometheus cannot scrape the collector at {{ $labels.instance }}: traces, logs and the app metrics are not arriving, and the service dashboards are out of date.',
            ...link('TelemetryCollectorDown'),
          },
        },
        {
          alert: 'TelemetryExportBacklog',
          expr: `max by (exporter) (otelcol_exporter_queue_size / otelcol_exporter_queue_capacity) > ${pipe.queue_fill_ratio}`,
          for: pipe.for,
          labels: { severity: pipe.severity, service: 'otel-collector' },
          annotations: {
            summary: 'The collector cannot deliver telemetry to a backend',
            description: 'The sending queue of {{ $labels.exporter }} is {{ $value | humanizePercentage }} full: its backend is unreachable or too slow. Data is held on disk for now; when the queue is full it will be refused.',
            ...link('TelemetryExportBacklog'),
          },
        },
        {
          alert: 'TelemetryRefused',
          expr:
            'sum by (receiver) (rate(otelcol_receiver_refused_spans[5m]) + rate(otelcol_receiver_refused_log_records[5m]) + rate(otelcol_receiver_refused_metric_points[5m])) > 0\n' +
            'or\nsum by (job, instance) (rate(otel_sdk_processor_span_processed_total{error_type!=""}[5m]) + rate(otel_sdk_processor_log_processed_total{error_type!=""}[5m])) > 0',
          for: pipe.for,
          labels: { severity: pipe.severity, service: 'otel-collector' },
          annotations: {
            summary: 'Telemetry is being dropped',
            description: 'The collector refuses data ({{ $labels.receiver }}) or an SDK drops it ({{ $labels.instance }}) at {{ $value | printf "%.1f" }}/s: dashboards undercount and some traces and logs are missing.',
            ...link('TelemetryRefused'),
          },
        },
      ],
    },
  ];
}
