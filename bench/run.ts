// What full three-pillar instrumentation costs, how fresh the telemetry is, and what the stack
// weighs: every figure measured side by side in one run on one machine, reported as ratios.
//
//   npm run bench            # build, then the full run (~56 min, 30 of them the soak): writes docs/benchmarks.md,
//                            # .json and the plots in docs/benchmarks/ (bench/lib/plots.ts)
//   npm run bench:quick      # build, then a smoke run (~5.5 min, a few seconds per case, no goals judged
//                            # as met or missed): writes bench/results/quick.md, latest.json and plots only
//   node bench/run.ts [--quick] [--phases=footprint,freshness,cardinality,throughput,profile,soak]
//                     [--rounds=N] [--duration=S] [--cases=ID,...] [--baseline=DIR[,DIR...]] [--report-only]
//
// Needs root and the native stack's binaries (scripts/native/build-backends.sh; built on first
// use), haproxy, taskset, Python 3 with venv (the Flask peer; its venv is cached outside the repo).
// The stack runs on DICE_STACK_SUBNET (default here 127.0.4, so that it does not collide with
// `npm run stack` or the e2e tests on 127.0.1); every load goes to loopback addresses and is
// bounded in time. Everything started is stopped at the end, on failure and on Ctrl-C.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureFlaskVenv } from './lib/flask-venv.ts';
import { renderPlots, writePlots } from './lib/plots.ts';
import { pinTree } from './lib/proc.ts';
import { runProfile } from './lib/profile.ts';
import { runSoak, soakSeconds } from './lib/soak.ts';
import { renderReport } from './lib/report.ts';
import type { ChangesFile, Results, Settings } from './lib/results.ts';
import { ROOT, stopServer, type RunningServer } from './lib/servers.ts';
import { runCardinality, runFootprintIdle, runFootprintLoad, runFreshness, stackProcesses } from './lib/stack-phases.ts';
import { caseIdsOf, casesNeedFlask, runThroughput, throughputSeconds } from './lib/throughput.ts';
import { median, type SaturationRound } from './lib/results.ts';
import type { Stack } from '../scripts/native/stack.ts';

const PHASES = ['footprint', 'freshness', 'cardinality', 'throughput', 'profile', 'soak'] as const;
type Phase = (typeof PHASES)[number];

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    phases: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    cases: { type: 'string' },
    baseline: { type: 'string' },
    'report-only': { type: 'boolean', default: false },
  },
});
const QUICK = argv.quick;
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const DOC_MD = join(ROOT, 'docs', 'benchmarks.md');
const DOC_JSON = join(ROOT, 'docs', 'benchmarks.json');
// The side-by-side run of earlier builds (bench/README.md, "What each change did"), rendered into the report.
const DOC_CHANGES = join(ROOT, 'docs', 'benchmarks-changes.json');
const readChanges = (): ChangesFile | undefined => (existsSync(DOC_CHANGES) ? (JSON.parse(readFileSync(DOC_CHANGES, 'utf8')) as ChangesFile) : undefined);
/** The report's plots, beside it; a quick or partial run writes them to bench/results/ with quick.md. */
const DOC_PLOTS = join(ROOT, 'docs', 'benchmarks');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const log = (line: string) => console.log(`[${elapsed()}] ${line}`);

