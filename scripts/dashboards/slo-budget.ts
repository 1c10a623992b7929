// The dashboard a team reviews its error budget on (docs/error-budget-policy.md): what is left of
// each SLO's budget over the period and how long it lasts at the current burn, each burn-rate
// alert pair as its two windows against its threshold, where the budget went (route, replica),
// and the alerts of the period. Every threshold comes from observability/slo/spec.yaml.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { burnRateAlerts } from '../slo/rules.ts';
import { landingUid, latencyThresholdSeconds, recordingRule, runbookUrl, sloByName, spec } from './lib/knobs.ts';
import { barGauge, finalize, link, orZeroLike, prom, promAnnotation, rangeText, stackDashboard, statPanel, stateTimeline, timeSeries, valueText } from './lib/panels.ts';
import { environmentVariable, replicaVariable } from './lib/variables.ts';

const SERVICE = spec.service;
const sel = `{slo_service="${SERVICE}"}`;
const period = `${spec.period_days}d`;
const periodHours = spec.period_days * 24;
const budgetOf = (name: string) => Number((1 - sloByName(name).objective / 100).toPrecision(12));
const runbook = (alert: string) => link(`Runbook: ${alert}`, runbookUrl(alert), true);
const policy = link('Error-budget policy', spec.policy_url, true);
/** The burn alerts of every SLO (DiceApi<SLO>BudgetBurn). */
const burnAlerts = 'DiceApi.+BudgetBurn';

/** Burn rate (error ratio / budget) of every SLO over one window. */
const burn = (window: string) =>
  `max without (slo_window) (${recordingRule(`slo:sli_error:ratio_rate${window}`)}${sel})\n/ on (slo, slo_service) group_left\n${recordingRule('slo:error_budget:ratio')}${sel}`;

/** Span metrics of the dice service's SERVER spans (one per request), in the selected replicas. */
const spans = (extra = '') =>
  `{service_name="${SERVICE}", deployment_environment_name="$deployment_environment_name", instance=~"$instance", span_kind="SPAN_KIND_SERVER"${extra ? `, ${extra}` : ''}}`;
/** The app's own request histogram (what the latency SLI counts), dice routes only. */
const app = (extra = '') => `{job="${SERVICE}", instance=~"$instance", http_route=~"/|/roll"${extra ? `, ${extra}` : ''}}`;

/**
 * Share of the budget that `by`'s failed requests spent over the dashboard's range: their failures
 * over (all requests x the budget). 1 = one label value alone spent all the budget those requests had.
 */
const spentBy = (by: string, failed: string, all: string, budget: number) =>
  `(\n${orZeroLike(`sum by (${by}) (${failed})`, `sum by (${by}) (${all})`)}\n)\n/\nscalar(sum(${all}) * ${budget})`;

/** A "budget spent" bar: a share of the whole budget, orange at half of it, red once it is gone. */
const spentShare = {
  unit: 'percentunit',
  min: 0,
  thresholds: [
    { value: null, color: 'green' },
    { value: 0.5, color: 'orange' },
    { value: 1, color: 'red' },
  ],
  width: 6,
};

