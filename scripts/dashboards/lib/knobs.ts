// Every number and name the dashboards share with the alerts, read from the one place that holds
// them (observability/slo/spec.yaml) and from the rules generated from it, so that a threshold line
// on a panel can never disagree with the alert that pages.
import { loadSpec } from '../../slo/generate.ts';
import { serviceAlertGroups, serviceRecordingGroups, sloAlertGroups, sloRecordingGroups, type Rule, type Spec } from '../../slo/rules.ts';

export const spec: Spec = loadSpec();

const recorded: Rule[] = [...sloRecordingGroups(spec), ...serviceRecordingGroups(spec)].flatMap((g) => g.rules);
const alerting: Rule[] = [...sloAlertGroups(spec), ...serviceAlertGroups(spec)].flatMap((g) => g.rules);

/** The name of the generated recording rule that starts with `prefix`; fails if the rules changed shape. */
export function recordingRule(prefix: string): string {
  const names = [...new Set(recorded.map((r) => r.record!).filter((name) => name.startsWith(prefix)))];
  if (names.length !== 1) {
    throw new Error(`expected one recording rule named ${prefix}*, found ${names.length} (${names.join(', ')}); did scripts/slo/rules.ts change?`);
  }
  return names[0]!;
}

/** Every alert the rules define, in rule order, each name once. */
export const alertNames: string[] = [...new Set(alerting.map((r) => r.alert!))];

export const runbookUrl = (alert: string) => {
  if (!alertNames.includes(alert)) throw new Error(`no alert named ${alert} in the generated rules`);
  return `${spec.runbook_base}/${alert}.md`;
};

/** The landing dashboard's UID is the one the alerts link to (spec.dashboard_url). */
export const landingUid = new URL(spec.dashboard_url).pathname.split('/').filter(Boolean).at(-1)!;

export const sloByName = (name: string) => {
  const slo = spec.slos.find((s) => s.name === name);
  if (!slo) throw new Error(`observability/slo/spec.yaml has no SLO named ${name}`);
  return slo;
};

/** The latency SLO's threshold in seconds: the histogram bucket its `errors` query counts against. */
export const latencyThresholdSeconds: number = (() => {
  const match = /le="([0-9.]+)"/.exec(sloByName('latency').errors);
  if (!match) throw new Error('the latency SLO in observability/slo/spec.yaml no longer counts against an le="..." bucket');
  return Number(match[1]);
})();

/** Burn-rate thresholds of the page and ticket alerts, highest first (14.4, 6, 3, 1). */
export const burnRates = [...new Set(spec.burn_rate_alerts.map((a) => a.burn_rate))].sort((a, b) => b - a);

/** The windows the paging alerts compare, short and long ("5m", "1h", "30m", "6h"). */
export const pageWindows = [...new Set(spec.burn_rate_alerts.filter((a) => a.severity === 'page').flatMap((a) => [a.short, a.long]))];

export const fairness = spec.alerts.die_fairness;
export const queueFillRatio = spec.alerts.telemetry_pipeline.queue_fill_ratio;
