// The Alertmanager configuration a user of the README's Kubernetes install gets, tested as merged:
// kube-prometheus-stack 88.5.3's alertmanager.config (committed extract, provenance in its header)
// with deploy/values/kube-prometheus-stack.yaml and deploy/helm/kube-prometheus-stack.alertmanager.yaml
// over it as Helm merges them (scripts/deploy/helm-merge.ts: maps deep, lists replaced), then routed
// by the real amtool (ALERTMANAGER_VERSION in .env, built by `npm run setup`).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readExtract, renderExtract } from '../../scripts/deploy/chart-defaults.ts';
import { keyPaths, loadKeyList } from '../../scripts/deploy/chart-keys.ts';
import { ALERT_RECEIVERS_SECRET } from '../../scripts/deploy/generate-chart-files.ts';
import { coalesce, helmValues, mergeValueFiles } from '../../scripts/deploy/helm-merge.ts';
import { ROOT, run, tool } from './support/tools.ts';

const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const EXTRACT = 'deploy/values/upstream-defaults/kube-prometheus-stack-88.5.3.alertmanager.config.yaml';
const KEYS = 'deploy/values/upstream-keys/kube-prometheus-stack-88.5.3.txt';
/** The -f files of the README's kube-prometheus-stack install line, in its order. */
const VALUE_FILES = ['deploy/values/kube-prometheus-stack.yaml', 'deploy/helm/kube-prometheus-stack.alertmanager.yaml'];

type AmConfig = {
  route: { receiver: string; routes: unknown[] };
  inhibit_rules: unknown[];
  receivers: { name: string; webhook_configs?: { url?: string; url_file?: string }[] }[];
};

function merged(files = VALUE_FILES.map((f) => parse(read(f)))) {
  const defaults = { alertmanager: { config: readExtract(join(ROOT, EXTRACT)).value, alertmanagerSpec: {} } };
  return helmValues(defaults, ...files).alertmanager as { config: AmConfig; alertmanagerSpec: { secrets?: string[] } };
}

describe("Helm's merge of values (helm v3.22 pkg/chartutil/coalesce.go, pkg/cli/values/options.go)", () => {
  it('merges maps at every depth, replaces lists whole, and a user null deletes the default', () => {
    const defaults = { a: { b: 1, c: [1, 2], d: { e: 1 } }, f: 'x', g: 1 };
    const user = mergeValueFiles({ a: { c: [3] } }, { a: { d: { h: 2 } }, g: null });
    expect(coalesce(user, defaults)).toEqual({ a: { b: 1, c: [3], d: { e: 1, h: 2 } }, f: 'x' });
  });
});

describe("kube-prometheus-stack's default alertmanager.config (committed extract)", () => {
  const extract = readExtract(join(ROOT, EXTRACT));

  it('comes from the same tag and commit as the chart key list, and has exactly its keys', () => {
    const keysHeader = read(KEYS).split('\n').filter((l) => l.startsWith('#')).join('\n');
    expect(keysHeader).toContain(`at tag ${extract.header.tag} (commit ${extract.header.commit})`);
    expect(extract.header).toMatchObject({ repo: 'prometheus-community/helm-charts', path: 'charts/kube-prometheus-stack/values.yaml', key: 'alertmanager.config' });
    const prefix = 'alertmanager.config.';
    const listed = [...loadKeyList(join(ROOT, KEYS)).paths].filter((p) => p.startsWith(prefix)).sort();
    expect(keyPaths(extract.value).map((k) => prefix + k.path).sort()).toEqual(listed);
  });

  const mirror = process.env.DICE_CHART_MIRRORS?.split(':')[1];
  it.skipIf(!mirror)('equals a fresh extract from the prometheus-community mirror (set DICE_CHART_MIRRORS=<grafana-community>:<prometheus-community> git dirs to run)', () => {
    const fresh = renderExtract({ git: mirror!, rev: extract.header.tag, path: extract.header.path, repo: extract.header.repo, key: extract.header.key });
    expect(fresh).toBe(read(EXTRACT));
  });
});

