import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ALLOWED_SIDES } from '../../apps/dice-api/src/dice/roll-query.ts';
import { BURN_RATE_TESTS, DESIGN, DETECTION_ERROR_RATIOS, detectionTime, renderBurnRateTests } from '../../scripts/slo/burn-rate-scenarios.ts';
import { loadSpec, renderRuleFiles } from '../../scripts/slo/generate.ts';
import { burnRateAlerts, validateSpec } from '../../scripts/slo/rules.ts';
import { scratchCopy } from '../../scripts/slo/mutations.ts';
import { binary, ROOT, run } from './support/tools.ts';

const rulesDir = join(ROOT, 'observability/prometheus/rules');
const ruleFiles = readdirSync(rulesDir).filter((f) => f.endsWith('.yml')).map((f) => join('observability/prometheus/rules', f));

describe('Prometheus config and rules (promtool at the pinned version)', () => {
  it('promtool check config accepts prometheus.yml and the rule files it loads', () => {
    const result = run(binary('promtool'), ['check', 'config', 'observability/prometheus/prometheus.yml']);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain(`${ruleFiles.length} rule files found`);
  });

  it('promtool check rules accepts every rule file, and the 7-day rules the period scenarios load', () => {
    const periodRules = readdirSync(join(ROOT, 'observability/prometheus/tests/period-7d')).map((f) => join('observability/prometheus/tests/period-7d', f));
    expect(periodRules.length).toBe(2);
    const result = run(binary('promtool'), ['check', 'rules', ...ruleFiles, ...periodRules]);
    expect(result.status, result.output).toBe(0);
  });

  // One test per group of files, so that each gets the whole timeout on a busy machine.
  const burnRateFiles = Object.values(BURN_RATE_TESTS).map((path) => relative(ROOT, path));
  it('promtool test rules passes the hand-written unit tests (fast and slow burns, blip, zero traffic, recovery, absence, fairness, pipeline)', () => {
    const tests = readdirSync(join(ROOT, 'observability/prometheus/tests')).filter((f) => f.endsWith('.test.yml')).map((t) => `observability/prometheus/tests/${t}`).filter((t) => !burnRateFiles.includes(t));
    expect(tests.length).toBeGreaterThanOrEqual(3);
    const result = run(binary('promtool'), ['test', 'rules', ...tests]);
    expect(result.status, result.output).toBe(0);
  });

  it.each(burnRateFiles)('promtool test rules passes %s (each burn-rate threshold and window, detection times)', (file) => {
    const result = run(binary('promtool'), ['test', 'rules', file]);
    expect(result.status, result.output).toBe(0);
  });

  it('every alert has for, a severity, a summary, a description using $labels or $value, a runbook and a dashboard link', () => {
    const alerts = ruleFiles.flatMap((file) =>
      (parse(readFileSync(join(ROOT, file), 'utf8')) as { groups: { rules: Record<string, any>[] }[] }).groups.flatMap((g) => g.rules.filter((r) => r['alert'])),
    );
    expect(alerts.length).toBeGreaterThanOrEqual(9);
    for (const alert of alerts) {
      const what = `alert ${alert['alert']}`;
      expect(alert['for'], what).toMatch(/^\d+[smh]$/);
      expect(['page', 'ticket'], what).toContain(alert['labels']?.['severity']);
      expect(alert['annotations']?.['summary'], what).toBeTruthy();
      expect(alert['annotations']?.['description'], what).toMatch(/\$labels|\$value/);
      expect(alert['annotations']?.['runbook_url'], what).toMatch(new RegExp(`/${alert['alert']}\\.md$`));
      expect(alert['annotations']?.['dashboard_url'], what).toMatch(/^http/);
    }
  });

  it('each alert has a runbook in docs/runbooks', () => {
    const names = new Set(
      ruleFiles.flatMap((file) => [...readFileSync(join(ROOT, file), 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!)),
    );
    const runbooks = new Set(readdirSync(join(ROOT, 'docs/runbooks')).map((f) => f.replace(/\.md$/, '')));
    expect([...names].filter((n) => !runbooks.has(n))).toEqual([]);
  });

  it('the committed rule files are what the generator makes of observability/slo/spec.yaml (npm run generate:rules)', () => {
    for (const [name, content] of Object.entries(renderRuleFiles(loadSpec()))) {
      expect(readFileSync(join(rulesDir, name), 'utf8'), `${name} is stale or hand-edited: run npm run generate:rules`).toBe(content);
    }
    const check = run(process.execPath, ['scripts/slo/generate.ts', '--check']);
    expect(check.status, check.output).toBe(0);
  });

  it("generate.ts --check, CI's staleness gate, fails on a hand-edited rule file and on a changed spec", () => {
    const dir = scratchCopy();
    try {
      const check = () => run(process.execPath, [join(dir, 'scripts/slo/generate.ts'), '--check']);
      expect(check().status, 'the unchanged copy must pass').toBe(0);
      const alerts = join(dir, 'observability/prometheus/rules/slo-alerts.yml');
      const committed = readFileSync(alerts, 'utf8');
      writeFileSync(alerts, committed.replace('> 0.072', '> 0.1'));
      const edited = check();
      expect(edited.status).toBe(1);
      expect(edited.output).toContain('observability/prometheus/rules/slo-alerts.yml');
      writeFileSync(alerts, committed);
      // The OpenSLO and Sloth exports are checked the same way.
      const v1 = join(dir, 'observability/slo/openslo/v1/dice-api-availability.yaml');
      const exported = readFileSync(v1, 'utf8');
      writeFileSync(v1, exported.replace('threshold: 14.4', 'threshold: 10'));
      const editedExport = check();
      expect(editedExport.status).toBe(1);
      expect(editedExport.output).toContain('observability/slo/openslo/v1/dice-api-availability.yaml');
      writeFileSync(v1, exported);
      const spec = join(dir, 'observability/slo/spec.yaml');
      writeFileSync(spec, readFileSync(spec, 'utf8').replace('burn_rate: 14.4', 'burn_rate: 10'));
      const stale = check();
      expect(stale.status).toBe(1);
      expect(stale.output).toMatch(/stale generated rules: .*slo-alerts\.yml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the committed alerts compare each window of each pair with spec.yaml's burn rate x budget (read from the files, not regenerated)", () => {
    const spec = parse(readFileSync(join(ROOT, 'observability/slo/spec.yaml'), 'utf8')) as { slos: { name: string; objective: number }[]; burn_rate_alerts: { severity: string; long: string; short: string; burn_rate: number }[] };
    const alerts = (parse(readFileSync(join(rulesDir, 'slo-alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string; labels: Record<string, string> }[] }[] }).groups.flatMap((g) => g.rules);
    for (const slo of spec.slos) {
      for (const severity of ['page', 'ticket']) {
        const rule = alerts.find((r) => r.labels['slo'] === slo.name && r.labels['severity'] === severity && r.alert.endsWith('BudgetBurn'));
        expect(rule, `${slo.name} ${severity} burn alert`).toBeDefined();
        const comparisons = [...rule!.expr.matchAll(/slo:sli_error:ratio_rate(\w+)\{slo="([^"]+)"[^}]*\} > ([\d.e-]+)/g)].map((m) => ({ window: m[1], slo: m[2], threshold: Number(m[3]) }));
        const budget = 1 - slo.objective / 100;
        const expected = spec.burn_rate_alerts.filter((a) => a.severity === severity).flatMap((a) => [a.long, a.short].map((window) => ({ window, slo: slo.name, threshold: a.burn_rate * budget })));
        expect(comparisons.map((c) => ({ ...c, threshold: Number(c.threshold.toPrecision(10)) })), `${slo.name} ${severity}`).toEqual(
          expected.map((c) => ({ ...c, threshold: Number(c.threshold.toPrecision(10)) })),
        );
      }
    }
  });

  it('the burn-rate scenarios are what scripts/slo/burn-rate-scenarios.ts writes, and its design is the spec\'s', () => {
    for (const severity of ['page', 'ticket'] as const) {
      expect(readFileSync(BURN_RATE_TESTS[severity], 'utf8'), `${severity} scenarios are stale: run node scripts/slo/burn-rate-scenarios.ts`).toBe(renderBurnRateTests(severity));
    }
    // The scenarios are built from their own copy of the design, so that promtool catches a
    // changed spec; this says which number differs before promtool says which scenario broke.
    const spec = loadSpec();
    const minutes = (d: string) => Number(d.slice(0, -1)) * { s: 1 / 60, m: 1, h: 60, d: 1440 }[d.at(-1) as 's' | 'm' | 'h' | 'd'];
    const why = 'spec.yaml and the design in scripts/slo/burn-rate-scenarios.ts differ: change both on purpose, then regenerate the rules and the scenarios';
    expect(spec.burn_rate_alerts.map((a) => ({ severity: a.severity, long: minutes(a.long), short: minutes(a.short), factor: a.burn_rate })), why).toEqual(DESIGN.pairs);
    expect(spec.slos.map((s) => ({ name: s.name, budget: Number((1 - s.objective / 100).toPrecision(10)) })), why).toEqual(DESIGN.slos.map((s) => ({ name: s.name, budget: s.budget })));
  });

  it('docs/slo.md gives the detection times the promtool scenarios check', () => {
    const rows = readFileSync(join(ROOT, 'docs/slo.md'), 'utf8').split('\n').filter((l) => l.startsWith('| ')).map((l) => l.split('|').map((c) => c.trim()));
    const cell = (minutes: number | undefined) => (minutes === undefined ? 'never' : `${Number(minutes.toFixed(1))} min`.replace('.', '\\.'));
    for (const slo of DESIGN.slos) {
      for (const e of DETECTION_ERROR_RATIOS) {
        const row = rows.find((r) => r[1] === slo.name && r[2] === `${Math.round(e * 100)}%`);
        expect(row, `docs/slo.md has no row for ${slo.name} at ${e * 100}% errors`).toBeDefined();
        expect(row![4], `docs/slo.md: ${slo.name} at ${e * 100}%, page`).toMatch(new RegExp(`^${cell(detectionTime(slo, e, 'page').minutes)}\\b`));
        expect(row![5], `docs/slo.md: ${slo.name} at ${e * 100}%, ticket`).toMatch(new RegExp(`^${cell(detectionTime(slo, e, 'ticket').minutes)}\\b`));
      }
    }
  });

  it('a period other than 7 to 90 whole days is refused, naming what is allowed; docs/slo.md gives the 28- and 7-day windows the generator scales', () => {
    for (const days of [6, 91, 7.5, 0]) {
      expect(() => validateSpec({ ...loadSpec(), period_days: days })).toThrow(/period_days is .*; allowed: a whole number of days from 7 to 90/);
    }
    const rows = readFileSync(join(ROOT, 'docs/slo.md'), 'utf8').split('\n').filter((l) => /^\| (page|ticket) [\d.]+x \|/.test(l)).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.length).toBe(4);
    for (const [column, days] of [[2, 30], [3, 28], [4, 7]] as const) {
      const pairs = burnRateAlerts({ ...loadSpec(), period_days: days });
      expect(rows.map((r) => r[column]), `docs/slo.md, ${days}-day windows`).toEqual(pairs.map((a) => `${a.long} / ${a.short}`));
    }
  });

  it("the fairness check covers exactly the API's dice", () => {
    expect(loadSpec().alerts.die_fairness.sides).toEqual([...ALLOWED_SIDES]);
  });

  it('the latency objective threshold is an exact bucket boundary of the histogram', async () => {
    const { HTTP_DURATION_BUCKETS_SECONDS } = await import('../../libs/telemetry/src/sdk/telemetry.constants.ts');
    const latency = loadSpec().slos.find((s) => s.name === 'latency')!;
    const le = /le="([\d.]+)"/.exec(latency.errors)?.[1];
    expect(HTTP_DURATION_BUCKETS_SECONDS as readonly number[]).toContain(Number(le));
    const collector = readFileSync(join(ROOT, 'otel-collector/config.yaml'), 'utf8');
    expect(collector).toContain(`${Number(le) * 1000}ms`);
  });

  it('compose and the native stack pass Prometheus the same flags (observability/prometheus/flags.txt)', () => {
    const flags = readFileSync(join(ROOT, 'observability/prometheus/flags.txt'), 'utf8').split('\n').filter((l) => l.startsWith('--'));
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { command?: string[] }> };
    const command = (compose.services['prometheus']!.command ?? []).map((arg) => arg.split(/\s+#/)[0]!.trim());
    for (const flag of flags) expect(command, `docker-compose.yml prometheus command lacks ${flag}`).toContain(flag);
    const extra = command.filter((arg) => !flags.includes(arg) && !/^--(config\.file|storage\.tsdb\.path)=/.test(arg));
    expect(extra, 'flags in compose but not in flags.txt').toEqual([]);
  });
});
