// The dice API replica's environment exactly as docker-compose.yml gives it (x-dice-api-env): the
// native stack and the benchmark start from it and change only addresses and test timings, so a
// setting changed for users (Node flags, OTEL_* batching) is the setting tests and benchmarks run.
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