describe('the Alertmanager a Kubernetes user gets (chart defaults + our values, as Helm merges them), routed by amtool', () => {
  let dir: string;
  let file: string;
  const { config, alertmanagerSpec } = merged();
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dice-am-merged-'));
    file = join(dir, 'alertmanager.yaml');
    writeFileSync(file, JSON.stringify(config));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const route = (labels: Record<string, string>) => {
    const result = run(tool('amtool'), ['config', 'routes', 'test', `--config.file=${file}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
    expect(result.status, result.output).toBe(0);
    return result.output.trim();
  };

  it('amtool check-config accepts it', () => {
    const result = run(tool('amtool'), ['check-config', file]);
    expect(result.status, result.output).toBe(0);
  });

  // kube-prometheus-stack 88.5.3's rules (templates/prometheus/rules-1.14/*.yaml): Watchdog and
  // InfoInhibitor fire always (severity none), KubeAPIDown and friends are critical.
  it.each([
    [{ alertname: 'Watchdog', severity: 'none' }, 'null'],
    [{ alertname: 'InfoInhibitor', severity: 'none', namespace: 'kube-system' }, 'null'],
    [{ alertname: 'KubeAPIDown', severity: 'critical' }, 'page'],
    [{ alertname: 'KubePodCrashLooping', severity: 'warning', namespace: 'dice-stack' }, 'ticket'],
    [{ alertname: 'CPUThrottlingHigh', severity: 'info', namespace: 'dice-stack' }, 'null'],
    [{ alertname: 'DiceApiAvailabilityBudgetBurn', severity: 'page', slo: 'availability', service: 'dice-api' }, 'page'],
    [{ alertname: 'DiceApiAvailabilityBudgetBurn', severity: 'ticket', slo: 'availability', service: 'dice-api' }, 'ticket'],
  ])('%o goes to %s', (labels, receiver) => {
    expect(route(labels)).toBe(receiver);
  });

  it("every alert of our PrometheusRules reaches its severity's receiver (page or ticket)", () => {
    const dirRules = 'deploy/helm/dice-stack/files/prometheus-rules';
    const alerts = ['dice-alerts.yaml', 'slo-alerts.yaml'].flatMap((f) =>
      (parse(read(`${dirRules}/${f}`)).spec.groups as { rules: { alert?: string; labels?: Record<string, string> }[] }[]).flatMap((g) => g.rules.filter((r) => r.alert)),
    );
    expect(alerts.length).toBeGreaterThan(5);
    for (const a of alerts) {
      expect(['page', 'ticket'], a.alert).toContain(a.labels?.severity);
      expect(route({ alertname: a.alert!, ...a.labels }), a.alert).toBe(a.labels!.severity);
    }
  });

  it("keeps every inhibition of kube-prometheus-stack's (lists are replaced, so ours must restate them)", () => {
    const defaults = readExtract(join(ROOT, EXTRACT)).value as AmConfig;
    for (const rule of defaults.inhibit_rules) expect(config.inhibit_rules).toContainEqual(rule);
  });

  it(`page and ticket post to URLs the user must provide (Secret ${ALERT_RECEIVERS_SECRET}, named by the README's install), never compose's alert-webhook`, () => {
    const mounted = (alertmanagerSpec.secrets ?? []).map((s) => `/etc/alertmanager/secrets/${s}/`);
    for (const name of ['page', 'ticket']) {
      const receiver = config.receivers.find((r) => r.name === name)!;
      expect(receiver, name).toBeDefined();
      const hooks = receiver.webhook_configs ?? [];
      expect(hooks.length, name).toBeGreaterThan(0);
      for (const h of hooks) {
        expect(h.url, `${name}: a fixed URL`).toBeUndefined();
        expect(mounted.some((m) => h.url_file?.startsWith(m)), `${name}: ${h.url_file} is in a Secret alertmanagerSpec.secrets mounts`).toBe(true);
      }
    }
    expect(JSON.stringify(config)).not.toMatch(/alert-webhook|localhost/);
    const section = read('README.md').split('\n## Kubernetes')[1]!.split('\n## ')[0]!;
    expect(section).toMatch(new RegExp(`kubectl create secret generic ${ALERT_RECEIVERS_SECRET} -n observability[^\\n]*page-url=[^\\n]*ticket-url=`));
  });
});