export function sloBudget(): dashboard.Dashboard {
  const b = spec.budget_alerts;
  const board = stackDashboard(
    'Dice API SLO budget',
    'dice-slo-budget',
    `The error-budget review: what is left of each SLO's ${period} budget and how long it lasts, each burn-rate alert pair against its threshold, ` +
      'where the budget went, and the alerts of the period. What the team does at each level: docs/error-budget-policy.md.',
    ['slo'],
  )
    .time({ from: 'now-7d', to: 'now' })
    .link(link('Dice API health', `/d/${landingUid}?\${__url_time_range}`))
    .link(policy.keepTime(false))
    .withVariable(environmentVariable())
    .withVariable(replicaVariable())
    // Pending and firing burn alerts, marked on every graph (the pair panels in particular).
    .annotation(promAnnotation('Burn alerts pending', `ALERTS{alertname=~"${burnAlerts}", alertstate="pending"}`, 'orange', '{{alertname}} ({{severity}}) pending', 'Both windows of a pair are over its threshold; it fires after for:'))
    .annotation(promAnnotation('Burn alerts firing', `ALERTS{alertname=~"${burnAlerts}", alertstate="firing"}`, 'red', '{{alertname}} ({{severity}}) firing', 'Prometheus alert {{alertname}} is firing'));

  // ---------------- the budget over the period ----------------
  board.withRow(new dashboard.RowBuilder(`Budget over the period (${period}, rolling)`));
  board.withPanel(
    timeSeries({
      title: 'Budget left over the period',
      description:
        `Share of each SLO's ${period} error budget not yet spent (1 - the period's error ratio / the budget). ` +
        `Dashed: ${b.low_remaining * 100}% left (BudgetLow ticket) and 0 (BudgetExhausted ticket: feature releases stop, by the policy).`,
      queries: [prom(`${recordingRule('slo:period_error_budget_remaining:ratio')}${sel}`, '{{slo}}')],
      unit: 'percentunit',
      thresholds: [
        { value: null, color: 'red' },
        { value: 0, color: 'orange' },
        { value: b.low_remaining, color: 'green' },
      ],
      width: 12,
      links: [policy, runbook('DiceApiAvailabilityBudgetLow'), runbook('DiceApiAvailabilityBudgetExhausted')],
    }),
  );
  const remaining = `clamp_min(${recordingRule('slo:period_error_budget_remaining:ratio')}${sel}, 0)`;
  const lasts = (burnExpr: string) =>
    // hours = budget left x the period in hours / the burn rate (1 spends the whole budget in the period)
    `clamp_max(\n  ${remaining} * ${periodHours}\n  / on (slo, slo_service)\n  clamp_min(${burnExpr}, 1e-6),\n  ${periodHours}\n)`;
  board.withPanel(
    statPanel({
      title: 'The budget lasts, at the current burn',
      description:
        `Hours until each SLO's budget is gone if it keeps burning as it did over the last 5 minutes (and, steadier, the last hour): budget left x ${periodHours} h / burn rate. ` +
        `"the period" means it outlasts the ${period} period at that pace.`,
      queries: [
        prom(lasts(`${recordingRule('slo:current_burn_rate:ratio')}${sel}`), '{{slo}}, 5m burn', { instant: true }),
        prom(lasts(burn('1h')), '{{slo}}, 1h burn', { instant: true }),
      ],
      unit: 'h',
      decimals: 1,
      mappings: [rangeText(periodHours, null, 'the period', 'green')],
      thresholds: [
        { value: null, color: 'red' },
        { value: 24, color: 'orange' },
        { value: periodHours / 4, color: 'green' },
      ],
      width: 12,
      links: [policy],
    }),
  );

  // ---------------- the alert pairs ----------------
  board.withRow(new dashboard.RowBuilder('Burn-rate alerts: a pair fires when both its windows are over its line (for: later)'));
  for (const a of burnRateAlerts(spec)) {
    board.withPanel(
      timeSeries({
        title: `${a.severity} ${a.burn_rate}x: ${a.long} and ${a.short}`,
        description:
          `Burn rate (error ratio / budget) of each SLO over the ${a.long} and ${a.short} windows. The ${a.severity} fires when both are over ${a.burn_rate}x ` +
          `(dashed), with at least ${spec.min_failed_requests} failed requests in the ${a.long} window, for ${a.severity === 'page' ? '2m' : '15m'}. ` +
          'Orange and red marks: a burn alert pending and firing.',
        queries: [prom(burn(a.long), `{{slo}} ${a.long}`), prom(burn(a.short), `{{slo}} ${a.short}`)],
        unit: 'suffix:x',
        min: 0,
        thresholds: [
          { value: null, color: 'green' },
          { value: a.burn_rate, color: a.severity === 'page' ? 'red' : 'orange' },
        ],
        width: 6,
        links: [runbook('DiceApiAvailabilityBudgetBurn'), runbook('DiceApiLatencyBudgetBurn')],
      }),
    );
  }

  // ---------------- where the budget went ----------------
  board.withRow(new dashboard.RowBuilder('Where the budget went, over the time range'));
  const availabilityBudget = budgetOf('availability');
  const latencyBudget = budgetOf('latency');
  const calls = (extra = '') => `increase(traces_span_metrics_calls_total${spans(extra)}[$__range])`;
  const slow = `increase(http_server_request_duration_count${app()}[$__range]) - ignoring (le) increase(http_server_request_duration_bucket${app(`le="${latencyThresholdSeconds}"`)}[$__range])`;
  const dice = `increase(http_server_request_duration_count${app()}[$__range])`;
  for (const [by, what] of [
    ['http_route', 'route'],
    ['instance', 'replica'],
  ] as const) {
    board.withPanel(
      barGauge({
        title: `Availability budget spent, by ${what}`,
        description:
          `5xx answered by the replicas (span metrics), by ${what}, as a share of the budget (${availabilityBudget * 100}%) of all their requests in the time range. ` +
          'The SLI counts at the load balancer, which also answers 503 when no replica is up: those have no route or replica.',
        queries: [prom(spentBy(by, calls('http_response_status_code=~"5.."'), calls(), availabilityBudget), `{{${by}}}`)],
        ...spentShare,
      }),
    );
    board.withPanel(
      barGauge({
        title: `Latency budget spent, by ${what}`,
        description: `Dice requests over ${latencyThresholdSeconds * 1000} ms (the app's histogram, as the latency SLI counts them), by ${what}, as a share of the budget (${latencyBudget * 100}%) of all dice requests in the time range.`,
        queries: [prom(spentBy(by, slow, dice, latencyBudget), `{{${by}}}`)],
        ...spentShare,
      }),
    );
  }

  // ---------------- alert history ----------------
  board.withRow(new dashboard.RowBuilder('Alerts of the service over the time range'));
  board.withPanel(
    stateTimeline({
      title: 'Alert history',
      description: `Every alert of ${SERVICE} (burn, budget, absence, replicas) over the time range, one row for its pending time and one for its firing time. Only "Value": none was pending or firing.`,
      queries: [
        prom(
          `max by (alertname, severity, alertstate) (ALERTS{service="${SERVICE}"})\nor\nvector(0)`,
          '{{alertname}} ({{severity}}) {{alertstate}}',
        ),
      ],
      mappings: [valueText({ '0': { text: 'none', color: 'transparent' }, '1': { text: 'on', color: 'red' } })],
      width: 24,
      links: [policy],
    }),
  );
  return finalize(board.build());
}
