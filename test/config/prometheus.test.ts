import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ALLOWED_SIDES } from '../../apps/dice-api/src/dice/roll-query.ts';
import { loadSpec } from '../../scripts/slo/generate.ts';
import { binary, ROOT, run } from './support/tools.ts';

const rulesDir = join(ROOT, 'observability/prometheus/rules');
const ruleFiles = readdirSync(rulesDir).filter((f) => f.endsWith('.yml')).map((f) => join('observability/prometheus/rules', f));

describe('Prometheus config and rules (promtool at the pinned version)', () => {
  it('promtool check config accepts prometheus.yml and the rule files it loads', () => {
    const result = run(binary('promtool'), ['check', 'config', 'observability/prometheus/prometheus.yml']);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain(`${ruleFiles.length} rule files found`);
  });

  it('promtool check rules accepts every rule file', () => {
    const result = run(binary('promtool'), ['check', 'rules', ...ruleFiles]);
    expect(result.status, result.output).toBe(0);
  });

  it('promtool test rules passes every unit test (burns, blip, zero traffic, recovery, absence, fairness, pipeline)', () => {
    const tests = readdirSync(join(ROOT, 'observability/prometheus/tests')).filter((f) => f.endsWith('.test.yml'));
    expect(tests.length).toBeGreaterThanOrEqual(3);
    const result = run(binary('promtool'), ['test', 'rules', ...tests.map((t) => `observability/prometheus/tests/${t}`)]);
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

  it('the generated rule files are up to date with observability/slo/spec.yaml', () => {
    const result = run(process.execPath, ['scripts/slo/generate.ts', '--check']);
    expect(result.status, result.output).toBe(0);
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
