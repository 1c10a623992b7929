import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, run, type Run } from '../../config/support/tools.ts';

export { ROOT, run, type Run };

// Helm keeps repositories, plugins and a cache under $HOME; its own home under the OS temp dir keeps
// a developer's Helm set-up (or its absence) out of the results. One fixed directory, not one per
// run: vitest ends its workers without an exit hook, so per-run directories would pile up. No chart
// repository is reachable here anyway: charts must not depend on one.
const helmHome = join(tmpdir(), 'dice-stack-helm-home');
const helmEnv = {
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_DATA_HOME: join(helmHome, 'data'),
};

type Tool = 'helm' | 'kube-validate' | 'kube-dryrun' | 'amtool';
/** The build-backends.sh component that provides each tool. */
const COMPONENT: Record<Tool, string> = { helm: 'helm', 'kube-validate': 'kube-validate', 'kube-dryrun': 'kube-validate', amtool: 'alertmanager' };
const paths: Partial<Record<Tool, string>> = {};

/**
 * The pinned helm, kube-validate or amtool, as built by `npm run setup` (scripts/native/build-backends.sh).
 * Only the component asked for is checked, so this suite does not wait on the collector's build.
 * Tests never build: a missing or stale binary fails at once, naming the command that builds it.
 */
export function tool(name: Tool): string {
  const known = paths[name];
  if (known) return known;
  // DICE_HELM, DICE_KUBE_VALIDATE, DICE_KUBE_DRYRUN, DICE_AMTOOL: a binary of the pinned version built elsewhere (e.g.
  // while `npm run setup` is still building); CI leaves them unset.
  const override = process.env[`DICE_${name.toUpperCase().replace('-', '_')}`];
  if (override) return (paths[name] = override);
  const check = run('bash', ['scripts/native/build-backends.sh', '--check', '--only', COMPONENT[name]]);
  if (check.status !== 0) throw new Error(`${name} is not built:\n${check.output.trim()}`);
  const listed = run('bash', ['scripts/native/build-backends.sh', '--print-paths']);
  const line = listed.output.split('\n').find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`build-backends.sh --print-paths lists no ${name}`);
  return (paths[name] = line.slice(name.length + 1));
}

/**
 * The tool's path, or why it is missing: for a suite that is skipped, naming the reason, on a
 * developer's machine that has not built it. Under CI (CI=true) a missing tool throws instead, so
 * CI never passes by skipping.
 */
export function optionalTool(name: Tool): { path?: string; missing?: string } {
  try {
    return { path: tool(name) };
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    return { missing: (error as Error).message.split('\n').join(' ') };
  }
}

function exec(command: string, args: string[], input?: string, env: Record<string, string> = {}, timeout = 120_000): Run {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`could not run ${command}: ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * Runs the pinned helm (HELM_VERSION in .env, built by `npm run setup`) from the repository root,
 * e.g. helm(['template', 'dice', 'deploy/helm/dice', '-f', 'deploy/values/production.yaml']).
 * `output` is stdout followed by stderr; for `template`, use `stdout` to get only the manifests.
 */
export function helm(args: string[]): Run & { stdout: string } {
  const result = spawnSync(tool('helm'), args, {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...helmEnv },
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`could not run helm: ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

/**
 * Validates multi-document YAML (helm template's output) with kube-validate: strict decoding into
 * the Kubernetes 1.37 API types, the served-API check, ObjectMeta rules, and custom resources
 * against the prometheus-operator CRDs (PROMETHEUS_OPERATOR_VERSION in .env) or CRDs in the input.
 * Status 0: every object passed; 1: `output` has an "error Kind/ns/name: ..." line per problem;
 * 2: unreadable input or no object at all. Extra flags (e.g. ['--crds', dir]) go in `args`.
 */
export function validate(manifests: string, args: string[] = []): Run {
  return exec(tool('kube-validate'), [...args, '-'], manifests);
}

/**
 * Server-side applies multi-document YAML with dryRun=All and fieldValidation=Strict to a real
 * kube-apiserver 1.37 and etcd that kube-dryrun starts for the call (deploy/tools/kube-validate/cmd/
 * kube-dryrun), after installing the prometheus-operator CRDs and the objects' namespaces for real.
 * Status 0: the server accepted every object; 1: `output` has an "error Kind/ns/name: <the
 * server's message>" line per rejected object; 2: bad input or the server did not start.
 */
export function dryRun(manifests: string, args: string[] = []): Run {
  return exec(tool('kube-dryrun'), [...args, '-'], manifests, {}, 300_000);
}
