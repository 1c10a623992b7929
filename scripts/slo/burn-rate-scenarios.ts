// Writes observability/prometheus/tests/slo-burn-rates.test.yml: promtool scenarios that pin every
// burn-rate factor and window of the SLO alerts, and the detection times docs/slo.md promises.
//   node scripts/slo/burn-rate-scenarios.ts          write the file
//   node scripts/slo/burn-rate-scenarios.ts --check  fail if the committed file differs
//
// This file deliberately does NOT read observability/slo/spec.yaml. It holds a second,
// independent statement of the design (DESIGN below: the SRE workbook's table 5-8 and our
// objectives), builds traffic just below and just above each threshold from it, and commits
// the result. A change to a factor, window or objective in spec.yaml then changes the generated
// rules but not these scenarios, and `promtool test rules` fails until both are changed on purpose.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The scenarios that time pages (one evaluation a minute), and tickets (one every 5 minutes). */
export const BURN_RATE_TESTS: Record<Severity, string> = {
  page: join(ROOT, 'observability/prometheus/tests/slo-burn-rates-page.test.yml'),
  ticket: join(ROOT, 'observability/prometheus/tests/slo-burn-rates-ticket.test.yml'),
};

type Severity = 'page' | 'ticket';
interface Pair {
  severity: Severity;
  /** Windows in minutes. */
  long: number;
  short: number;
  factor: number;
}

/** What spec.yaml and scripts/slo/rules.ts must produce; change only together with them. */
export const DESIGN = {
  pairs: [
    { severity: 'page', long: 60, short: 5, factor: 14.4 },
    { severity: 'page', long: 360, short: 30, factor: 6 },
    { severity: 'ticket', long: 1440, short: 120, factor: 3 },
    { severity: 'ticket', long: 4320, short: 360, factor: 1 },
  ] satisfies Pair[] as Pair[],
  /** The alerts' `for:` in minutes (scripts/slo/rules.ts). */
  forMinutes: { page: 2, ticket: 15 } as Record<Severity, number>,
  slos: [
    { name: 'availability', alert: 'DiceApiAvailabilityBudgetBurn', budget: 0.005 },
    { name: 'latency', alert: 'DiceApiLatencyBudgetBurn', budget: 0.01 },
  ],
};
type Slo = (typeof DESIGN.slos)[number];

/** Error ratios whose detection time docs/slo.md gives and the scenarios check. */
export const DETECTION_ERROR_RATIOS = [0.02, 0.1, 0.2, 0.5, 1];

// ---- traffic --------------------------------------------------------------------------------

/** Requests a minute of ordinary traffic: large enough that every error ratio used is whole. */
const T = 100_000;
/** Counters start here, far from zero, so that rate() never limits its extrapolation at zero. */
const BASE = 1_000_000_000;

interface Segment {
  minutes: number;
  /** Requests a minute, as a multiple of T (0: no traffic at all). */
  traffic: number;
  errorRatio: number;
}
const healthy = (minutes: number, traffic = 1): Segment => ({ minutes, traffic, errorRatio: 0 });
const quiet = (minutes: number): Segment => ({ minutes, traffic: 0, errorRatio: 0 });
const burn = (minutes: number, errorRatio: number, traffic = 1): Segment => ({ minutes, traffic, errorRatio });

/**
 * Increments between consecutive samples, one sample every `step` minutes (index k: from the
 * sample at minute (k-1)*step to the one at k*step).
 */
