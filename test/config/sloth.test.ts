// The differential test against Sloth (github.com/slok/sloth, built by setup at SLOTH_VERSION) and
// the OpenSLO exports' validation by OpenSLO's oslo (built with it). Sloth turns the spec that
// scripts/slo/exports.ts writes into rules with its own default windows; the promtool scenarios
// that pin ours then run against both, and every scenario must come out the same, or be one of
// the differences named in DIFFERENCES (docs/slo.md, "Against Sloth", says why ours is right).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { scratchCopy } from '../../scripts/slo/mutations.ts';
import { binary, builtBinary, ROOT, run } from './support/tools.ts';

const sloth = builtBinary('sloth', 'sloth');
const oslo = builtBinary('sloth', 'oslo');
const skipped = 'missing' in sloth ? sloth.missing : 'missing' in oslo ? oslo.missing : '';
const path = (b: typeof sloth) => ('path' in b ? b.path : '');

/** Scenario files run against both rule sets. */
const SCENARIO_FILES = ['slo-burn-rates-page.test.yml', 'slo-burn-rates-ticket.test.yml', 'slo-low-traffic.test.yml', 'slo-budget.test.yml'];

/**
 * Where ours and Sloth's alerts differ on purpose: scenario name -> why. Any other scenario that
 * passes on one rule set and fails on the other fails the test.
 */
const DIFFERENCES: Record<string, string> = {
  '1 request a minute: 5 failed requests in a row do not page':
    "the low-traffic guard (min_failed_requests): Sloth pages on 5 failures out of 60 requests, ours waits for 10 failed requests",
  '1 request a minute: a total outage pages 12 minutes in': 'the low-traffic guard: Sloth pages 7 minutes in, ours when 10 requests have failed',
  '0.4% errors, 0.8x the budget: 20% left is low, not exhausted': 'the BudgetLow ticket (25% left) is ours; Sloth has only budget exhausted',
  '2% errors, 4x the budget: the budget is exhausted (and low); tickets after for: 5m': 'the BudgetLow ticket is ours; Sloth has only budget exhausted',
};

/** Sloth's burn alerts have no `for:` (and no option for one); ours wait this long. */
const OUR_FOR: Record<string, string> = { page: '2m', ticket: '15m' };

interface Check {
  expr: string;
  eval_time: string;
  exp_samples: { labels: string; value: number }[];
}
interface TestFile {
  rule_files: string[];
  evaluation_interval: string;
  group_eval_order?: string[];
  tests: { name: string; promql_expr_test?: Check[]; alert_rule_test?: unknown[] }[];
}

const dir = skipped ? '' : mkdtempSync(join(tmpdir(), 'sloth-diff-'));
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Sloth's rules for a spec file (or a directory of them, into a directory), with extra flags. */
function slothGenerate(input: string, out: string, ...flags: string[]) {
  if (statSync(input).isDirectory()) mkdirSync(out, { recursive: true });
  const result = run(path(sloth), ['generate', '--no-log', '-i', input, '-o', out, ...flags]);
  expect(result.status, `sloth generate -i ${input}:\n${result.output}`).toBe(0);
}

/**
 * The scenario file made rule-set neutral: only the alert checks (recording rules are named
 * differently: sloth_slo vs slo), each as max by (alertname, alertstate, severity), which both
 * rule sets' ALERTS have; the rule files and evaluation order are the given set's.
 */
function neutral(file: string, ruleFiles: string[], order: string[]): TestFile {
  const t = parse(readFileSync(join(ROOT, 'observability/prometheus/tests', file), 'utf8')) as TestFile;
  for (const test of t.tests) {
    delete test.alert_rule_test;
    test.promql_expr_test = (test.promql_expr_test ?? [])
      .filter((c) => c.expr.includes('ALERTS{'))
      .map((c) => ({
        ...c,
        expr: c.expr.startsWith('count_over_time') ? c.expr : `max by (alertname, alertstate, severity) (${c.expr})`,
        exp_samples: c.exp_samples.map((s) => ({ ...s, labels: `{${[...s.labels.matchAll(/(alertname|alertstate|severity)="[^"]*"/g)].map((m) => m[0]).join(', ')}}` })),
      }));
  }
  return { ...t, rule_files: ruleFiles, group_eval_order: order };
}

