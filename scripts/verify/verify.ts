// `npm run verify`: "I sent data but see nothing", answered hop by hop. Sends requests with known
// trace IDs through the load balancer, then proves each hop of the telemetry pipeline in turn
// (scraped metric, span-metrics exemplar, trace in Tempo, log lines in Loki, Alertmanager), printing
// each hop's time and verdict, and exits 1 naming the first broken hop and what to check.
// `npm run verify -- --help` says everything; the checks are in hops.ts, the verdicts in verdict.ts.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HELP, parseVerifyArgs, UsageError, type VerifyOptions } from './args.ts';
import {
  alertmanagerProbe,
  exemplarProbe,
  lokiProbe,
  metricProbe,
  pollHop,
  promScalar,
  recorderProbe,
  REQUEST_COUNTER,
  sendThroughBalancer,
  tempoProbe,
  unreachableReason,
  type Probe,
} from './hops.ts';
import { normalDelays, readSources, type Normal, type PipelineHop } from './pipeline-delays.ts';
import { resolveTargets, type HopKey, type VerifyTargets } from './targets.ts';
import { conclude, formatRow, judge, type HopResult, type Outcome } from './verdict.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const BACKEND_TITLES: Record<HopKey, string> = {
  balancer: 'balancer',
  metric: 'scraped metric',
  exemplar: 'span-metrics exemplar',
  trace: 'trace in Tempo',
  logs: 'logs in Loki',
  alertmanager: 'alertmanager',
};
const ORDER: HopKey[] = ['balancer', 'metric', 'exemplar', 'trace', 'logs', 'alertmanager'];
/** With the recorder in place of Tempo and Loki, the rows say so. */
const RECORDER_TITLES: Partial<Record<HopKey, string>> = { trace: 'trace at the recorder', logs: 'logs at the recorder' };

function describeNormals(normals: Record<PipelineHop, Normal>, titles = BACKEND_TITLES): string[] {
  return (Object.keys(normals) as PipelineHop[]).map((k) => `  ${titles[k].padEnd(22)} up to ${normals[k].seconds.toFixed(0).padStart(2)} s: ${normals[k].because}`);
}