if (argv['report-only']) {
  // Rewrites docs/benchmarks.md and its plots from docs/benchmarks.json, e.g. after changing the
  // report's text or a plot. Nothing is written unless all of it renders.
  const results = JSON.parse(readFileSync(DOC_JSON, 'utf8')) as Results;
  try {
    const plots = await renderPlots(results);
    const report = renderReport(results, { plots: { list: plots, href: 'benchmarks/' }, changes: readChanges() });
    const written = writePlots(plots, DOC_PLOTS);
    writeFileSync(DOC_MD, report);
    console.log(`wrote ${DOC_MD} and ${written.map((f) => f.slice(ROOT.length + 1)).join(', ')} from ${DOC_JSON}`);
    process.exit(0);
  } catch (error) {
    console.error(`--report-only: nothing written: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

const settings: Settings = {
  rounds: Number(argv.rounds ?? (QUICK ? 1 : 3)),
  durationS: Number(argv.duration ?? (QUICK ? 2 : 8)),
  warmupS: QUICK ? 1 : 5,
  roundWarmupS: QUICK ? 1 : 4,
  connections: 50,
  pacedConnections: 16,
  moderateRate: 500,
  highRate: 1000,
  peakRate: 2000,
  freshnessRequests: QUICK ? 4 : 32,
  footprintIdleS: QUICK ? 3 : 20,
  footprintLoadS: QUICK ? 5 : 30,
  footprintRate: 100,
  cardinalityBatches: QUICK ? [1000] : [5000, 5000],
  cardinalityRate: 1000,
  cardinalitySettleS: QUICK ? 25 : 30,
  profileS: QUICK ? 2 : 10,
  soakS: QUICK ? 40 : 1800,
  soakSampleS: QUICK ? 10 : 60,
  soakSettleS: QUICK ? 10 : 300,
  soakReportS: QUICK ? 10 : 600,
};
const CASE_IDS = argv.cases?.split(',');
const unknownCases = CASE_IDS?.filter((id) => !caseIdsOf(settings).includes(id)) ?? [];
if (unknownCases.length > 0) throw new Error(`unknown case ${unknownCases.join(', ')}; cases are ${caseIdsOf(settings).join(', ')}`);
const BASELINES = argv.baseline?.split(',').map((dir) => resolve(dir)) ?? [];
for (const dir of BASELINES) {
  if (!existsSync(join(dir, 'dist', 'apps', 'dice-api', 'src', 'main.js'))) {
    throw new Error(`--baseline: ${dir} has no dist/apps/dice-api/src/main.js: build that checkout first (npm ci && npm run build there)`);
  }
}
if (new Set(BASELINES.map((dir) => basename(dir))).size < BASELINES.length) {
  throw new Error(`--baseline: the directories' names must differ, they name the variants: ${BASELINES.join(', ')}`);
}
const PARTIAL = Boolean(argv.phases || argv.rounds || argv.duration || CASE_IDS || BASELINES.length > 0);
const phases = new Set<Phase>(
  argv.phases
    ? argv.phases.split(',').map((p) => {
        if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase "${p}"; phases are ${PHASES.join(', ')}`);
        return p as Phase;
      })
    : PHASES,
);

// ---- preconditions, with what to do about them
if (process.getuid?.() !== 0) throw new Error('the benchmark needs root: the native stack uses private mount namespaces and port 80');
if (os.availableParallelism() < 2) throw new Error('the benchmark pins the server and the load to different cores: it needs at least 2');
if (!existsSync(join(ROOT, 'dist/apps/dice-api/src/main.js'))) throw new Error('dice-api is not built: run `npm run build` first (`npm run bench` does)');
try {
  execFileSync('taskset', ['-c', '0', 'true']);
} catch {
  throw new Error('taskset is missing or cannot pin: apt-get install -y util-linux');
}

process.env.DICE_STACK_SUBNET ??= '127.0.4';
const SUBNET = process.env.DICE_STACK_SUBNET;
const { startStack, endpoints, HOSTS } = await import('../scripts/native/stack.ts');

const pkgVersion = (name: string) => {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
};
const othersAtStart = () => {
  try {
    return execFileSync('ps', ['-eo', 'pid,pcpu,args', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([pid]) => pid && Number(pid) !== process.pid)
      .slice(0, 5)
      .map(([, ...rest]) => rest.join(' ').slice(0, 110));
  } catch {
    return [];
  }
};

const results: Results = {
  meta: {
    mode: QUICK ? 'quick' : 'full',
    command:
      process.env.npm_lifecycle_event === 'bench' || process.env.npm_lifecycle_event === 'bench:quick'
        ? `npm run ${process.env.npm_lifecycle_event}`
        : `node bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    seconds: 0,
    machine: {
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      node: process.version,
      python: '',
    },
    loadavgBefore: os.loadavg().map((x) => Math.round(x * 100) / 100),
    loadavgAfter: [],
    othersAtStart: othersAtStart(),
    settings,
    versions: Object.fromEntries(['@nestjs/core', 'fastify', '@opentelemetry/sdk-node', '@opentelemetry/auto-instrumentations-node', 'autocannon'].map((n) => [n, pkgVersion(n)])),
    subnet: SUBNET,
    phaseSeconds: {},
  },
};

// ---- everything started is tracked, so that it is stopped whatever happens
const servers = new Set<RunningServer>();
const track = (server: RunningServer | undefined, add: boolean) => server && (add ? servers.add(server) : servers.delete(server));
let stack: Stack | undefined;
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    for (const server of servers) await stopServer(server).catch(() => undefined);
    if (stack) {
      log('stopping the native stack');
      await stack.stop().catch(() => undefined);
    }
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping everything the benchmark started`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function phase<T>(name: Phase, run: () => Promise<T>): Promise<T | undefined> {
  if (!phases.has(name)) return undefined;
  const t = Date.now();
  log(`== ${name}`);
  const value = await run();
  results.meta.phaseSeconds[name] = (results.meta.phaseSeconds[name] ?? 0) + Math.round((Date.now() - t) / 1000);
  log(`== ${name} done in ${Math.round((Date.now() - t) / 1000)} s`);
  return value;
}

function shrinkLogs(dir: string) {
  // Access logs of millions of requests: keep the last 64 KiB of each, enough to see a failure.
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    const stat = statSync(path);
    if (stat.isFile() && stat.size > 1 << 20) {
      const tail = readFileSync(path).subarray(-(64 << 10));
      writeFileSync(path, tail);
    } else if (stat.isFile() && stat.size === 0) truncateSync(path);
  }
}

async function main() {
  log(`dice-stack benchmark, ${QUICK ? 'quick' : 'full'} mode; phases: ${[...phases].join(', ')}`);
  log(`machine: ${results.meta.machine.nproc} cores (${results.meta.machine.cpu}), load average ${results.meta.loadavgBefore.join(' ')}`);
  // The throughput and soak phases' own estimates; the stack's start and the other phases took
  // 275 s in the full run and 104 s in the quick run of 2026-12-06 (less when some are left out).
  const soakS = phases.has('soak') ? soakSeconds(settings, !phases.has('throughput')) : 0;
  const estimateS = (phases.has('throughput') ? throughputSeconds(settings, CASE_IDS, BASELINES) : 0) + soakS + (QUICK ? 104 : 275);
  log(`expected duration: about ${Math.round(estimateS / 60)} min${soakS ? ` (the soak ${Math.round(soakS / 60)} of them)` : ''}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const logDir = join(RESULTS_DIR, 'logs');
  const profileDir = join(RESULTS_DIR, 'profiles');
  rmSync(logDir, { recursive: true, force: true });
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });

  const needsFlask = phases.has('throughput') && casesNeedFlask(settings, CASE_IDS);
  const flask = needsFlask ? ensureFlaskVenv(log) : undefined;
  results.meta.machine.python = flask?.pythonVersion ?? '';
  if (flask) results.meta.versions['flask venv'] = flask.pins.join(' ');

  log(`starting the native stack on ${SUBNET}.0/24`);
  const t = Date.now();
  // The edge sink answers for Tempo and Loki, which cannot run here: without it the collector's
  // queues toward them fill and it refuses the app's exports, which then cost what failing costs.
  stack = await startStack({ traffic: false, build: true, edgeSink: true, log: (line) => log(`  stack: ${line.trim()}`) });
  log(`native stack up in ${((Date.now() - t) / 1000).toFixed(1)} s (runs in ${stack.runDir})`);
  const handle = { runDir: stack.runDir, endpoints };
  const pinStack = (cpus: string) => {
    for (const p of stackProcesses(handle)) pinTree(p.pid, cpus);
  };
  const context = { logDir, otlpEndpoint: `http://${HOSTS['otel-collector']}:4318`, flask };

  const idle = await phase('footprint', () => runFootprintIdle(handle, settings));
  results.freshness = await phase('freshness', () => runFreshness(handle, settings, log));
  const load = await phase('footprint', () => runFootprintLoad(handle, settings));
  if (idle && load) results.footprint = { idle, load };
  results.cardinality = await phase('cardinality', () => runCardinality(handle, settings, log));
  results.throughput = await phase('throughput', () =>
    runThroughput({ settings, context, subnet: SUBNET, log, track, pinStack, caseIds: CASE_IDS, baselines: BASELINES, prometheus: endpoints.prometheus }),
  );
  results.profile = await phase('profile', () => runProfile({ settings, context, subnet: SUBNET, outDir: profileDir, log, track, pinStack }));
  const saturation = results.throughput?.cases.find((c) => c.id === 'roll-saturation')?.rounds['instrumented'] as SaturationRound[] | undefined;
  results.soak = await phase('soak', () =>
    runSoak({ settings, context, subnet: SUBNET, log, track, pinStack, saturationRps: saturation?.length ? median(saturation.map((r) => r.rps)) : undefined }),
  );
  await cleanUp();
  shrinkLogs(logDir);

  results.meta.loadavgAfter = os.loadavg().map((x) => Math.round(x * 100) / 100);
  results.meta.seconds = Math.round((Date.now() - started) / 1000);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
  if (QUICK || PARTIAL) {
    // Partial or smoke runs never overwrite the committed report. The report expects every case,
    // so a run of some cases only (--cases) has its figures in latest.json and in the log above.
    try {
      // Only the plots of the phases that ran (renderPlots draws what the results hold).
      const plots = await renderPlots(results);
      writeFileSync(join(RESULTS_DIR, 'quick.md'), renderReport(results, { plots: { list: plots, href: '' } }));
      const written = writePlots(plots, RESULTS_DIR).map((f) => f.slice(ROOT.length + 1));
      log(`wrote bench/results/latest.json, bench/results/quick.md${written.length ? ` and ${written.join(', ')}` : ''} (docs/ is written by the full run only)`);
    } catch (error) {
      if (!CASE_IDS) throw error;
      log(`wrote bench/results/latest.json; no report for a run of some cases (${error instanceof Error ? error.message : String(error)})`);
    }
  } else {
    const plots = await renderPlots(results);
    const report = renderReport(results, { plots: { list: plots, href: 'benchmarks/' }, changes: readChanges() });
    writeFileSync(DOC_JSON, json);
    writeFileSync(DOC_MD, report);
    const written = writePlots(plots, DOC_PLOTS).map((f) => f.slice(ROOT.length + 1));
    log(`wrote docs/benchmarks.md, docs/benchmarks.json, ${written.join(', ')} and bench/results/latest.json`);
  }
  log(`done in ${results.meta.seconds} s; load average now ${results.meta.loadavgAfter.join(' ')}`);
}

try {
  await main();
} catch (error) {
  console.error(`\nthe benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await cleanUp();
  process.exitCode = 1;
}