class Traffic {
  readonly total: number[] = [0];
  readonly errors: number[] = [0];
  /** Minute at which each segment starts. */
  readonly starts: number[] = [];
  readonly segments: Segment[];
  readonly step: number;
  constructor(step: number, segments: Segment[]) {
    this.step = step;
    this.segments = segments;
    for (const s of segments) {
      if (s.minutes % step !== 0) throw new Error(`a segment of ${s.minutes} min is not whole ${step}-minute steps`);
      this.starts.push(this.minutes);
      const total = s.traffic * T * step;
      const errors = Math.round(total * s.errorRatio);
      if (Math.abs(errors - total * s.errorRatio) > 1e-6) throw new Error(`error ratio ${s.errorRatio} is not whole at ${total} requests a step`);
      for (let i = 0; i < s.minutes / step; i++) {
        this.total.push(total);
        this.errors.push(errors);
      }
    }
  }
  get minutes() {
    return (this.total.length - 1) * this.step;
  }
  /**
   * The error ratio a window of `w` minutes records at minute t: Prometheus 3 range selectors
   * are left-open, so the window holds the samples in (t-w, t] and the increments between them;
   * every series has the same samples, so rate()'s extrapolation cancels out of the ratio.
   * Undefined (no rate) when the window holds fewer than two samples.
   */
  ratio(t: number, w: number): number | undefined {
    const k = t / this.step;
    const from = Math.max(1, k - w / this.step + 2);
    if (from > k) return undefined;
    let e = 0;
    let n = 0;
    for (let i = from; i <= k; i++) {
      e += this.errors[i]!;
      n += this.total[i]!;
    }
    return n === 0 ? 0 : e / n;
  }
  /** Cumulative counter values, one a step from minute 0, in promtool's expanding notation. */
  notation(increments: number[]): string {
    const parts = [String(BASE)];
    let value = BASE;
    const last = increments.length - 1;
    let i = 1;
    while (i <= last) {
      let j = i;
      while (j < last && increments[j + 1] === increments[i]) j++;
      const inc = increments[i]!;
      parts.push(`${value + inc}+${inc}x${j - i}`);
      value += inc * (j - i + 1);
      i = j + 1;
    }
    return parts.join(' ');
  }
}

// ---- the model of the alert rules -------------------------------------------------------------

const overThreshold = (traffic: Traffic, slo: Slo, p: Pair, t: number) => {
  const threshold = p.factor * slo.budget;
  return (traffic.ratio(t, p.long) ?? 0) > threshold && (traffic.ratio(t, p.short) ?? 0) > threshold;
};

/**
 * Whether the alert of that severity is firing at each evaluation (one a step, index = minute /
 * step): `for:` held since the condition became true, reset whenever it is false.
 */
function firing(traffic: Traffic, slo: Slo, severity: Severity): boolean[] {
  const pairs = DESIGN.pairs.filter((p) => p.severity === severity);
  const states: boolean[] = [];
  let activeSince: number | undefined;
  for (let t = 0; t <= traffic.minutes; t += traffic.step) {
    const active = pairs.some((p) => overThreshold(traffic, slo, p, t));
    activeSince = active ? (activeSince ?? t) : undefined;
    states.push(activeSince !== undefined && t - activeSince >= DESIGN.forMinutes[severity]);
  }
  return states;
}

// ---- scenarios ----------------------------------------------------------------------------------

/**
 * Minutes between samples and evaluations. Pages are timed to the minute; the ticket scenarios
 * span days, and at one evaluation a minute promtool would take minutes to run them.
 */
const STEP: Record<Severity, number> = { page: 1, ticket: 5 };
const roundUp = (n: number, step: number) => Math.ceil(n / step) * step;

type Check =
  | { kind: 'firing' | 'quiet'; at: number; severity: Severity }
  | { kind: 'never'; from: number; to: number; severity: Severity };

interface Scenario {
  name: string;
  /** The alert it times, which also sets its file and step. */
  severity: Severity;
  why: string[];
  traffic: Traffic;
  checks: Check[];
}

const pct = (r: number) => `${Number((r * 100).toPrecision(4))}%`;
const dur = (m: number) => (m % 1440 === 0 ? `${m / 1440}d` : m % 60 === 0 ? `${m / 60}h` : `${m}m`);
const pairName = (p: Pair) => `${p.factor}x over ${dur(p.long)}/${dur(p.short)}`;

/** Fails the build when the model disagrees with what a scenario claims. */
function expectModel(s: Scenario, slo: Slo, claim: string, ok: boolean) {
  if (!ok) throw new Error(`${slo.name}: scenario "${s.name}": ${claim} does not hold in the model; fix the scenario`);
}