async function run(options: VerifyOptions, out: (line: string) => void): Promise<number> {
  const t = await resolveTargets(options, ROOT);
  const titles = t.recorder ? { ...BACKEND_TITLES, ...RECORDER_TITLES } : BACKEND_TITLES;
  const normals = normalDelays(options.stack, readSources(ROOT));
  const recorderNote = t.recorder ? ` (the OTLP recorder in ${t.recorder} stands in for Tempo and Loki)` : '';
  out(`verify: the ${options.stack} stack, at ${t.origin}${recorderNote}`);
  const urls: [string, string | undefined][] = [
    ['balancer', t.lb],
    ['prometheus', t.prometheus],
    ['tempo', t.tempo],
    ['loki', t.loki],
    ['alertmanager', t.alertmanager],
  ];
  out(`  ${urls.filter(([, u]) => u).map(([n, u]) => `${n} ${u}`).join('  ')}`);

  // Reachability first, all at once: a stack that is not running is one line, not six failures.
  const probeUrl: Record<string, string> = { balancer: `${t.lb}/health/ready`, prometheus: `${t.prometheus}/-/ready` };
  if (t.tempo) probeUrl['tempo'] = `${t.tempo}/ready`;
  if (t.loki) probeUrl['loki'] = `${t.loki}/ready`;
  if (t.alertmanager) probeUrl['alertmanager'] = `${t.alertmanager}/-/ready`;
  const reach = Object.fromEntries(await Promise.all(Object.entries(probeUrl).map(async ([name, url]) => [name, await unreachableReason(url)] as const)));
  if (Object.values(reach).every((why) => why !== undefined)) {
    const why = [...new Set(Object.values(reach).map((w) => w!.replace(/^.* does not answer: /, '')))].join(', ');
    out(`verify: the ${options.stack} stack is not running: nothing answers at ${urls.filter(([, u]) => u).map(([, u]) => u).join(', ')} (${why}); ${t.notRunning}`);
    return 1;
  }

  const results = new Map<HopKey, HopResult>();
  const hop = (key: HopKey, outcome: Outcome): HopResult => {
    const normal = key === 'balancer' ? undefined : normals[key];
    return { n: ORDER.indexOf(key) + 1, title: titles[key], outcome, ...(normal ? { normal } : {}), hint: t.hints[key] };
  };
  // Rows appear in hop order as soon as a hop and all before it are judged.
  let printed = 0;
  const width = Math.max(...ORDER.map((k) => titles[k].length));
  const settle = (key: HopKey, outcome: Outcome) => {
    results.set(key, hop(key, outcome));
    while (printed < ORDER.length && results.has(ORDER[printed]!)) {
      const r = results.get(ORDER[printed]!)!;
      out(formatRow(r, judge(r), width));
      printed++;
    }
  };

  const started = Date.now();
  // Before sending: the counter's value that the requests must add to.
  let before: number | undefined;
  let promError: string | undefined = reach['prometheus'];
  if (!promError) {
    try {
      before = (await promScalar(t.prometheus, REQUEST_COUNTER)) ?? 0;
    } catch (error) {
      promError = (error as Error).message;
    }
  }

  out(`sending ${options.requests} request${options.requests === 1 ? '' : 's'} through the balancer, then waiting up to ${options.waitSeconds} s for each hop:`);
  // In compose the balancer starts last, once both replicas are healthy: say so while the rest answers.
  const starting = options.stack === 'compose' && !reach['prometheus'] ? ' (Prometheus answers: the stack may still be starting; the balancer starts once both replicas are healthy)' : '';
  const sent = reach['balancer']
    ? { outcome: { kind: 'error', afterMs: 0, reason: `${reach['balancer']}${starting}` } as Outcome, sent: [], lastAt: Date.now() }
    : await sendThroughBalancer(t.lb, options.requests);
  settle('balancer', sent.outcome);

  const ids = sent.sent.map((s) => s.traceId);
  const since = sent.lastAt;
  const deadline = since + options.waitSeconds * 1000;
  const sentOk = sent.outcome.kind === 'ok';
  const noRequests: Outcome = { kind: 'skip', reason: 'not checked: no request went through the balancer' };
  const poll = (probe: () => Promise<Probe>) => pollHop(probe, since, deadline);
  const promDown = (): Outcome => ({ kind: 'error', afterMs: 0, reason: promError! });
  const checks: Record<Exclude<HopKey, 'balancer'>, () => Promise<Outcome>> = {
    metric: async () => (!sentOk ? noRequests : promError ? promDown() : poll(metricProbe(t.prometheus, before!, ids.length))),
    exemplar: async () => (!sentOk ? noRequests : promError ? promDown() : poll(exemplarProbe(t.prometheus, new Set(ids), started))),
    trace: async () => {
      if (!sentOk) return noRequests;
      if (t.recorder) return poll(recorderProbe(t.recorder, 'spans', ids));
      if (!t.tempo) return { kind: 'skip', reason: `skipped: ${t.absent.tempo}` };
      if (reach['tempo']) return { kind: 'error', afterMs: 0, reason: reach['tempo'] };
      return poll(tempoProbe(t.tempo, ids));
    },
    logs: async () => {
      if (!sentOk) return noRequests;
      if (t.recorder) return poll(recorderProbe(t.recorder, 'logs', ids));
      if (!t.loki) return { kind: 'skip', reason: `skipped: ${t.absent.loki}` };
      if (reach['loki']) return { kind: 'error', afterMs: 0, reason: reach['loki'] };
      return poll(lokiProbe(t.loki, ids, started));
    },
    // Not a delay after the requests: timed from its own start, and it runs even when they failed.
    alertmanager: async () => {
      if (promError) return promDown();
      if (!t.alertmanager && !t.alertmanagerViaPrometheus) return { kind: 'skip', reason: `skipped: ${t.absent.alertmanager}` };
      if (t.alertmanager && reach['alertmanager']) return { kind: 'error', afterMs: 0, reason: reach['alertmanager'] };
      return pollHop(alertmanagerProbe(t.prometheus, t.alertmanager), Date.now(), Math.max(deadline, Date.now() + 1000));
    },
  };

  // The pipeline hops run side by side: each one's time is its own, from the last request.
  const pending = new Set<HopKey>(ORDER.slice(1));
  const heartbeat = setInterval(() => {
    const waited = ((Date.now() - since) / 1000).toFixed(0);
    out(`    ... ${waited} s of ${options.waitSeconds}: still waiting for ${[...pending].map((k) => titles[k]).join(', ')}`);
  }, 10_000);
  try {
    await Promise.all(
      (Object.keys(checks) as (keyof typeof checks)[]).map(async (key) => {
        const outcome = await checks[key]();
        pending.delete(key);
        settle(key, outcome);
      }),
    );
  } finally {
    clearInterval(heartbeat);
  }
  const { exitCode, lines } = conclude(
    ORDER.map((k) => results.get(k)!),
    Date.now() - started,
  );
  if (exitCode !== 0 || [...results.values()].some((r) => judge(r).status === 'SLOW')) {
    out('normal delays of this stack, from its configs:');
    describeNormals(normals, titles).forEach((line) => out(line));
  }
  lines.forEach((line) => out(line));
  return exitCode;
}

async function main(): Promise<number> {
  let options: VerifyOptions;
  try {
    options = parseVerifyArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`verify: ${error.message} (npm run verify -- --help)`);
    return 2;
  }
  if (options.help) {
    console.log(HELP);
    for (const stack of ['compose', 'native'] as const) {
      console.log(`Normal delays of the ${stack} stack, from its configs (a cluster runs the chart's copies of the same):`);
      describeNormals(normalDelays(stack, readSources(ROOT))).forEach((line) => console.log(line));
    }
    return 0;
  }
  return run(options, (line) => console.log(line));
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Anything unforeseen still ends in one line; VERIFY_DEBUG=1 shows the stack trace.
    console.error(`verify: stopped by an unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env['VERIFY_DEBUG']) console.error(error);
    process.exit(1);
  },
);
