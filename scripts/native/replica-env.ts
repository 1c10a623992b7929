// The dice API replica's environment exactly as docker-compose.yml gives it (x-dice-api-env), and
// its node command line exactly as the image runs it (the Dockerfile's CMD): the native stack and
// the benchmark start from both and change only addresses and test timings, so a setting changed
// for users (Node flags, OTEL_* batching) is the setting tests and benchmarks run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** x-dice-api-env of `root`'s docker-compose.yml (this checkout's by default), values as strings. */
export function composeReplicaEnv(root = join(import.meta.dirname, '..', '..')): Record<string, string> {
  const file = join(root, 'docker-compose.yml');
  const env = (parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null)?.['x-dice-api-env'];
  if (env === null || typeof env !== 'object' || Array.isArray(env)) throw new Error(`${file}: x-dice-api-env is not a mapping`);
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value)]));
}

/**
 * The arguments after `node` in the exec-form CMD of `root`'s apps/dice-api/Dockerfile, which compose
 * and the Helm chart run unchanged: the Node flags (V8 heap sizing, which NODE_OPTIONS refuses), the
 * instrumentation module and main.js.
 */
export function replicaNodeArgs(root = join(import.meta.dirname, '..', '..')): string[] {
  const file = join(root, 'apps', 'dice-api', 'Dockerfile');
  const cmd = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('CMD '))
    .at(-1);
  const argv: unknown = cmd === undefined ? undefined : JSON.parse(cmd.slice('CMD '.length));
  if (!Array.isArray(argv) || argv[0] !== 'node' || !argv.every((arg) => typeof arg === 'string')) {
    throw new Error(`${file}: its last CMD is not an exec-form ["node", ...] line: ${cmd ?? '(none)'}`);
  }
  return argv.slice(1) as string[];
}

/** compose's `mem_limit` of a replica (x-dice-api of `root`'s docker-compose.yml), in bytes. */
export function replicaMemLimitBytes(root = join(import.meta.dirname, '..', '..')): number {
  const file = join(root, 'docker-compose.yml');
  const limit = (parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>> | null)?.['x-dice-api']?.['mem_limit'];
  const m = /^(\d+)([kmg])?$/i.exec(String(limit ?? ''));
  if (!m) throw new Error(`${file}: x-dice-api has no mem_limit like 256m (got ${String(limit)})`);
  const unit = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  return Number(m[1]) * unit;
}