function verify(s: Scenario, slo: Slo): Scenario {
  for (const c of s.checks) {
    const states = firing(s.traffic, slo, c.severity);
    const step = s.traffic.step;
    const times = c.kind === 'never' ? [c.from, c.to] : [c.at];
    if (times.some((t) => t % step !== 0)) throw new Error(`${s.name}: check at ${times.join(', ')}m is not on a ${step}-minute evaluation`);
    if (c.kind === 'never') expectModel(s, slo, `${c.severity} never firing in ${c.from}..${c.to}m`, !states.slice(c.from / step, c.to / step + 1).some(Boolean));
    else expectModel(s, slo, `${c.severity} ${c.kind} at ${c.at}m`, states[c.at / step] === (c.kind === 'firing'));
  }
  return s;
}

/** Steady traffic at 0.95 or 1.05 times the pair's threshold, seen only by that pair. */
function thresholdScenario(slo: Slo, p: Pair, side: 'below' | 'above'): Scenario {
  const k = side === 'below' ? 0.95 : 1.05;
  const e = k * p.factor * slo.budget;
  const forM = DESIGN.forMinutes[p.severity];
  // The next pair of the same severity (longer window, lower factor) would see this burn too:
  // busy healthy traffic outside this pair's long window keeps that pair's long window far under
  // its threshold. The silence that follows leaves this pair's windows holding only the burn.
  const longer = DESIGN.pairs.find((q) => q.severity === p.severity && q.long > p.long);
  const segments = longer ? [healthy(60, 10), quiet(p.long)] : [];
  const step = STEP[p.severity];
  const traffic = new Traffic(step, [...segments, burn(forM + 8 * step, e)]);
  const start = traffic.starts.at(-1)!;
  const end = traffic.minutes;
  const s: Scenario = {
    name: `${slo.name} ${p.severity} ${pairName(p)}: ${pct(e)} errors (${k}x the threshold) ${side === 'above' ? 'fires' : 'never fires'}`,
    severity: p.severity,
    why: [
      `Both windows hold only a steady ${pct(e)} error ratio, ${k} times ${p.factor} x the ${pct(slo.budget)} budget.`,
      ...(longer ? [`The busy hour before the silence keeps the ${dur(longer.long)} window of the ${pairName(longer)} pair far below its threshold.`] : []),
    ],
    traffic,
    checks:
      side === 'above'
        ? [
            { kind: 'quiet', at: start + forM, severity: p.severity },
            { kind: 'firing', at: start + step + forM, severity: p.severity },
            { kind: 'firing', at: end, severity: p.severity },
          ]
        : [{ kind: 'never', from: 0, to: end, severity: p.severity }],
  };
  return verify(s, slo);
}

/** The last minute at which the model has the alert of that severity firing. */
function lastFiring(traffic: Traffic, slo: Slo, severity: Severity): number {
  return firing(traffic, slo, severity).lastIndexOf(true) * traffic.step;
}

/**
 * After a total outage stops, the alert resolves when the short window no longer holds enough
 * of it, while the long window still does: the short window is what forgives.
 */
