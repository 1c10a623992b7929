import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface Run {
  status: number | null;
  output: string;
}

/** Runs a command from the repository root and returns its exit status and combined output. */
export function run(command: string, args: string[], env: Record<string, string> = {}): Run {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600_000 });
  if (result.error) throw new Error(`could not run ${command}: ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

let paths: Record<string, string> | undefined;

/**
 * The backend binaries at the .env versions. Building them is `npm run setup`'s visible step (about
 * 13 minutes from empty caches), never a side effect of a test: a missing binary fails at once,
 * saying what to run.
 */
export type BinaryName =
  | 'promtool'
  | 'amtool'
  | 'prometheus'
  | 'alertmanager'
  | 'otelcol-dice'
  | 'node_exporter'
  | 'helm'
  | 'kube-validate'
  | 'telemetrygen'
  | 'sloth'
  | 'oslo';

export function binary(name: BinaryName): string {
  if (!paths) {
    const check = run('bash', ['scripts/native/build-backends.sh', '--check']);
    if (check.status !== 0) throw new Error(`the backends are not built:\n${check.output.trim()}`);
    const listed = run('bash', ['scripts/native/build-backends.sh', '--print-paths']);
    paths = Object.fromEntries(listed.output.trim().split('\n').map((line) => line.split('=') as [string, string]));
  }
  const path = paths[name];
  if (!path) throw new Error(`build-backends.sh does not provide ${name}`);
  return path;
}

/**
 * A binary of one component, or why it is missing: for a suite that skips (with that reason) on a
 * machine where the component is not built yet. In CI (CI=true) setup builds every component, so
 * there it fails instead of skipping.
 */
export function builtBinary(component: string, name: BinaryName): { path: string } | { missing: string } {
  const check = run('bash', ['scripts/native/build-backends.sh', '--check', '--only', component]);
  if (check.status === 0) {
    const listed = run('bash', ['scripts/native/build-backends.sh', '--print-paths']);
    const line = listed.output.split('\n').find((l) => l.startsWith(`${name}=`));
    if (line) return { path: line.slice(name.length + 1) };
  }
  const missing = `${component} is not built (${check.output.trim().split('\n')[0]}); run npm run setup`;
  if (process.env['CI']) throw new Error(missing);
  return { missing };
}