/**
 * promtool test rules on a file; the names of the scenarios that failed (from its JUnit report).
 * Asynchronous, so that our rules and Sloth's run side by side on two cores.
 */
async function failedScenarios(testFile: string): Promise<string[]> {
  const junit = `${testFile}.junit.xml`;
  const result = await new Promise<{ status: number | null; output: string }>((resolve, reject) => {
    execFile(binary('promtool'), ['test', 'rules', `--junit=${junit}`, testFile], { cwd: ROOT, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ status: error ? (error.code as number) : 0, output: `${stdout}${stderr}` });
    });
  });
  const report = readFileSync(junit, 'utf8');
  const failed = [...report.matchAll(/<testcase name="([^"]*)"[^>]*>\s*<failure/g)].map((m) => m[1]!.replaceAll('&#39;', "'").replaceAll('&quot;', '"'));
  if (result.status !== 0) expect(failed.length, `promtool failed without a failing scenario:\n${result.output}`).toBeGreaterThan(0);
  return failed;
}

/** Runs every scenario file against our rules and Sloth's; the scenarios whose outcome differs. */
const OUR_RULES = ['observability/prometheus/rules/slo-recording.yml', 'observability/prometheus/rules/slo-alerts.yml'].map((f) => join(ROOT, f));
async function differential(slothRules: string, ourRules = OUR_RULES, files = SCENARIO_FILES) {
  const rules = parse(readFileSync(slothRules, 'utf8')) as { groups: { name: string }[] };
  const slothOrder = ['sli-recordings', 'meta-recordings', 'alerts'].flatMap((kind) => rules.groups.map((g) => g.name).filter((n) => n.startsWith(`sloth-slo-${kind}-`)));
  const ourOrder = ['slo-recording-dice-api-availability', 'slo-recording-dice-api-latency', 'slo-alerts-dice-api-availability', 'slo-alerts-dice-api-latency'];
  const differ: Record<string, string> = {};
  const ours: string[] = [];
  for (const file of files) {
    const oursFile = join(dir, `ours-${file}`);
    const slothFile = join(dir, `sloth-${file}`);
    writeFileSync(oursFile, stringify(neutral(file, ourRules, ourOrder)));
    writeFileSync(slothFile, stringify(neutral(file, [slothRules], slothOrder)));
    const [a, b] = await Promise.all([failedScenarios(oursFile), failedScenarios(slothFile)]);
    ours.push(...a);
    for (const name of new Set([...a, ...b])) if (a.includes(name) !== b.includes(name)) differ[name] = a.includes(name) ? 'fails on ours only' : 'fails on Sloth only';
  }
  return { differ, ours };
}

/** Sloth's rules with our `for:` on its burn alerts (the one change made to its output). */
function withOurFor(rulesFile: string, out: string) {
  const rules = parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Record<string, any>[] }[] };
  for (const r of rules.groups.flatMap((g) => g.rules)) if (r['alert']?.endsWith('BudgetBurn')) r['for'] = OUR_FOR[r['labels']['severity']];
  writeFileSync(out, stringify(rules));
}