function shortWindowScenario(slo: Slo, p: Pair): Scenario {
  const fullOutage = 1 / slo.budget; // burn rate of 100% errors
  // Outage length: enough to put the long window over the threshold, not enough for the longer
  // pair of the same severity (when there is one) to fire.
  const step = STEP[p.severity];
  const outage = roundUp(Math.ceil((p.long * p.factor) / fullOutage) * 2, step);
  const before =
    p.severity === 'ticket' && p.long === 1440
      ? [healthy(600, 20), healthy(1440)] // a busy morning two days ago keeps the 3d window quiet
      : [healthy(360)];
  const traffic = new Traffic(step, [...before, burn(outage, 1), healthy(p.short + 60)]);
  const stop = traffic.starts.at(-1)!;
  const last = lastFiring(traffic, slo, p.severity);
  const s: Scenario = {
    severity: p.severity,
    name: `${slo.name} ${p.severity} ${pairName(p)}: the ${dur(p.short)} short window resolves the alert ${last + step - stop} min after a ${outage}-minute outage`,
    why: [
      `${outage} minutes of 100% errors put the ${dur(p.long)} window over ${p.factor}x; it stays there long after the outage.`,
      `The alert resolves at ${last + step - stop} min, once the ${dur(p.short)} window no longer holds enough of the outage: a shorter or longer short window moves that minute.`,
    ],
    traffic,
    checks: [
      { kind: 'firing', at: last, severity: p.severity },
      { kind: 'quiet', at: last + step, severity: p.severity },
    ],
  };
  // The resolution must be this pair's short window, with its long window still over.
  const threshold = p.factor * slo.budget;
  expectModel(s, slo, `the long window still over at ${last + step}m`, (traffic.ratio(last + step, p.long) ?? 0) > threshold);
  expectModel(s, slo, `only ${pairName(p)} over threshold at ${last}m`, DESIGN.pairs.filter((q) => q.severity === p.severity).every((q) => overThreshold(traffic, slo, q, last) === (q === p)));
  return verify(s, slo);
}

/**
 * A burst that puts the short window over the threshold but not the long one: a shorter long
 * window would fire. Bursts are sized so the other pair of the same severity stays quiet too.
 */
function longWindowScenario(slo: Slo, p: Pair): Scenario {
  const b = slo.budget;
  const plans: Record<string, { burstRate: number; minutes: number; before: Segment[] }> = {
    // 100% errors for the longest burst that the 1h window (59 one-minute increments) still
    // keeps 5% under 14.4x.
    '60': { burstRate: 1 / b, minutes: Math.floor(((p.long - 1) * p.factor * b) / 1.05), before: [healthy(360)] },
    // 12x: over 6x in the 30m window, under 14.4x in the 1h one; 160 min is 5.3x over 6h.
    '360': { burstRate: 12, minutes: 160, before: [healthy(360)] },
    // 6x for 10 hours: 2.5x over 1d; the busy morning keeps the 3d window at 0.6x.
    '1440': { burstRate: 6, minutes: 600, before: [healthy(360, 10), healthy(1440)] },
    // 2.5x (under the 3x pair) for a day: 0.6x over 3d, 1.25x if the long window were 2d.
    '4320': { burstRate: 2.5, minutes: 1440, before: [healthy(300, 10), healthy(1440)] },
  };
  const plan = plans[String(p.long)];
  if (!plan) throw new Error(`no long-window scenario for a ${p.long}-minute window`);
  const e = plan.burstRate * b;
  const traffic = new Traffic(STEP[p.severity], [...plan.before, burn(plan.minutes, e), healthy(p.short + 30)]);
  const start = traffic.starts.at(-2)!;
  const peak = maxRatio(traffic, p.long, start) / b;
  const s: Scenario = {
    severity: p.severity,
    name: `${slo.name} ${p.severity} ${pairName(p)}: a ${plan.minutes}-minute burst of ${pct(e)} errors (${plan.burstRate}x) is over the ${dur(p.short)} window but not the ${dur(p.long)} one`,
    why: [
      `The ${dur(p.short)} window goes over ${p.factor}x; the ${dur(p.long)} window peaks at ${peak.toFixed(2)}x, so nothing fires: a shorter long window would.`,
    ],
    traffic,
    checks: [{ kind: 'never', from: 0, to: traffic.minutes, severity: p.severity }],
  };
  const threshold = p.factor * b;
  expectModel(s, slo, `the short window goes over ${p.factor}x`, maxRatio(traffic, p.short, start) > threshold);
  expectModel(s, slo, `the long window stays under ${p.factor}x`, maxRatio(traffic, p.long, start) < threshold * 0.97);
  return verify(s, slo);
}

function maxRatio(traffic: Traffic, w: number, from: number): number {
  let max = 0;
  for (let t = from; t <= traffic.minutes; t += traffic.step) max = Math.max(max, traffic.ratio(t, w) ?? 0);
  return max;
}

