// Proves that the promtool scenarios pin every burn-rate factor, window and objective: each
// mutation edits observability/slo/spec.yaml in a scratch copy, regenerates the rules there with
// the real generator, and expects `promtool test rules` to fail. Nothing in the repository changes.
//   node scripts/slo/mutations.ts <path to promtool> [name filter]
// (`bash scripts/native/build-backends.sh --print-paths` says where promtool is.)
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Mutation {
  name: string;
  /**
   * The scenarios expected to catch it (a promtool --run regex), so that a run takes seconds;
   * a mutation they miss is retried against every scenario before it counts as missed.
   */
  scope: string;
  /** A literal line fragment of spec.yaml and what replaces it. */
  from: string;
  to: string;
}

const pair = (severity: string, long: string, short: string, rate: string) => `{ severity: ${severity}, long: ${long}, short: ${short}, burn_rate: ${rate} }`;
const PAIRS = [
  ['page', '1h', '5m', '14.4'],
  ['page', '6h', '30m', '6'],
  ['ticket', '1d', '2h', '3'],
  ['ticket', '3d', '6h', '1'],
] as const;
/** Plausible slips: each factor about 8% either way, each window a step shorter and longer. */
const FACTORS: Record<string, string[]> = { '14.4': ['13.3', '15.5', '10', '20'], '6': ['5.5', '6.5', '12'], '3': ['2.75', '3.25', '6'], '1': ['0.9', '1.1'] };
const WINDOWS: Record<string, string[]> = { '5m': ['4m', '6m', '15m'], '30m': ['25m', '35m'], '1h': ['50m', '70m'], '2h': ['100m', '140m'], '6h': ['5h', '7h'], '1d': ['20h', '28h'], '3d': ['60h', '84h'] };

export const MUTATIONS: Mutation[] = [
  ...PAIRS.flatMap(([severity, long, short, rate]) => {
    const from = pair(severity, long, short, rate);
    const label = `${severity} ${rate}x ${long}/${short}`;
    const scope = `${severity} ${rate.replace('.', '\\.')}x over ${long}/${short}`;
    return [
      ...FACTORS[rate]!.map((r) => ({ name: `${label}: factor ${rate} -> ${r}`, scope, from, to: pair(severity, long, short, r) })),
      ...WINDOWS[long]!.map((w) => ({ name: `${label}: long window ${long} -> ${w}`, scope, from, to: pair(severity, w, short, rate) })),
      ...WINDOWS[short]!.map((w) => ({ name: `${label}: short window ${short} -> ${w}`, scope, from, to: pair(severity, long, w, rate) })),
    ];
  }),
  { name: 'availability objective 99.5 -> 99.4', scope: 'availability .*threshold', from: 'objective: 99.5', to: 'objective: 99.4' },
  { name: 'availability objective 99.5 -> 99.6', scope: 'availability .*threshold', from: 'objective: 99.5', to: 'objective: 99.6' },
  { name: 'latency objective 99 -> 98.9', scope: 'latency .*threshold', from: 'objective: 99\n', to: 'objective: 98.9\n' },
  { name: 'latency objective 99 -> 99.1', scope: 'latency .*threshold', from: 'objective: 99\n', to: 'objective: 99.1\n' },
  // The low-traffic guard and the budget levels (slo-low-traffic.test.yml, slo-budget.test.yml).
  ...['0', '5', '20'].map((n) => ({ name: `low-traffic guard min_failed_requests 10 -> ${n}`, scope: 'a minute:', from: 'min_failed_requests: 10', to: `min_failed_requests: ${n}` })),
  ...['0.15', '0.45'].map((n) => ({ name: `budget low level 0.25 -> ${n}`, scope: 'the budget', from: 'low_remaining: 0.25', to: `low_remaining: ${n}` })),
];

/** A scratch copy of what rule generation and promtool read, with node_modules linked in. */
export function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slo-mutation-'));
  // generate.ts also writes the chart's PrometheusRules: the copy needs them to pass --check unchanged.
  for (const path of ['scripts/slo', 'observability/slo', 'observability/prometheus/rules', 'observability/prometheus/tests', 'deploy/helm/dice-stack/files/prometheus-rules']) {
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

export interface Outcome {
  mutation: Mutation;
  caught: boolean;
  /** Names of the promtool scenarios that failed. */
  failed: string[];
  output: string;
}

/**
 * Applies the mutation in a fresh scratch copy, regenerates the rules, and runs promtool's tests:
 * the scenarios in the mutation's scope, or all of them when those pass.
 */
export function tryMutation(promtool: string, mutation: Mutation): Outcome {
  const dir = scratchCopy();
  try {
    const specPath = join(dir, 'observability/slo/spec.yaml');
    const spec = readFileSync(specPath, 'utf8');
    if (!spec.includes(mutation.from)) throw new Error(`mutation "${mutation.name}": spec.yaml no longer contains "${mutation.from}"; update scripts/slo/mutations.ts`);
    writeFileSync(specPath, spec.replace(mutation.from, mutation.to));
    const generate = spawnSync(process.execPath, ['scripts/slo/generate.ts'], { cwd: dir, encoding: 'utf8' });
    if (generate.status !== 0) throw new Error(`mutation "${mutation.name}": the generator refused it:\n${generate.stderr}`);
    const tests = readdirSync(join(dir, 'observability/prometheus/tests')).filter((f) => f.endsWith('.test.yml'));
    const files = tests.map((t) => `observability/prometheus/tests/${t}`);
    const junit = join(dir, 'junit.xml');
    const test = (...args: string[]) => spawnSync(promtool, ['test', 'rules', `--junit=${junit}`, ...args, ...files], { cwd: dir, encoding: 'utf8' });
    let result = test(`--run=${mutation.scope}`);
    if (result.status === 0) result = test();
    const output = `${result.stdout}${result.stderr}`;
    // promtool's JUnit report names each failing scenario; its terminal output does not.
    const report = readFileSync(junit, 'utf8');
    const failed = [...report.matchAll(/<testcase name="([^"]*)"[^>]*>\s*<failure/g)].map((m) => m[1]!.replaceAll('&#39;', "'"));
    return { mutation, caught: result.status !== 0, failed, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  const [promtool, filter = ''] = process.argv.slice(2);
  if (!promtool) {
    console.error('usage: node scripts/slo/mutations.ts <path to promtool> [name filter]\n(bash scripts/native/build-backends.sh --print-paths lists it)');
    process.exit(2);
  }
  const chosen = MUTATIONS.filter((m) => m.name.includes(filter));
  let missed = 0;
  for (const [i, mutation] of chosen.entries()) {
    const started = Date.now();
    const outcome = tryMutation(promtool, mutation);
    if (!outcome.caught) missed++;
    const first = outcome.failed[0] ? `: ${outcome.failed[0]}${outcome.failed.length > 1 ? ` (+${outcome.failed.length - 1} more)` : ''}` : '';
    console.log(`[${i + 1}/${chosen.length}] ${outcome.caught ? 'caught' : 'MISSED'} ${mutation.name} (${((Date.now() - started) / 1000).toFixed(1)} s)${first}`);
  }
  console.log(`${chosen.length - missed} of ${chosen.length} mutations caught`);
  if (missed > 0) process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
