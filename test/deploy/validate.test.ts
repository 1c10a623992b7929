import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { helm, ROOT, validate } from './support/tools.ts';

// kube-validate on small inline manifests: the suite proves the validator rejects what a
// kube-apiserver rejects before any chart exists (the chart's own tests use the same helpers).
// Each bad case is the valid Deployment with one change, so only that change can explain the failure.
const deployment = (spec: { containers?: string; replicas?: string; apiVersion?: string } = {}) => `# Source: dice/templates/deployment.yaml
apiVersion: ${spec.apiVersion ?? 'apps/v1'}
kind: Deployment
metadata:
  name: dice-api
  namespace: dice
  labels:
    app.kubernetes.io/name: dice-api
spec:
  replicas: ${spec.replicas ?? '2'}
  selector:
    matchLabels:
      app.kubernetes.io/name: dice-api
  template:
    metadata:
      labels:
        app.kubernetes.io/name: dice-api
    spec:
      containers:
${spec.containers ?? `        - name: api
          image: dice-api:1.0.0
          ports:
            - name: http
              containerPort: 3000`}
`;

const rule = (extra = '') => `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: dice-slo
  namespace: dice
spec:
  groups:
    - name: dice-slo
      rules:
        - alert: DiceApiDown
          expr: up{job="dice-api"} == 0
          for: 5m
${extra}          labels:
            severity: page
`;

describe('kube-validate (deploy/tools/kube-validate) on inline manifests', () => {
  it('passes a valid Deployment and PrometheusRule, one "ok" line each, with the helm source named', () => {
    const result = validate(`${deployment()}---\n${rule()}`);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('ok Deployment/dice/dice-api (dice/templates/deployment.yaml)');
    expect(result.output).toContain('ok PrometheusRule/dice/dice-slo');
  });

  it('rejects an unknown field of a container, naming its path', () => {
    const result = validate(deployment({ containers: '        - name: api\n          image: dice-api:1.0.0\n          imagePulPolicy: Always' }));
    expect(result.status, result.output).toBe(1);
    expect(result.output).toContain('error Deployment/dice/dice-api');
    expect(result.output).toContain('unknown field "spec.template.spec.containers[0].imagePulPolicy"');
  });

  it('rejects a field of the wrong type', () => {
    const result = validate(deployment({ replicas: '"two"' }));
    expect(result.status, result.output).toBe(1);
    expect(result.output).toMatch(/spec\.replicas.*int32/);
  });

  it('rejects a key given twice', () => {
    const result = validate(deployment({ replicas: '2\n  replicas: 3' }));
    expect(result.status, result.output).toBe(1);
    expect(result.output).toMatch(/error Deployment\/dice\/dice-api .*"replicas" already set/);
  });

  it('rejects an API version the 1.37 API server no longer serves', () => {
    const result = validate(deployment({ apiVersion: 'apps/v1beta2' }));
    expect(result.status, result.output).toBe(1);
    expect(result.output).toContain('apps/v1beta2 Deployment is no longer served since Kubernetes 1.16');
  });

  it('rejects an unknown field of a PrometheusRule (the CRD schema prunes it)', () => {
    const result = validate(rule('          keepFiringFour: 10m\n'));
    expect(result.status, result.output).toBe(1);
    expect(result.output).toContain('unknown field "spec.groups[0].rules[0].keepFiringFour"');
  });

  it('rejects a PrometheusRule value the CRD schema forbids', () => {
    const result = validate(rule().replace('for: 5m', 'for: five minutes'));
    expect(result.status, result.output).toBe(1);
    expect(result.output).toMatch(/spec\.groups\[0\]\.rules\[0\]\.for.*should match/);
  });

  it('rejects a kind that is neither built in nor defined by a loaded CRD', () => {
    const result = validate('apiVersion: dice.example.com/v1\nkind: DiceTable\nmetadata:\n  name: table\n');
    expect(result.status, result.output).toBe(1);
    expect(result.output).toContain('unknown kind dice.example.com/v1 DiceTable');
  });

  it('fails on an empty render instead of passing it', () => {
    const result = validate('# nothing rendered\n');
    expect(result.status, result.output).toBe(2);
  });
});

describe('helm (HELM_VERSION from .env)', () => {
  it('is the pinned release', () => {
    const version = helm(['version', '--short']);
    expect(version.status, version.output).toBe(0);
    expect(version.output.trim()).toBe(`v${envValue('HELM_VERSION')}`);
  });

  // A plain `go install` of helm leaves .Capabilities.KubeVersion at v1.20.0, so `kubeVersion:`
  // constraints and `semverCompare` in templates would see a 1.20 cluster; build-backends.sh sets
  // it as helm's Makefile does, from the client-go helm links (1.37 for 3.22.0), the version
  // kube-validate checks against.
  it('templates for Kubernetes 1.37 (Capabilities.KubeVersion), the version kube-validate checks', () => {
    const chart = mkdtempSync(join(tmpdir(), 'dice-capabilities-'));
    mkdirSync(join(chart, 'templates'));
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: capabilities\nversion: 0.1.0\n');
    writeFileSync(
      join(chart, 'templates', 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: capabilities\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n',
    );
    const rendered = helm(['template', 'capabilities', chart]);
    expect(rendered.status, rendered.output).toBe(0);
    expect(rendered.stdout).toContain('kube: "v1.37.0"');
    const validated = validate(rendered.stdout);
    expect(validated.status, validated.output).toBe(0);
    expect(validated.output).toContain('ok ConfigMap/capabilities');
  });
});

function envValue(key: string): string {
  const line = readFileSync(join(ROOT, '.env'), 'utf8').split('\n').find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`${key} is not in .env`);
  return line.slice(key.length + 1).trim();
}