export interface Detection {
  errorRatio: number;
  severity: Severity;
  /** Minutes from the first failing request to firing (window crossing + for), by the formula. */
  minutes: number | undefined;
  pair: Pair | undefined;
}

/**
 * With every window full of healthy history, a steady error ratio e reaches factor x budget in a
 * window of L minutes after L * factor * budget / e minutes; the alert fires `for:` later.
 */
export function detectionTime(slo: Slo, e: number, severity: Severity): Detection {
  const candidates = DESIGN.pairs
    .filter((p) => p.severity === severity && e > p.factor * slo.budget)
    .map((p) => ({ pair: p, minutes: (p.long * p.factor * slo.budget) / e + DESIGN.forMinutes[severity] }))
    .sort((a, b) => a.minutes - b.minutes);
  return { errorRatio: e, severity, minutes: candidates[0]?.minutes, pair: candidates[0]?.pair };
}

function detectionScenario(slo: Slo, e: number): Scenario {
  const page = detectionTime(slo, e, 'page');
  // Time it on the page, or on the ticket when this ratio never pages.
  const d = page.minutes !== undefined ? page : detectionTime(slo, e, 'ticket');
  if (d.minutes === undefined || !d.pair) throw new Error(`${pct(e)} errors would never alert on ${slo.name}`);
  const crossing = d.minutes - DESIGN.forMinutes[d.severity];
  // Enough healthy history that every window of this severity is full of it when it fires.
  const step = STEP[d.severity];
  const history = roundUp(Math.max(360, ...DESIGN.pairs.filter((p) => p.severity === d.severity).map((p) => Math.ceil(p.long - crossing) + step)), step);
  // One evaluation either side of the predicted time (evaluations are `step` minutes apart).
  const quietAt = Math.floor(d.minutes / step) * step - step;
  const firingAt = Math.ceil(d.minutes / step) * step + step;
  // Tickets' history is only as long as the windows need; a busy morning just before it sits
  // outside every window in time, and inside any longer one, which would then fire much later.
  const busy = d.severity === 'ticket' ? [healthy(360, 10)] : [];
  const traffic = new Traffic(step, [...busy, healthy(history), burn(firingAt, e)]);
  const start = traffic.starts.at(-1)!;
  const checks: Check[] = [
    { kind: 'quiet', at: start + quietAt, severity: d.severity },
    { kind: 'firing', at: start + firingAt, severity: d.severity },
  ];
  if (d.severity === 'ticket') checks.push({ kind: 'never', from: 0, to: traffic.minutes, severity: 'page' });
  return verify(
    {
      severity: d.severity,
      name: `${slo.name}: ${pct(e)} errors after ${dur(history)} of healthy history ${d.severity === 'ticket' ? 'never pages, and tickets' : 'pages'} after ${d.minutes.toFixed(2)} min`,
      why: [
        `${dur(d.pair.long)} x ${d.pair.factor} x ${pct(slo.budget)} / ${pct(e)} = ${crossing.toFixed(2)} min to cross ${pairName(d.pair)}, plus for: ${DESIGN.forMinutes[d.severity]}m (docs/slo.md).`,
        `Quiet at ${quietAt} min, firing at ${firingAt} min after the first failing request.`,
      ],
      traffic,
      checks,
    },
    slo,
  );
}

export function scenarios(): { slo: Slo; scenario: Scenario }[] {
  return DESIGN.slos.flatMap((slo) => [
    ...DESIGN.pairs.flatMap((p) => [thresholdScenario(slo, p, 'below'), thresholdScenario(slo, p, 'above'), shortWindowScenario(slo, p), longWindowScenario(slo, p)]),
    ...DETECTION_ERROR_RATIOS.map((e) => detectionScenario(slo, e)),
  ].map((scenario) => ({ slo, scenario })));
}

// ---- promtool's test file -------------------------------------------------------------------------