describe.skipIf(skipped !== '')(`Sloth differential test and OpenSLO validation${skipped ? ` (skipped: ${skipped})` : ''}`, () => {
  const openslo = (version: string) => readdirSync(join(ROOT, 'observability/slo/openslo', version)).map((f) => join('observability/slo/openslo', version, f));

  it('oslo (OpenSLO) validates the v1 and v1alpha exports, and refuses a broken one', () => {
    for (const file of [...openslo('v1'), ...openslo('v1alpha')]) {
      const result = run(path(oslo), ['validate', '-f', file]);
      expect(result.status, `oslo validate -f ${file}:\n${result.output}`).toBe(0);
    }
    // The validator does validate: an SLO without its budgeting method is refused.
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, readFileSync(join(ROOT, openslo('v1').find((f) => f.endsWith('-availability.yaml'))!), 'utf8').replace(/budgetingMethod: Occurrences\n/, ''));
    const refused = run(path(oslo), ['validate', '-f', broken]);
    expect(refused.status, refused.output).not.toBe(0);
  });

  it("Sloth's reading of the OpenSLO v1alpha export gives the same recording rules as its own spec (same names and windows, equal values under promtool)", () => {
    slothGenerate(join(ROOT, 'observability/slo/sloth'), join(dir, 'own'));
    const fromOwn = parse(readFileSync(join(dir, 'own', 'dice-api.yaml'), 'utf8')) as { groups: { name: string; rules: Record<string, any>[] }[] };
    slothGenerate(join(ROOT, 'observability/slo/openslo/v1alpha'), join(dir, 'v1alpha'));
    const alpha = readdirSync(join(dir, 'v1alpha')).flatMap((f) => (parse(readFileSync(join(dir, 'v1alpha', f), 'utf8')) as typeof fromOwn).groups);
    const records = (groups: typeof alpha, slo: string) =>
      groups.flatMap((g) => g.rules).filter((r) => r['record'] && r['record'] !== 'sloth_slo_info' && r['labels']['sloth_slo'] === slo).map((r) => `${r['record']} ${r['labels']['sloth_window'] ?? ''}`).sort();
    for (const slo of ['availability', 'latency']) {
      expect(records(alpha, `${slo}-0`), slo).toEqual(records(fromOwn.groups, slo));
      expect(records(alpha, `${slo}-0`).length).toBeGreaterThanOrEqual(10);
    }
    // Equal values: both rule sets in one promtool run (their sloth_slo labels differ, so their
    // series do not collide), fed traffic with errors on both SLIs.
    const windows = [...new Set(fromOwn.groups.flatMap((g) => g.rules).map((r) => r['labels']?.['sloth_window']).filter(Boolean))] as string[];
    const checks = ['availability', 'latency'].flatMap((slo) =>
      [...windows.map((w) => `slo:sli_error:ratio_rate${w}`), 'slo:period_error_budget_remaining:ratio', 'slo:objective:ratio'].map((metric) => ({
        expr: `count(abs(${metric}{sloth_slo="${slo}"} - ignoring (sloth_id, sloth_slo) ${metric}{sloth_slo="${slo}-0"}) < 1e-9)`,
        eval_time: '4h',
        exp_samples: [{ labels: '{}', value: 1 }],
      })),
    );
    const route = 'job="dice-api", instance="dice-api-1", http_route="/roll"';
    const test = {
      rule_files: [join(dir, 'own', 'dice-api.yaml'), ...readdirSync(join(dir, 'v1alpha')).map((f) => join(dir, 'v1alpha', f))],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: 'haproxy_frontend_http_responses_total{proxy="public", code="2xx"}', values: '0+97x300' },
            { series: 'haproxy_frontend_http_responses_total{proxy="public", code="5xx"}', values: '0+3x300' },
            { series: `http_server_request_duration_count{${route}}`, values: '0+100x300' },
            { series: `http_server_request_duration_bucket{${route}, le="0.1"}`, values: '0+98x300' },
          ],
          promql_expr_test: checks,
        },
      ],
    };
    const file = join(dir, 'v1alpha-equal.test.yml');
    writeFileSync(file, stringify(test));
    const result = run(binary('promtool'), ['test', 'rules', file]);
    expect(result.status, result.output).toBe(0);
  });

  it('the same promtool scenarios fire our page and ticket at the same evaluation as Sloth\'s, except the named differences', async () => {
    slothGenerate(join(ROOT, 'observability/slo/sloth/dice-api.yaml'), join(dir, 'sloth.yml'));
    withOurFor(join(dir, 'sloth.yml'), join(dir, 'sloth-for.yml'));
    const { differ, ours } = await differential(join(dir, 'sloth-for.yml'));
    expect(ours, 'scenarios failing on our own rules').toEqual([]);
    expect(differ).toEqual(Object.fromEntries(Object.keys(DIFFERENCES).map((name) => [name, 'fails on Sloth only'])));
  });

  it('a window or factor changed on the Sloth side (its windows catalog) makes the differential fail', async () => {
    // Sloth's default 30d windows, with the 14.4x page factor as 13.3x (2% of the budget in an
    // hour becomes 1.85%): its errorBudgetPercent is what sets the factor.
    const windows = join(dir, 'windows');
    mkdirSync(windows);
    writeFileSync(
      join(windows, '30d.yaml'),
      stringify({
        apiVersion: 'sloth.slok.dev/v1',
        kind: 'AlertWindows',
        spec: {
          sloPeriod: '30d',
          page: { quick: { errorBudgetPercent: 1.85, shortWindow: '5m', longWindow: '1h' }, slow: { errorBudgetPercent: 5, shortWindow: '30m', longWindow: '6h' } },
          ticket: { quick: { errorBudgetPercent: 10, shortWindow: '2h', longWindow: '1d' }, slow: { errorBudgetPercent: 10, shortWindow: '6h', longWindow: '3d' } },
        },
      }),
    );
    slothGenerate(join(ROOT, 'observability/slo/sloth/dice-api.yaml'), join(dir, 'sloth-mutated.yml'), `--slo-period-windows-path=${windows}`);
    withOurFor(join(dir, 'sloth-mutated.yml'), join(dir, 'sloth-mutated-for.yml'));
    expect(readFileSync(join(dir, 'sloth-mutated-for.yml'), 'utf8')).toContain('13.32');
    // The page scenarios are the ones a page factor moves; one file keeps this test short.
    const { differ } = await differential(join(dir, 'sloth-mutated-for.yml'), OUR_RULES, ['slo-burn-rates-page.test.yml']);
    const unnamed = Object.keys(differ).filter((name) => !(name in DIFFERENCES));
    expect(unnamed.length, 'a changed Sloth factor must show as scenarios that differ').toBeGreaterThan(0);
    expect(unnamed.some((name) => name.includes('14.4x over 1h/5m'))).toBe(true);
  });

  it('a window or factor changed on our side (spec.yaml) makes the differential fail', async () => {
    const copy = scratchCopy();
    try {
      const spec = join(copy, 'observability/slo/spec.yaml');
      writeFileSync(spec, readFileSync(spec, 'utf8').replace('{ severity: page, long: 6h, short: 30m, burn_rate: 6 }', '{ severity: page, long: 6h, short: 35m, burn_rate: 6 }'));
      const generate = run(process.execPath, [join(copy, 'scripts/slo/generate.ts')]);
      expect(generate.status, generate.output).toBe(0);
      slothGenerate(join(ROOT, 'observability/slo/sloth/dice-api.yaml'), join(dir, 'sloth-unmutated.yml'));
      withOurFor(join(dir, 'sloth-unmutated.yml'), join(dir, 'sloth-unmutated-for.yml'));
      const ours = ['slo-recording.yml', 'slo-alerts.yml'].map((f) => join(copy, 'observability/prometheus/rules', f));
      const { differ } = await differential(join(dir, 'sloth-unmutated-for.yml'), ours, ['slo-burn-rates-page.test.yml']);
      const unnamed = Object.keys(differ).filter((name) => !(name in DIFFERENCES));
      expect(unnamed.some((name) => name.includes('6x over 6h/30m')), JSON.stringify(differ, null, 1)).toBe(true);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
