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

export interface BudgetAlerts {
  /** Remaining fraction of the period's budget at which the low-budget ticket opens. */
  low_remaining: number;
  for: string;
}

export interface Spec {
  service: string;
  runbook_base: string;
  dashboard_url: string;
  period_days: number;
  slos: SloSpec[];
  burn_rate_alerts: BurnRateAlert[];
  /** A burn alert also needs this many failed requests in its long window (the low-traffic guard). */
  min_failed_requests: number;
  budget_alerts: BudgetAlerts;
  /** Where the budget alerts point: the written policy of what the team does at each level. */
  policy_url: string;
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

/**
 * The period the windows of burn_rate_alerts are written for (the SRE workbook's table 5-8).
 * Another period scales every window by period_days / 30, rounded to the minute, and keeps the
 * factors: the way Pyrra does it (slo/rules.go, Windows(), v0.10.1, whose base is 28 days). The
 * budget a pair spends before it fires stays the same share of the period.
 */
export const WINDOWS_PERIOD_DAYS = 30;
/**
 * The burn alerts' `for:`. Both windows already filter blips; `for` only absorbs one evaluation
 * of scrape jitter, so it does not scale with the period.
 */
export const BURN_ALERT_FOR = { page: '2m', ticket: '15m' } as const;
/** Periods the scaling keeps sensible: at 7 days the 5m short window becomes 1m (one scrape every 15 s still gives it 4 samples). */
export const PERIOD_DAYS_ALLOWED = { min: 7, max: 90 };

const SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
export const seconds = (d: string) => Number(d.slice(0, -1)) * SECONDS[d.at(-1) as keyof typeof SECONDS];
/** Minutes as the shortest Prometheus duration that says them exactly (1440 -> 1d, 84 -> 84m). */
const duration = (minutes: number) => (minutes % 1440 === 0 ? `${minutes / 1440}d` : minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`);

/** The burn-rate pairs at the spec's period: windows scaled like Pyrra's, factors unchanged. */
export function burnRateAlerts(spec: Spec): BurnRateAlert[] {
  if (spec.period_days === WINDOWS_PERIOD_DAYS) return spec.burn_rate_alerts;
  const scale = (w: string) => duration(Math.max(1, Math.round((seconds(w) / 60) * (spec.period_days / WINDOWS_PERIOD_DAYS))));
  return spec.burn_rate_alerts.map((a) => ({ ...a, long: scale(a.long), short: scale(a.short) }));
}

/** Refuses a spec that would generate wrong rules, naming the field. */
export function validateSpec(spec: Spec): Spec {
  const fail = (field: string, why: string): never => {
    throw new Error(`observability/slo/spec.yaml: ${field} ${why}`);
  };
  if (!spec.service) fail('service', 'is required');
  const { min, max } = PERIOD_DAYS_ALLOWED;
  if (!(Number.isInteger(spec.period_days) && spec.period_days >= min && spec.period_days <= max)) {
    fail('period_days', `is ${JSON.stringify(spec.period_days)}; allowed: a whole number of days from ${min} to ${max} (e.g. 7, 28, 30), whose windows are the 30-day ones scaled by period_days / 30`);
  }
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
  if (!(Number.isInteger(spec.min_failed_requests) && spec.min_failed_requests >= 0)) fail('min_failed_requests', 'must be a whole number (0: no low-traffic guard)');
  const b = spec.budget_alerts;
  if (!(b?.low_remaining > 0 && b.low_remaining < 1)) fail('budget_alerts.low_remaining', 'must be a fraction between 0 and 1');
  if (!DURATION.test(b.for ?? '')) fail('budget_alerts.for', 'must be a duration like 5m');
  if (!/^https?:\/\//.test(spec.policy_url ?? '')) fail('policy_url', 'must be a URL');
  return spec;
}

const title = (name: string) => name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
const serviceTitle = (spec: Spec) => title(spec.service).replace(/Api$/, 'Api');
export const burnAlertName = (spec: Spec, slo: SloSpec) => `${serviceTitle(spec)}${title(slo.name)}BudgetBurn`;
export const absentAlertName = (spec: Spec, slo: SloSpec) => `${serviceTitle(spec)}${title(slo.name)}SLIAbsent`;
export const budgetLowAlertName = (spec: Spec, slo: SloSpec) => `${serviceTitle(spec)}${title(slo.name)}BudgetLow`;
export const budgetExhaustedAlertName = (spec: Spec, slo: SloSpec) => `${serviceTitle(spec)}${title(slo.name)}BudgetExhausted`;

/** Every window the alerts need, shortest first. */
function windowsOf(spec: Spec): string[] {
  const all = new Set(burnRateAlerts(spec).flatMap((a) => [a.long, a.short]));
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
    // Failed requests in each long window, for the low-traffic guard: a ratio alone cannot tell
    // 5 failures out of 60 requests from 5,000 out of 60,000.
    if (spec.min_failed_requests > 0) {
      for (const w of [...new Set(burnRateAlerts(spec).map((a) => a.long))]) {
        rules.push({ record: `slo:sli_error:requests_increase${w}`, expr: `(${slo.errors.replaceAll('{{window}}', w)}) * ${seconds(w)}`, labels: { ...labels, slo_window: w } });
      }
    }
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
    const bySeverity = (severity: string) => burnRateAlerts(spec).filter((a) => a.severity === severity);
    const guard = (long: string) =>
      spec.min_failed_requests > 0 ? `\n  and\n  max without (slo_window) (slo:sli_error:requests_increase${long}${sel} >= ${spec.min_failed_requests})` : '';
    const rules: Rule[] = [];
    for (const severity of ['page', 'ticket'] as const) {
      const conditions = bySeverity(severity).map((a) => {
        const threshold = fmt(a.burn_rate * budget);
        return (
          `(\n  max without (slo_window) (slo:sli_error:ratio_rate${a.long}${sel} > ${threshold})\n` +
          `  and\n  max without (slo_window) (slo:sli_error:ratio_rate${a.short}${sel} > ${threshold})${guard(a.long)}\n)`
        );
      });
      if (conditions.length === 0) continue;
      const windows = bySeverity(severity).map((a) => `${a.burn_rate}x over ${a.long} and ${a.short}`).join(', or ');
      rules.push({
        alert: name,
        // The value is the long window's error ratio; one alert whichever pair of windows fires.
        expr: conditions.join('\nor\n'),
        for: BURN_ALERT_FOR[severity],
        labels: { severity, slo: slo.name, service: spec.service },
        annotations: {
          summary: `${spec.service} is burning its ${slo.name} error budget ${severity === 'page' ? 'fast' : 'slowly'}`,
          description:
            `The ${slo.name} SLO (${slo.objective}% over ${spec.period_days} days) is failing at {{ $value | humanizePercentage }} ` +
            `of requests over the long window (${windows}${spec.min_failed_requests > 0 ? `, with at least ${spec.min_failed_requests} failed requests in it` : ''}); the budget is ${fmt(budget * 100)}%. ${slo.description}`,
          runbook_url: `${spec.runbook_base}/${name}.md`,
          dashboard_url: spec.dashboard_url,
        },
      });
    }
    // The period's budget, as the error-budget policy counts it: what it says the team does is
    // in the policy, linked from both. Sloth's error_budget_exhausted_alert_v1 plugin has the same
    // expression (remaining <= 0); the low level is ours.
    const b = spec.budget_alerts;
    const budgetAlert = (alert: string, threshold: number, summary: string, what: string): Rule => ({
      alert,
      expr: `slo:period_error_budget_remaining:ratio${sel} <= ${fmt(threshold)}`,
      for: b.for,
      labels: { severity: 'ticket', slo: slo.name, service: spec.service },
      annotations: {
        summary,
        description: `{{ $value | humanizePercentage }} of the ${slo.name} error budget (${fmt(budget * 100)}% of requests over ${spec.period_days} days) is left: ${what} See the error-budget policy.`,
        runbook_url: `${spec.runbook_base}/${alert}.md`,
        dashboard_url: spec.dashboard_url,
        policy_url: spec.policy_url,
      },
    });
    rules.push(
      budgetAlert(
        budgetLowAlertName(spec, slo),
        b.low_remaining,
        `${spec.service} has spent most of its ${slo.name} error budget`,
        `under ${fmt(b.low_remaining * 100)}%, the policy's warning level: releases go out only with a rollback plan, and reliability work is planned for this period.`,
      ),
      budgetAlert(
        budgetExhaustedAlertName(spec, slo),
        0,
        `${spec.service} has exhausted its ${slo.name} error budget`,
        'none, or less than none: by the policy, feature releases stop until the budget is positive again.',
      ),
    );
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
          expr: `max by (exporter) (otelcol_exporter_queue_size{job="otel-collector"} / otelcol_exporter_queue_capacity{job="otel-collector"}) > ${pipe.queue_fill_ratio}`,
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
            'sum by (receiver) (rate(otelcol_receiver_refused_spans{job="otel-collector"}[5m]) + rate(otelcol_receiver_refused_log_records{job="otel-collector"}[5m]) + rate(otelcol_receiver_refused_metric_points{job="otel-collector"}[5m])) > 0\n' +
            'or\nsum by (job, instance) (rate(otel_sdk_processor_span_processed_total{job="dice-api", error_type!=""}[5m]) + rate(otel_sdk_processor_log_processed_total{job="dice-api", error_type!=""}[5m])) > 0',
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