function inputSeries(slo: Slo, traffic: Traffic): [string, string][] {
  const ok = traffic.total.map((n, i) => n - traffic.errors[i]!);
  if (slo.name === 'availability')
    return [
      ['haproxy_frontend_http_responses_total{proxy="public", code="2xx"}', traffic.notation(ok)],
      ['haproxy_frontend_http_responses_total{proxy="public", code="5xx"}', traffic.notation(traffic.errors)],
    ];
  const route = 'job="dice-api", instance="dice-api-1", http_route="/roll"';
  return [
    [`http_server_request_duration_count{${route}}`, traffic.notation(traffic.total)],
    [`http_server_request_duration_bucket{${route}, le="0.1"}`, traffic.notation(ok)],
  ];
}

function checkYaml(slo: Slo, c: Check): string {
  const selector = `ALERTS{alertname="${slo.alert}", alertstate="firing", severity="${c.severity}"}`;
  if (c.kind === 'never') {
    // ALERTS has a sample at every evaluation where the alert fires: none in the range, never fired.
    return `      - { expr: 'count_over_time(${selector}[${c.to - c.from + 1}m])', eval_time: ${c.to}m, exp_samples: [] }`;
  }
  if (c.kind === 'quiet') return `      - { expr: '${selector}', eval_time: ${c.at}m, exp_samples: [] }`;
  const labels = `ALERTS{alertname="${slo.alert}", alertstate="firing", severity="${c.severity}", slo="${slo.name}", service="dice-api", slo_service="dice-api"}`;
  return `      - { expr: '${selector}', eval_time: ${c.at}m, exp_samples: [{ labels: '${labels}', value: 1 }] }`;
}

export function renderBurnRateTests(severity: Severity): string {
  const step = STEP[severity];
  const lines = [
    '# GENERATED by scripts/slo/burn-rate-scenarios.ts from its own copy of the design, NOT from spec.yaml:',
    `# promtool scenarios just below and above every ${severity} threshold, for each window, and the`,
    '# detection times of docs/slo.md. Run by `npm run test:config`. A changed factor, window or',
    '# objective in observability/slo/spec.yaml fails here until this design is changed on purpose.',
    'rule_files:',
    '  - ../rules/slo-recording.yml',
    '  - ../rules/slo-alerts.yml',
    `evaluation_interval: ${step}m`,
    // Real Prometheus runs groups independently; here the alerts see this evaluation's ratios,
    // so that the scenarios time the rules, not the order promtool happens to pick.
    'group_eval_order:',
    ...DESIGN.slos.map((slo) => `  - slo-recording-dice-api-${slo.name}`),
    ...DESIGN.slos.map((slo) => `  - slo-alerts-dice-api-${slo.name}`),
    '',
    'tests:',
  ];
  for (const { slo, scenario } of scenarios().filter(({ scenario }) => scenario.severity === severity)) {
    const t = scenario.traffic;
    const plan = t.segments.map((s, i) => `${t.starts[i]}m +${s.minutes}m: ${s.traffic === 0 ? 'no traffic' : `${s.traffic === 1 ? '' : `${s.traffic}x traffic, `}${pct(s.errorRatio)} errors`}`).join('; ');
    lines.push(`  - name: '${scenario.name}'`, ...scenario.why.map((w) => `    # ${w}`), `    # ${plan}`, `    interval: ${step}m`, '    input_series:');
    for (const [series, values] of inputSeries(slo, t)) lines.push(`      - series: '${series}'`, `        values: '${values}'`);
    lines.push('    promql_expr_test:', ...scenario.checks.map((c) => checkYaml(slo, c)));
  }
  return `${lines.join('\n')}\n`;
}

function main() {
  const check = process.argv.includes('--check');
  let stale = false;
  for (const severity of ['page', 'ticket'] as const) {
    const path = BURN_RATE_TESTS[severity];
    const content = renderBurnRateTests(severity);
    if (!check) {
      writeFileSync(path, content);
      console.log(`wrote ${relative(ROOT, path)}`);
    } else if (readFileSync(path, 'utf8') !== content) {
      console.error(`${relative(ROOT, path)} is stale: run \`node scripts/slo/burn-rate-scenarios.ts\` and commit the result`);
      stale = true;
    }
  }
  if (stale) process.exit(1);
  if (check) console.log('burn-rate scenarios are up to date');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
