// Renders docs/benchmarks.md from the raw figures. Every number in the report is computed here
// from results.json, so the report and the JSON cannot disagree; the prose around the numbers
// only states what was done. `node bench/run.ts --report-only` re-renders from docs/benchmarks.json.
import { PLOT_FILES, plotMarkdown, type Plot } from './plots.ts';
import { MiB } from './proc.ts';
import { median, percentile, priceList, PRICE_STEPS, spread, type CaseResult, type ChangesFile, type PacedRound, type Results, type Round, type SaturationRound } from './results.ts';
import { soakVerdict, type Growth } from './soak-verdict.ts';

const NOT_NATIVE = [
  ['Tempo', 'AGPL-licensed: may not be built here; there is no Docker engine to run its image'],
  ['Loki', 'AGPL-licensed: may not be built here; there is no Docker engine to run its image'],
  ['Grafana', 'AGPL-licensed: may not be built here; there is no Docker engine to run its image'],
  ['cAdvisor', 'needs a Docker engine'],
] as const;

/**
 * For the packages that dominate the instrumented server's added CPU: what each does on every
 * request of this app (read in the versions package-lock.json pins), and the next step for it.
 */
const NEXT_STEPS: Record<string, string> = {
  '@opentelemetry/context-async-hooks':
    '`instrumentation-http` binds the request and the response emitters to the request\'s context (`context.bind`), so every listener ' +
    'Node, Fastify and Nest add is wrapped and run through `AsyncLocalStorage.run`. On Node 24 (AsyncContextFrame) callbacks of ' +
    'the response\'s own writes already run in that context: a patched copy without the binding (2026-11-28) kept `trace_id` on ' +
    'every access-log line (155,423 of 155,423), but its CPU per request did not move beyond the noise (0.335 vs 0.309 CPU-s per 1k, ' +
    'median of 5 rounds side by side). Most of this line is the request\'s own `context.with`, which every span below it needs. ' +
    'Next: nothing here on its own; the binding is worth an upstream option only together with the other steps.',
  '@opentelemetry/instrumentation-http':
    '`getIncomingRequestAttributes` (URL parsing, header reads, the redacted query), the start-span hook and, at the end, response ' +
    'attributes and the duration histogram. Upstream PR #6207 (the double attribute computation) is in the pinned 0.300.0 (released ' +
    'in 0.209.0); what is left of the attribute building measured 1.5 µs of CPU per request alone (2026-12-06, a microbenchmark of ' +
    'the installed code). Next: nothing to carry here; the rest of this line is the span and its context.',
  '@opentelemetry/otlp-transformer':
    'Protobuf encoding of spans and log records, on the event loop, inside the `span.end()` or `emit()` that fills a batch of 512. ' +
    'Next: a smaller `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` shortens each block (the same total work); encoding off the event loop needs ' +
    'an exporter that hands finished spans to a worker.',
  '@opentelemetry/sdk-metrics':
    'About 13 records per request (the duration histogram, `dice.*`, and the SDK\'s own `otel.sdk.span.*` and `otel.sdk.log.*` ' +
    'counters), each of which sorts and `JSON.stringify`s its attributes (`hashAttributes`) to find its series: 4.9-5.2 µs of CPU ' +
    'for all 13 (2026-12-06, microbenchmark). Tried side by side, each within this machine\'s ±15% per round: upstream PR #6515\'s ' +
    'faster hash (-0.45 µs: the SDK then rebuilds the string for its Map; the PR\'s hash also let two different attribute sets ' +
    'collide), one attribute object per series in our instruments, and no SDK self-metrics at all (0.95x CPU, 0.92-1.16). ' +
    'Next: nothing here; the four `otel.sdk.span.live` records (1.2 µs) would need an upstream switch, a view does not skip them.',
  '@opentelemetry/sdk-trace':
    'Two spans per request (SERVER and `dice.roll`): ids, attribute limits and sanitising, the batch processor\'s buffer. ' +
    'Next: nothing to drop (both spans are required); measure `dice.roll` with `startSpan` and an explicit parent instead of `startActiveSpan`.',
  '@opentelemetry/core':
    'W3C `traceparent` and baggage extraction on every request, and hex-to-binary of ids for OTLP. Next: `OTEL_PROPAGATORS=tracecontext` ' +
    'if baggage is never used downstream (this app makes no outgoing calls).',
  '@opentelemetry/sdk-logs':
    'One log record per request (the access log), its attributes copied and validated. Next: measure with fewer attributes on the OTLP copy.',
  '@opentelemetry/winston-transport':
    'Converts each winston record into an OTLP log record. Next: as for sdk-logs.',
  'V8 garbage collector':
    'Spans and log records live until their batch is exported, long enough to be promoted. In a memory cgroup V8 caps a semi-space ' +
    'at 1 MiB; the image\'s `--max-semi-space-size=16` (apps/dice-api/Dockerfile says what it measured) lets most of them die young. ' +
    'Next: the old-space collections that remain.',
};

/** Metrics whose series are made by requests: their growth is what cardinality is about. */
const REQUEST_DRIVEN = /^(http_|traces_span_metrics_|dice_|haproxy_)/;

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US').replace(/,/g, ' ') : 'n/a');
const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const ratio = (x: number, base: number) => (Number.isFinite(x / base) && base !== 0 ? `${(x / base).toFixed(2)}x` : 'n/a');
const mib = (bytes: number) => (bytes / MiB).toFixed(0);
const pct = (x: number) => (Number.isFinite(x) ? `${x < 0 ? '−' : ''}${Math.abs(x * 100).toFixed(0)}%` : 'n/a');
const mibSigned = (bytes: number) => (Number.isFinite(bytes) ? `${bytes >= 0 ? '+' : '−'}${Math.abs(bytes / MiB).toFixed(1)}` : 'n/a');

function rounds<T extends Round>(c: CaseResult | undefined, variant: string): T[] {
  return (c?.rounds[variant] ?? []) as T[];
}
const med = (rs: Round[], pick: (r: Round) => number) => median(rs.map(pick));
const withSpread = (rs: Round[], pick: (r: Round) => number, show: (x: number) => string) => {
  if (rs.length === 0) return 'n/a';
  if (rs.length === 1) return show(pick(rs[0]!));
  const [lo, hi] = spread(rs.map(pick));
  return `${show(med(rs, pick))} (${show(lo)}–${show(hi)})`;
};

interface Verdict {
  goal: string;
  measured: string;
  verdict: string;
}

/** met / missed and by how much; `higherIsBetter` says which way the target points. */
function judge(quick: boolean, value: number, target: number, higherIsBetter: boolean, unit: string, show: (x: number) => string): string {
  if (quick) return 'not judged (quick run)';
  if (!Number.isFinite(value)) return 'not measured';
  const met = higherIsBetter ? value >= target : value <= target;
  const by = Math.abs(value - target);
  const rel = target !== 0 ? ` (${((by / target) * 100).toFixed(0)}% ${met ? 'margin' : higherIsBetter ? 'short' : 'over'})` : '';
  return met ? `**met**, by ${show(by)}${unit}${rel}` : `**missed**, by ${show(by)}${unit}${rel}`;
}

export interface ReportOptions {
  /** The plots (bench/lib/plots.ts describePlots) and their folder relative to the report, e.g. `benchmarks/`. */
  plots?: { list: Plot[]; href: string };
  /** The side-by-side run of earlier builds (docs/benchmarks-changes.json), when there is one. */
  changes?: ChangesFile;
}

/**
 * What each change did: every build's instrumented and uninstrumented app in the same rounds of one
 * run, each against its own uninstrumented twin and against the build before it.
 */
export function renderChanges(changes: ChangesFile): string[] {
  const { meta, throughput } = changes.results;
  const cases = new Map((throughput?.cases ?? []).map((c) => [c.id, c]));
  const sat = cases.get('roll-saturation');
  const high = cases.get('roll-high');
  if (!sat || !high) throw new Error('docs/benchmarks-changes.json: its results need the roll-saturation and roll-high cases');
  const out: string[] = [
    '### What each change did',
    '',
    `Every build below ran side by side in one run, \`${meta.command}\` on ${meta.date.slice(0, 10)} at ${meta.date.slice(11, 16)} UTC ` +
      `(load average ${meta.loadavgBefore.map((x) => x.toFixed(2)).join(' ')} before it; ${meta.settings.rounds} rounds of ${meta.settings.durationS} s, pinned as above): ` +
      "each build's app from its own checkout, with its own compose settings and node command line, uninstrumented and instrumented, " +
      'taking turns within each case. Raw figures: [`benchmarks-changes.json`](benchmarks-changes.json). ' +
      'The instrumented columns are medians over the rounds; "vs before" compares with the row above, "x uninstr." with the same build without the SDK.',
    '',
    '| build | change | instrumented req/s | vs before | x uninstr. | CPU s per 1k | vs before | x uninstr. | p99 ms at ' +
      `${high.rate} req/s (worst round) |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  let before: { rps: number; cpu: number } | undefined;
  for (const build of changes.builds) {
    const sr = (v: string) => rounds<SaturationRound>(sat, `${v}${build.suffix}`);
    const rs = sr('instrumented');
    const us = sr('uninstrumented');
    const hs = rounds<PacedRound>(high, `instrumented${build.suffix}`);
    if (rs.length === 0 || us.length === 0 || hs.length === 0) throw new Error(`docs/benchmarks-changes.json: no rounds of the build ${build.commit} (suffix '${build.suffix}')`);
    const now = { rps: med(rs, (r) => (r as SaturationRound).rps), cpu: med(rs, (r) => r.cpuSecondsPer1k) };
    const uninstr = { rps: med(us, (r) => (r as SaturationRound).rps), cpu: med(us, (r) => r.cpuSecondsPer1k) };
    out.push(
      `| \`${build.commit}\` | ${build.change} | ${int(now.rps)} | ${before ? ratio(now.rps, before.rps) : ''} | ${ratio(now.rps, uninstr.rps)} | ` +
        `${fixed(now.cpu, 3)} | ${before ? ratio(now.cpu, before.cpu) : ''} | ${ratio(now.cpu, uninstr.cpu)} | ` +
        `${fixed(med(hs, (r) => r.p99Ms), 1)} (${fixed(Math.max(...hs.map((r) => r.p99Ms)), 1)}) |`,
    );
    before = now;
  }
  out.push('');
  return out;
}

export function renderReport(results: Results, options: ReportOptions = {}): string {
  const { meta } = results;
  const quick = meta.mode === 'quick';
  const out: string[] = [];
  const p = (...lines: string[]) => out.push(...lines);
  const cases = new Map((results.throughput?.cases ?? []).map((c) => [c.id, c]));
  const variants = results.throughput?.variants ?? {};
  const s = meta.settings;

  const rollSat = cases.get('roll-saturation');
  const rollMod = cases.get('roll-moderate');
  const rollHigh = cases.get('roll-high');
  const rollPeak = cases.get('roll-peak');
  const rootSat = cases.get('root-saturation');
  const rootMod = cases.get('root-moderate');
  const root2 = cases.get('root-saturation-2cores');
  const rps = (c: CaseResult | undefined, v: string) => med(rounds<SaturationRound>(c, v), (r) => (r as SaturationRound).rps);
  const p99 = (c: CaseResult | undefined, v: string) => med(rounds(c, v), (r) => r.p99Ms);
  const plot = (file: string) => {
    const found = options.plots?.list.find((x) => x.file === file);
    if (found) p(...plotMarkdown(found, options.plots!.href));
  };

  // ---------------------------------------------------------------- title and summary
  p(
    '# Benchmarks: what the telemetry costs, how fresh it is, what the stack weighs',
    '',
    `Generated by \`${meta.command}\` (\`bench/run.ts\`) on ${meta.date.slice(0, 10)} at ${meta.date.slice(11, 16)} UTC, ` +
      `in ${Math.floor(meta.seconds / 60)} min ${meta.seconds % 60} s (${meta.mode} mode). Raw figures, every round: ` +
      '[`benchmarks.json`](benchmarks.json). Do not edit this file by hand: change `bench/lib/report.ts` and run ' +
      '`node bench/run.ts --report-only`, or run the benchmark again.',
    '',
    `**Machine:** ${meta.machine.nproc} cores (\`${meta.machine.cpu}\`), ${meta.machine.memGiB} GiB RAM, Linux ${meta.machine.kernel}, ` +
      `Node ${meta.machine.node}${meta.machine.python ? `, Python ${meta.machine.python}` : ''}. ` +
      `**Shared and noisy:** load average ${meta.loadavgBefore.join(' / ')} (1/5/15 min) before the run and ` +
      `${meta.loadavgAfter.join(' / ')} after it, on 2 cores; the benchmark itself accounts for about 2 of that while it loads. ` +
      'It is a virtual machine on a shared host, so other work can slow it from outside (the same code measured 2.7x more CPU ' +
      'per uninstrumented request here on 2026-11-28 than on 2026-11-26); treat single figures as rough and the ratios, ' +
      'measured side by side with the variants taking turns, as the result.',
    '',
  );
  if (meta.othersAtStart.length > 0) {
    p('<details><summary>Busiest processes when the run started (ps, %CPU since each started)</summary>', '', '```', ...meta.othersAtStart, '```', '', '</details>', '');
  }

  // What dominates a missed goal, from the profiles of this run.
  const prof = results.profile;
  const addedRows = (() => {
    const bare = prof?.variants['uninstrumented'];
    const inst = prof?.variants['instrumented'];
    if (!bare || !inst) return undefined;
    const view = (v: typeof bare) => v.byCaller ?? v.byPackage;
    const per1k = (v: typeof bare, name: string) => ((view(v).find((x) => x.name === name)?.ms ?? 0) / v.requests) * 1000;
    const rows = view(inst)
      .map((x) => ({ name: x.name, delta: per1k(inst, x.name) - per1k(bare, x.name) }))
      .sort((a, b) => b.delta - a.delta)
      .slice(0, 6);
    return { rows, extra: (inst.busyMs / inst.requests - bare.busyMs / bare.requests) * 1000 };
  })();
  const added = addedRows
    ? `Dominated by (CPU ms added per 1k requests, of ${addedRows.extra.toFixed(0)}, from the profiles): ${addedRows.rows
        .slice(0, 5)
        .map((r) => `${r.name} +${r.delta.toFixed(0)}`)
        .join(', ')}.`
    : '';
  const tail = (() => {
    const t = prof?.longTasks?.['instrumented'];
    const b = prof?.longTasks?.['uninstrumented'];
    if (!t || !b) return '';
    return `Dominated by event-loop blocks ≥ ${t.minMs} ms at ${t.rate} req/s (${t.count} in ${fixed(t.wallMs / 1000, 0)} s, longest ${fixed(t.maxMs, 0)} ms; uninstrumented ${b.count}, longest ${fixed(b.maxMs, 0)} ms), in which: ${t.byPackage.slice(0, 4).map((x) => `${x.name} ${pct(x.share)}`).join(', ')}.`;
  })();
  const missed = (verdict: string, why: string) => (verdict.startsWith('**missed**') && why ? `${verdict}. ${why}` : verdict);

  const verdicts: Verdict[] = [];
  if (results.throughput) {
    const r = rps(rollSat, 'instrumented') / rps(rollSat, 'uninstrumented');
    verdicts.push({
      goal: 'Instrumented throughput ≥ 0.6x uninstrumented (`GET /roll`, saturation, every request sampled)',
      measured: `${r.toFixed(2)}x (${int(rps(rollSat, 'instrumented'))} vs ${int(rps(rollSat, 'uninstrumented'))} req/s); 10% sampling: ${(rps(rollSat, 'instrumented-10pct') / rps(rollSat, 'uninstrumented')).toFixed(2)}x`,
      verdict: missed(judge(quick, r, 0.6, true, 'x', (x) => x.toFixed(2)), added),
    });
    const cpu = (v: string) => med(rounds(rollSat, v), (x) => x.cpuSecondsPer1k);
    const c = cpu('instrumented') / cpu('uninstrumented');
    verdicts.push({
      goal: 'Instrumented CPU per 1,000 requests ≤ 1.6x uninstrumented (`GET /roll`, saturation)',
      measured: `${c.toFixed(2)}x (${fixed(cpu('instrumented'), 3)} vs ${fixed(cpu('uninstrumented'), 3)} CPU-s per 1k)`,
      verdict: missed(judge(quick, c, 1.6, false, 'x', (x) => x.toFixed(2)), added ? 'The same packages as above.' : ''),
    });
    const rss = (v: string) => variants[v]?.peakRssBytes ?? NaN;
    const m = rss('instrumented') / rss('uninstrumented');
    verdicts.push({
      goal: 'Instrumented peak RSS ≤ 1.3x uninstrumented (after the whole throughput phase)',
      measured: `${m.toFixed(2)}x (${mib(rss('instrumented'))} vs ${mib(rss('uninstrumented'))} MiB)`,
      verdict: judge(quick, m, 1.3, false, 'x', (x) => x.toFixed(2)),
    });
    // Judged against the faster of the two gunicorn setups, so that the goal is not met by
    // choosing a slow peer.
    const flaskBest = ['flask-1-worker', 'flask-1-worker-gthread'].filter((v) => rounds(rootSat, v).length > 0).sort((a, b) => rps(rootSat, b) - rps(rootSat, a))[0] ?? 'flask-1-worker';
    const f = rps(rootSat, 'instrumented') / rps(rootSat, flaskBest);
    verdicts.push({
      goal: '≥ 2x the Flask app\'s requests/s on the same core (`GET /`, instrumented Node vs the faster Flask setup, 1 pinned core each)',
      measured: `${f.toFixed(1)}x (${int(rps(rootSat, 'instrumented'))} vs ${int(rps(rootSat, flaskBest))} req/s, ${flaskBest}); uninstrumented Node: ${(rps(rootSat, 'uninstrumented') / rps(rootSat, flaskBest)).toFixed(1)}x`,
      verdict: missed(
        judge(quick, f, 2, true, 'x', (x) => x.toFixed(1)),
        rps(rootSat, 'uninstrumented') / rps(rootSat, flaskBest) >= 2
          ? 'Uninstrumented, the dice API clears it: the instrumentation (above) is what brings it under.'
          : `Even uninstrumented the dice API is only ${(rps(rootSat, 'uninstrumented') / rps(rootSat, flaskBest)).toFixed(1)}x: it spends ` +
            `${fixed(med(rounds(rootSat, 'uninstrumented'), (r) => r.cpuSecondsPer1k) * 1000, 0)} ms of CPU per 1k requests (Nest, Fastify, the winston access log) ` +
            `against ${fixed(med(rounds(rootSat, flaskBest), (r) => r.cpuSecondsPer1k) * 1000, 0)} ms for Flask (${flaskBest}, no access log): a trivial ` +
            `Flask route on gthread is cheaper than the goal assumed. Instrumented, the dice API spends ` +
            `${fixed(med(rounds(rootSat, 'instrumented'), (r) => r.cpuSecondsPer1k) * 1000, 0)} ms.`,
      ),
    });
    // The issue's goal: under 10 ms at both fixed rates, in every round.
    for (const [c, rate] of [
      [rollMod, s.moderateRate],
      [rollHigh, s.highRate],
    ] as const) {
      const worst = (v: string) => Math.max(...rounds(c, v).map((x) => x.p99Ms));
      const hi = worst('instrumented');
      verdicts.push({
        goal: `p99 at ${int(rate)} req/s under 10 ms in every round, instrumented`,
        measured: `worst round ${fixed(hi, 2)} ms, median ${fixed(p99(c, 'instrumented'), 2)} ms (uninstrumented: worst ${fixed(worst('uninstrumented'), 2)}, median ${fixed(p99(c, 'uninstrumented'), 2)} ms)`,
        verdict: missed(judge(quick, hi, 10, false, ' ms', (x) => x.toFixed(2)), tail),
      });
    }
  }
  const blocks = prof?.longTasks?.['instrumented'];
  if (blocks) {
    verdicts.push({
      goal: `No event-loop block ≥ 10 ms at ${blocks.rate} req/s, instrumented`,
      measured: `longest ${fixed(blocks.maxMs, 0)} ms under the profiler; ${blocks.count} blocks ≥ ${blocks.minMs} ms in ${fixed(blocks.wallMs / 1000, 0)} s (uninstrumented: longest ${fixed(prof?.longTasks?.['uninstrumented']?.maxMs ?? NaN, 0)} ms)`,
      verdict: missed(judge(quick, blocks.maxMs, 10, false, ' ms', (x) => x.toFixed(0)), tail ? 'See the p99 rows.' : ''),
    });
  }
  if (results.freshness) {
    const fr = results.freshness;
    const budget = fr.intervals.collectorScrapeS + 5;
    const metricSignals = fr.signals.filter((x) => x.id === 'scraped' || x.id === 'span-metrics' || x.id === 'exemplar');
    for (const sig of metricSignals) {
      const p95 = percentile(sig.ms, 95) / 1000;
      verdicts.push({
        goal: `Freshness p95 within one scrape interval (${fr.intervals.collectorScrapeS} s) + 5 s = ${budget} s: ${sig.label.replace(/`/g, '`')}`,
        measured: `p95 ${fixed(p95, 1)} s (p50 ${fixed(percentile(sig.ms, 50) / 1000, 1)} s) over ${sig.ms.length} requests${sig.missing ? `; ${sig.missing} never seen` : ''}`,
        verdict: sig.missing > 0 && !quick ? `**missed**: ${sig.missing} of ${sig.sent} never appeared` : judge(quick, p95, budget, false, ' s', (x) => x.toFixed(1)),
      });
    }
    verdicts.push({ goal: 'Freshness p95 under 5 s: traces (Tempo) and logs (Loki)', measured: 'not measurable natively', verdict: 'not measured: Tempo and Loki cannot run here (AGPL, no Docker engine)' });
  }
  if (results.footprint) {
    const total = results.footprint.load.processes.reduce((a, x) => a + x.rssBytes, 0);
    verdicts.push({
      goal: 'Native stack under 1.5 GiB RSS in total, under load',
      measured: `${mib(total)} MiB (${results.footprint.load.processes.length} processes; Tempo, Loki, Grafana and cAdvisor not included: they cannot run natively)`,
      verdict: judge(quick, total / MiB, 1536, false, ' MiB', (x) => x.toFixed(0)),
    });
  }
  if (results.cardinality) {
    const steps = results.cardinality.steps;
    // Series whose labels come from requests (route, status, dice parameters, the balancer's
    // counters); runtime series (v8js_*, nodejs_*, otel_sdk_*) can gain a label value with time
    // whatever the traffic, and are listed but not counted here.
    const fromRequests = (st: (typeof steps)[number]) => st.newSeries.filter((g) => REQUEST_DRIVEN.test(g.metric)).reduce((a, g) => a + g.count, 0);
    const others = (st: (typeof steps)[number]) => st.newSeries.filter((g) => !REQUEST_DRIVEN.test(g.metric)).reduce((a, g) => a + g.count, 0);
    const last = steps.at(-1)!;
    verdicts.push({
      goal: 'Series do not grow with unknown paths and varied valid parameters',
      measured: steps
        .map(
          (st, i) =>
            `batch ${i + 1} (${int(st.requests)} requests): head series ${st.headSeriesAfter - st.headSeriesBefore >= 0 ? '+' : ''}${st.headSeriesAfter - st.headSeriesBefore}, ` +
            `of which request-driven +${fromRequests(st)}, other +${others(st)}`,
        )
        .join('; '),
      verdict: quick
        ? 'not judged (quick run)'
        : fromRequests(last) === 0
          ? `**met**: ${steps.length > 1 ? 'the second batch added' : 'the batch added'} no request-driven series${steps.length > 1 ? ' (the first one added the bounded set listed in section 5)' : ''}`
          : `**missed**: +${fromRequests(last)} request-driven series in the last batch`,
    });
  }
  const hasPeers = rounds(rollSat, 'zero-code').length > 0 && rounds(rollSat, 'http-only').length > 0;
  // The price list of roll-saturation: its own section below, and the peers' verdicts here.
  const price = priceList(rollSat);
  // Why ours is not cheaper than a peer, from the price list of the same rounds: the span path is
  // paid by both; what ours adds on top of it is the rest of the list.
  const peerWhy = (peer: string): string => {
    const list = price;
    const cpuUs = (v: string) => med(rounds(rollSat, v), (x) => x.cpuSecondsPer1k) * 1000;
    if (!list) return '';
    const [app, traces, ...ourExtras] = list.rows;
    const shared = app!.us + traces!.us;
    const oursExtra = ourExtras.reduce((sum, r) => sum + r.us, 0);
    return (
      `Per request ours spends ${fixed(cpuUs('instrumented'), 0)} µs of CPU, the peer ${fixed(cpuUs(peer), 0)} µs. Both pay the app and the span path ` +
      `(the price list's first two rows, ${fixed(shared, 0)} µs); on top of that ours pays ${fixed(oursExtra, 0)} µs ` +
      `(${ourExtras.map((r) => `${r.signal.replace(/^\+ /, '')} ${r.us >= 0 ? '+' : '−'}${fixed(Math.abs(r.us), 0)}`).join(', ')}), ` +
      `the peer ${fixed(cpuUs(peer) - shared, 0)} µs (what it loads: "The peers" below).`
    );
  };
  if (hasPeers) {
    const ours = rps(rollSat, 'instrumented');
    const zero = rps(rollSat, 'zero-code');
    const http = rps(rollSat, 'http-only');
    const zc = variants['zero-code']?.collector;
    const exported = zc ? `; the zero-code peer's SERVER spans counted by the collector: ${int(zc.serverSpans)} for ${int(zc.responses)} responses` : '';
    verdicts.push({
      goal: "Ours, all three signals, ≥ 2x the requests/s of OpenTelemetry's zero-code default (`GET /roll`, saturation, one pinned core each)",
      measured: `${(ours / zero).toFixed(2)}x (${int(ours)} vs ${int(zero)} req/s)${exported}`,
      verdict: missed(judge(quick, ours / zero, 2, true, 'x', (x) => x.toFixed(2)), peerWhy('zero-code')),
    });
    verdicts.push({
      goal: 'Ours, all three signals, ≥ the requests/s of our set-up with the HTTP instrumentation only',
      measured: `${(ours / http).toFixed(2)}x (${int(ours)} vs ${int(http)} req/s)`,
      verdict: missed(judge(quick, ours / http, 1, true, 'x', (x) => x.toFixed(2)), peerWhy('http-only')),
    });
  }
  const soak = results.soak;
  const soakGrowth = soak ? soakVerdict(soak) : undefined;
  if (soak && soakGrowth) {
    // A server that cannot keep up queues work and grows for that reason: the rate it achieved says whether it did.
    const rates = [...soak.uninstrumented.samples, ...soak.instrumented.samples].map((x) => x.achievedRate);
    const achieved = `${int(Math.min(...rates))}–${int(Math.max(...rates))}`;
    const say = (g: Growth) => `${mibSigned(g.growth)} MiB fitted growth vs ${fixed(g.noise / MiB, 1)} MiB noise (uninstrumented: ${mibSigned(g.referenceGrowth)} MiB growth)`;
    const verdictOf = (g: Growth) =>
      quick ? 'not judged (quick run)' : !Number.isFinite(g.growth) || !Number.isFinite(g.noise) ? 'not measured' : g.met ? `**met**, by ${fixed((g.noise - g.growth) / MiB, 1)} MiB` : `**missed**, by ${fixed((g.growth - g.noise) / MiB, 1)} MiB`;
    verdicts.push({
      goal: `No leak: after the first ${Math.round(soak.settleS / 60) || soak.settleS + ' s'}${soak.settleS >= 60 ? ' min' : ''} of a ${fixed(soak.seconds / 60, soak.seconds < 600 ? 1 : 0)} min soak at ${int(soak.rate)} req/s, the instrumented server's RSS grows no more than the uninstrumented server's noise`,
      measured: `${say(soakGrowth.rss)}; achieved ${achieved} req/s per stretch of the ${int(soak.rate)} sent`,
      verdict: verdictOf(soakGrowth.rss),
    });
    verdicts.push({
      goal: 'No leak: the same for the heap left by each major GC (median per sample interval)',
      measured: `${say(soakGrowth.heap)}; ${soakGrowth.heap.points} intervals with a major GC`,
      verdict: verdictOf(soakGrowth.heap),
    });
  }
  if (verdicts.length > 0) {
    p('## Goals', '', '| Goal | Measured | Verdict |', '|---|---|---|');
    for (const v of verdicts) p(`| ${v.goal} | ${v.measured} | ${v.verdict} |`);
    p('');
  }

  // ---------------------------------------------------------------- the price list, first after the goals
  if (price) {
    p(
      '## What each signal costs',
      '',
      `What each signal adds to the server's CPU per request, \`GET ${rollSat?.path}\` at saturation, from variants that each add one thing to the one ` +
        `before, measured side by side with the others in the same ${price.rounds === 1 ? 'round' : `${price.rounds} rounds`} (case \`roll-saturation\`, section 1's set-up: one pinned core, the variants taking turns). ` +
        'A row is the difference between its variant\'s median CPU per request and the row above\'s (the first row: the app without the SDK), so the rows ' +
        'add up to the instrumented server\'s total; min–max is the same difference taken round by round. A cost below the spread of its row is within this run\'s noise. ' +
        `Share is of the instrumented server's ${fixed(price.totalUs, 0)} µs per request.`,
      '',
      '| signal | µs CPU per request (median, min–max) | share | req/s of the variant |',
      '|---|---:|---:|---:|',
      ...price.rows.map(
        (r) =>
          `| ${r.signal} | ${r.us >= 0 || r.variant === PRICE_STEPS[0].variant ? '' : '−'}${fixed(Math.abs(r.us), 0)}${price.rounds > 1 ? ` (${fixed(r.lo, 0)}–${fixed(r.hi, 0)})` : ''} | ${pct(r.share)} | ${int(r.rps)} |`,
      ),
      `| **instrumented, in all** | **${fixed(price.totalUs, 0)}** | **100%** | **${int(rps(rollSat, 'instrumented'))}** |`,
      '',
      'What each variant loads and exports (every instrumented one exports to the native stack\'s collector, OTLP/HTTP protobuf, with compose\'s settings otherwise):',
      '',
      ...price.rows.map((r) => `- **${r.signal}** (\`${r.variant}\`): ${r.adds}.`),
      '',
      'The switches are the ones an operator has: `OTEL_LOGS_EXPORTER=none` (the winston instrumentation then adds no OTLP transport), ' +
        '`OTEL_NODE_EXPERIMENTAL_SDK_METRICS` unset, and the app\'s `ACCESS_LOG_STDOUT=false` (`apps/dice-api/src/config/app.config.ts`; with the OTLP log path on, ' +
        'the access log still goes there). Metrics have no switch for users (the SLO rules and dashboards are built on them): the traces-only step is a bench-only entry module.',
      '',
    );
    plot(PLOT_FILES.price);
  }
  if (hasPeers) {
    const base = rps(rollSat, 'instrumented');
    const zc = variants['zero-code']?.collector;
    p(
      '## The peers: OpenTelemetry\'s zero-code default and HTTP instrumentation only',
      '',
      'The same app, the same build, in the same rounds as the price list:',
      '',
      '- **zero-code**: `node --require @opentelemetry/auto-instrumentations-node/register dist/apps/dice-api/src/main.js` ' +
        'with the image\'s Node flags (the CMD of apps/dice-api/Dockerfile) and no `--import` of ours, with `OTEL_SERVICE_NAME` and `OTEL_EXPORTER_OTLP_ENDPOINT` (the same collector) as its only OTEL_* settings. ' +
        'auto-instrumentations-node 0.82.0\'s `register` starts a NodeSDK with every instrumentation it ships except `fs` and `host-metrics` (here: http, ' +
        'nestjs-core with two spans per request, winston, runtime-node, undici, net, dns, among others that find nothing to patch), every resource detector ' +
        '(cloud ones included), and all three signals on OTLP/HTTP protobuf: traces and log records batched, metrics pushed every 60 s. This stack\'s collector ' +
        'has no pipeline for OTLP metrics (its replicas are scraped), so that push is not taken in; collecting, encoding and sending it is still paid. The app\'s `/metrics` is empty.' +
        (zc ? ` Its spans arrived: the collector's span metrics counted ${int(zc.serverSpans)} of its SERVER spans for the ${int(zc.responses)} responses it gave in the phase.` : ''),
      '- **http-only**: our set-up (`--import instrumentation.js`, compose\'s settings) with `OTEL_NODE_ENABLED_INSTRUMENTATIONS=http`: the HTTP instrumentation with our hooks, ' +
        'no winston instrumentation (no `trace_id` in the lines, no OTLP log records: the access log goes to stdout only), no runtime or process metrics; ' +
        '`http.server.request.duration`, `dice.*`, the `dice.roll` span and the SDK\'s own metrics stay.',
      '',
      '| variant | req/s | ours ÷ it | µs CPU per request | peak RSS MiB |',
      '|---|---:|---:|---:|---:|',
      ...['instrumented', 'http-only', 'zero-code'].map(
        (v) =>
          `| ${v === 'instrumented' ? 'ours (instrumented)' : v} | ${withSpread(rounds(rollSat, v), (r) => (r as SaturationRound).rps, int)} | ${v === 'instrumented' ? '' : ratio(base, rps(rollSat, v))} | ` +
          `${withSpread(rounds(rollSat, v), (r) => r.cpuSecondsPer1k * 1000, (x) => x.toFixed(0))} | ${mib(variants[v]?.peakRssBytes ?? NaN)} |`,
      ),
      '',
    );
  }

  // ---------------------------------------------------------------- 1. instrumentation cost
  if (results.throughput) {
    const t = results.throughput;
    const names = ['uninstrumented', 'instrumented', 'instrumented-10pct'];
    p(
      '## 1. What the instrumentation costs',
      '',
      `The dice API as built (\`dist/\`), on \`GET ${rollSat?.path ?? '/roll?dice=3&sides=6'}\`, in three variants that run side by side:`,
      '',
      '- **uninstrumented**: `node dist/apps/dice-api/src/main.js` without `--import instrumentation.js`: no SDK is loaded; ' +
        'the metrics API is the no-op one and `/metrics` answers an empty exposition (one warning line says so at start). ' +
        'The winston access log is still written to stdout.',
      '- **instrumented**: `--import instrumentation.js` with the replicas\' settings from `docker-compose.yml` ' +
        '(traces and logs over OTLP/HTTP protobuf with the SDK\'s default batch settings, metrics on `/metrics`, every request sampled), ' +
        `exporting to the native stack's real collector (\`otelcol-dice\` with \`otel-collector/config.yaml\`, at ${meta.subnet}.20:4318), which delivers to a stand-in for Tempo's and Loki's edge (section 4).`,
      '- **instrumented-10pct**: the same with `OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`. ' +
        'Metrics and logs are unchanged: only spans are sampled.',
      '',
      `**How:** each server on its own loopback address, pinned with \`taskset -c 1\`; the load generator pinned to core 0, and so is the ` +
        'whole native stack during these runs (collector, Prometheus, HAProxy, the stack\'s replicas), so that core 1 is the server\'s ' +
        '(other people\'s work on the machine still shares both cores). Each Node server runs in a memory cgroup of the replicas\' ' +
        '`mem_limit` in docker-compose.yml, as in its container, so V8 sizes its heap as it does there. ' +
        `Saturation: autocannon ${s.connections} connections, a separate process, closed loop; latency in whole milliseconds, as autocannon reports it. ` +
        `Fixed rates: \`bench/lib/paced-load.ts\`, a separate process, open loop at ${s.moderateRate}, ${s.highRate} and ${s.peakRate} req/s (the last uninstrumented and instrumented only) over ${s.pacedConnections} keep-alive connections, ` +
        'latency in microseconds from the moment the generator sends a request to the end of its response (waiting for a free socket counts). ' +
        `Every variant was warmed up for ${s.warmupS} s per path, then measured in ${s.rounds} rounds of ${s.durationS} s per case` +
        (s.roundWarmupS
          ? `, each round right after ${s.roundWarmupS} s of unrecorded load on the same server and path (at saturation, or at the round's rate), because a variant idles while the others take their turns and the instrumented server needs 10–20 s under load to get back to its steady rate`
          : '') +
        '; the variants take turns ' +
        'within each case and the order rotates each round, so drifting noise is shared. Figures are medians over the rounds, with min–max in brackets. ' +
        'Each server\'s `/metrics` is scraped every 10 s during the load, as the collector does in production. ' +
        'CPU is the server\'s utime + stime from `/proc/<pid>/stat` over the round, per 1,000 responses; peak RSS is `VmHWM` at the end. ' +
        'Every variant writes its JSON access-log line per request to stdout, which goes to a file.',
      '',
      `### Saturation: \`GET ${rollSat?.path}\``,
      '',
      '| variant | req/s | vs uninstrumented | p50 ms | p99 ms | CPU s per 1k requests | vs uninstrumented | server CPU busy | peak RSS MiB | vs uninstrumented |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    const baseRps = rps(rollSat, 'uninstrumented');
    const baseCpu = med(rounds(rollSat, 'uninstrumented'), (r) => r.cpuSecondsPer1k);
    const baseRss = variants['uninstrumented']?.peakRssBytes ?? NaN;
    for (const v of names) {
      const rs = rounds<SaturationRound>(rollSat, v);
      if (rs.length === 0) continue;
      const cpu = med(rs, (r) => r.cpuSecondsPer1k);
      const rss = variants[v]?.peakRssBytes ?? NaN;
      p(
        `| ${v} | ${withSpread(rs, (r) => (r as SaturationRound).rps, int)} | ${ratio(rps(rollSat, v), baseRps)} | ${med(rs, (r) => r.p50Ms)} | ${med(rs, (r) => r.p99Ms)} | ` +
          `${withSpread(rs, (r) => r.cpuSecondsPer1k, (x) => x.toFixed(3))} | ${ratio(cpu, baseCpu)} | ${pct(med(rs, (r) => (r as SaturationRound).busy))} | ${mib(rss)} | ${ratio(rss, baseRss)} |`,
      );
    }
    const range = (v: string) => spread(rounds<SaturationRound>(rollSat, v).map((r) => r.rps));
    const [a0, a1] = range('instrumented');
    const [b0, b1] = range('instrumented-10pct');
    if (rounds(rollSat, 'instrumented').length > 1 && rounds(rollSat, 'instrumented-10pct').length > 1) {
      p(
        '',
        a0 <= b1 && b0 <= a1
          ? 'The rounds of the two instrumented variants overlap (min–max): the difference between them is within this run\'s noise.'
          : 'The rounds of the two instrumented variants do not overlap (min–max).',
      );
    }
    p('');
    plot(PLOT_FILES.rps);
    plot(PLOT_FILES.cpu);
    p('### Latency and CPU at fixed rates', '');
    p(
      `| variant | p50 ms @ ${s.moderateRate}/s | p99 ms @ ${s.moderateRate}/s | p99 vs uninstrumented | CPU s per 1k @ ${s.moderateRate}/s | vs uninstrumented | ` +
        `p50 ms @ ${s.highRate}/s | p99 ms @ ${s.highRate}/s | p99 vs uninstrumented | p50 ms @ ${s.peakRate}/s | p99 ms @ ${s.peakRate}/s | p99 vs uninstrumented |`,
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    const baseP99m = p99(rollMod, 'uninstrumented');
    const baseCpuM = med(rounds(rollMod, 'uninstrumented'), (r) => r.cpuSecondsPer1k);
    const baseP99h = p99(rollHigh, 'uninstrumented');
    const baseP99p = p99(rollPeak, 'uninstrumented');
    for (const v of names) {
      const m = rounds<PacedRound>(rollMod, v);
      const h = rounds<PacedRound>(rollHigh, v);
      const k = rounds<PacedRound>(rollPeak, v);
      if (m.length === 0) continue;
      // roll-peak measures uninstrumented and instrumented only.
      const peak =
        k.length === 0
          ? '– | – | –'
          : `${withSpread(k, (r) => r.p50Ms, (x) => x.toFixed(2))} | ${withSpread(k, (r) => r.p99Ms, (x) => x.toFixed(2))} | ${ratio(p99(rollPeak, v), baseP99p)}`;
      p(
        `| ${v} | ${withSpread(m, (r) => r.p50Ms, (x) => x.toFixed(2))} | ${withSpread(m, (r) => r.p99Ms, (x) => x.toFixed(2))} | ${ratio(p99(rollMod, v), baseP99m)} | ` +
          `${withSpread(m, (r) => r.cpuSecondsPer1k, (x) => x.toFixed(3))} | ${ratio(med(m, (r) => r.cpuSecondsPer1k), baseCpuM)} | ` +
          `${withSpread(h, (r) => r.p50Ms, (x) => x.toFixed(2))} | ${withSpread(h, (r) => r.p99Ms, (x) => x.toFixed(2))} | ${ratio(p99(rollHigh, v), baseP99h)} | ${peak} |`,
      );
    }
    p('');
    plot(PLOT_FILES.p99);
    const lag = Math.max(...[rollMod, rollHigh, rollPeak].flatMap((c) => names.flatMap((v) => rounds<PacedRound>(c, v).map((r) => r.generatorLagP99Ms))));
    const bad = [...t.cases].flatMap((c) => Object.entries(c.rounds).flatMap(([v, rs]) => rs.filter((r) => r.bad > 0).map((r) => `${c.id}/${v}: ${r.bad}`)));
    p(
      `The paced generator's own scheduling lag (how late it sent, p99) was at most ${fixed(lag, 2)} ms in any round; it is not counted as latency, ` +
        'it only makes arrivals a little burstier. ' +
        (bad.length ? `Rounds with errors or non-2xx answers: ${bad.join(', ')}.` : 'Every response was a 2xx.'),
      '',
    );
    const sdkLines = names
      .map((v) => [v, variants[v]?.sdk] as const)
      .filter(([, sdk]) => sdk)
      .map(
        ([v, sdk]) =>
          `- ${v}: ${int(sdk!.spansStarted)} spans sampled, ${int(sdk!.spansDropped)} dropped by the SDK's span queue ` +
          `(${pct(sdk!.spansDropped / Math.max(1, sdk!.spansStarted))}); ${int(sdk!.logsCreated)} log records, ${int(sdk!.logsDropped)} dropped ` +
          `(${pct(sdk!.logsDropped / Math.max(1, sdk!.logsCreated))}).`,
      );
    if (sdkLines.length) {
      p(
        'What the instrumented servers exported over the whole run (the SDK\'s own counters on `/metrics`, `OTEL_NODE_EXPERIMENTAL_SDK_METRICS`): ' +
          'a throughput that drops telemetry is not the cost of keeping it.',
        '',
        ...sdkLines,
        '',
      );
    }
    p(
      '**Express** is not a variant: the app supports only the Fastify adapter (`http.route` comes from a Fastify onRequest hook, `libs/telemetry/src/sdk/fastify-route.hook.ts`; on Nest 12 the Express ' +
        'instrumentation needs an ESM loader hook, see [ADR 0001](adr/0001-http-adapter.md)). `bench/adapters/` measures a minimal Nest app on both ' +
        'adapters, with and without OpenTelemetry: `./node_modules/.bin/node bench/adapters/run.mjs`.',
      '',
    );

    // ---------------------------------------------------------------- 2. Flask peer
    p(
      '## 2. The reference architecture\'s app as a peer',
      '',
      'The reference architecture\'s app is Flask with prometheus-flask-exporter. `bench/reference-flask/app.py` is that app (`GET /` returns ' +
        'a random 1–6 as text; `/metrics` by the exporter), served by gunicorn, from a venv outside the repository ' +
        `(\`${meta.versions['flask venv'] ?? 'see bench/reference-flask/requirements.txt'}\`). It ran in the same run, on the same cores, under the same load, ` +
        'against the dice API\'s `GET /` (one d6 as text), in two gunicorn setups:',
      '',
      '- **sync** (gunicorn\'s default worker): one request at a time, and the connection is closed after every response. gunicorn 27 closes ' +
        'gracefully: it half-closes and waits for the client to close too before it takes the next connection, so a sync worker idles while the ' +
        'client turns around (see its CPU busy column). autocannon\'s latency is not valid for a server that closes every connection (with 1 ' +
        'connection it reported a p50 of 676 ms at 1,005 req/s), so it is not shown for sync; the fixed-rate figures come from the paced ' +
        'generator, which opens a connection per request as any client of this server must.',
      '- **gthread**, 4 threads per worker: keeps connections alive, as the Node server does.',
      '',
      'The Flask app writes no access log (gunicorn\'s is off by default); the dice API writes a JSON line per request in every variant.',
      '',
      '### One pinned core each (`taskset -c 1`; gunicorn\'s master and its worker on it)',
      '',
      '| variant | req/s | vs Flask sync | vs Flask gthread | p50 ms | p99 ms | server CPU busy | p50 ms @ 500/s | p99 ms @ 500/s | CPU s per 1k @ saturation | CPU s per 1k @ 500/s | peak RSS MiB |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    const flaskRps = rps(rootSat, 'flask-1-worker');
    const gthreadRps = rps(rootSat, 'flask-1-worker-gthread');
    for (const v of ['uninstrumented', 'instrumented', 'flask-1-worker', 'flask-1-worker-gthread']) {
      const sat = rounds<SaturationRound>(rootSat, v);
      const mod = rounds<PacedRound>(rootMod, v);
      if (sat.length === 0) continue;
      const closes = v === 'flask-1-worker';
      p(
        `| ${v} | ${withSpread(sat, (r) => (r as SaturationRound).rps, int)} | ${ratio(rps(rootSat, v), flaskRps)} | ${ratio(rps(rootSat, v), gthreadRps)} | ` +
          `${closes ? 'n/a' : med(sat, (r) => r.p50Ms)} | ${closes ? 'n/a' : med(sat, (r) => r.p99Ms)} | ${pct(med(sat, (r) => (r as SaturationRound).busy))} | ` +
          `${fixed(med(mod, (r) => r.p50Ms), 2)} | ${fixed(med(mod, (r) => r.p99Ms), 2)} | ${fixed(med(sat, (r) => r.cpuSecondsPer1k), 3)} | ${fixed(med(mod, (r) => r.cpuSecondsPer1k), 3)} | ${mib(variants[v]?.peakRssBytes ?? NaN)} |`,
      );
    }
    if (root2) {
      const flask2 = rps(root2, 'flask-2-workers');
      const gthread2 = rps(root2, 'flask-2-workers-gthread');
      p(
        '',
        '### Both cores, nothing pinned',
        '',
        'gunicorn with 2 workers, sync or gthread (prometheus-flask-exporter in multiprocess mode, which 2 workers need for a correct `/metrics`), against the ' +
          'dice API as one Node process, as a replica runs: Node runs JavaScript on one thread, so it cannot use the second core for requests ' +
          '(only for GC and I/O threads). The load generator and the idle native stack share the same 2 cores. This is the fair form of "2 workers vs ' +
          'the Node app on 2 cores" on this machine; the compose deployment scales Node by replicas behind HAProxy instead.',
        '',
        '| variant | req/s | vs Flask 2 sync | vs Flask 2 gthread | p50 ms | p99 ms | CPU s per 1k requests | server CPU busy (cores) | peak RSS MiB |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      );
      for (const v of ['uninstrumented-2cores', 'instrumented-2cores', 'flask-2-workers', 'flask-2-workers-gthread']) {
        const rs = rounds<SaturationRound>(root2, v);
        if (rs.length === 0) continue;
        const closes = v === 'flask-2-workers';
        p(
          `| ${v} | ${withSpread(rs, (r) => (r as SaturationRound).rps, int)} | ${ratio(rps(root2, v), flask2)} | ${ratio(rps(root2, v), gthread2)} | ${closes ? 'n/a' : med(rs, (r) => r.p50Ms)} | ${closes ? 'n/a' : med(rs, (r) => r.p99Ms)} | ` +
            `${fixed(med(rs, (r) => r.cpuSecondsPer1k), 3)} | ${fixed(med(rs, (r) => (r as SaturationRound).busy), 2)} | ${mib(variants[v]?.peakRssBytes ?? NaN)} |`,
        );
      }
    }
    p('');
  }

  if (options.changes) p(...renderChanges(options.changes));

  // ---------------------------------------------------------------- profile
  if (results.profile) {
    const pr = results.profile;
    const bare = pr.variants['uninstrumented'];
    const inst = pr.variants['instrumented'];
    if (bare && inst) {
      const per1k = (v: typeof bare, ms: number) => (ms / v.requests) * 1000;
      const names = [...new Set([...inst.byPackage.slice(0, 12).map((x) => x.name), ...bare.byPackage.slice(0, 6).map((x) => x.name)])];
      const msOf = (v: typeof bare, name: string) => v.byPackage.find((x) => x.name === name)?.ms ?? 0;
      const otel = (v: typeof bare) => v.byPackage.filter((x) => x.name.startsWith('@opentelemetry/') || x.name === '@fastify/otel' || x.name.endsWith('-in-the-middle')).reduce((a, x) => a + x.ms, 0);
      p(
        '## Where the instrumented server\'s CPU goes',
        '',
        `Both Node variants ran once more with \`--cpu-prof\`, pinned as above, warmed up, then saturated for ${pr.seconds} s on \`GET /roll\`; only the samples ` +
          'taken under load count. Self time by package, in CPU milliseconds per 1,000 requests (the profiler slows both a little). Native code with no ' +
          'script of its own (`JSON.stringify`, socket writes, crypto) is charged to the package that called it.',
        '',
        `Per 1,000 requests: uninstrumented ${fixed(per1k(bare, bare.busyMs), 0)} ms, instrumented ${fixed(per1k(inst, inst.busyMs), 0)} ms ` +
          `(${ratio(per1k(inst, inst.busyMs), per1k(bare, bare.busyMs))}). The \`@opentelemetry/*\` and \`@fastify/otel\` packages alone: ` +
          `${fixed(per1k(inst, otel(inst)), 0)} ms, ${pct(otel(inst) / inst.busyMs)} of the instrumented server's CPU.`,
        '',
        '| package | uninstrumented ms / 1k req | instrumented ms / 1k req | difference | share of instrumented |',
        '|---|---:|---:|---:|---:|',
      );
      for (const name of names) {
        const b = per1k(bare, msOf(bare, name));
        const i = per1k(inst, msOf(inst, name));
        p(`| ${name} | ${fixed(b, 1)} | ${fixed(i, 1)} | ${i - b >= 0 ? '+' : ''}${fixed(i - b, 1)} | ${pct(msOf(inst, name) / inst.busyMs)} |`);
      }
      if (inst.byCaller && bare.byCaller) {
        const callerMs = (v: typeof bare, name: string) => per1k(v, v.byCaller!.find((x) => x.name === name)?.ms ?? 0);
        const callerNames = [...new Set([...inst.byCaller.slice(0, 12).map((x) => x.name), ...bare.byCaller.slice(0, 6).map((x) => x.name)])];
        const otelCaller = inst.byCaller.filter((x) => x.name.startsWith('@opentelemetry/') || x.name === '@fastify/otel').reduce((a, x) => a + x.ms, 0);
        p(
          '',
          'The same samples with Node\'s own code (streams, sockets, async hooks, timers) charged to the package that called it, which says who ' +
            `asked for the work: the \`@opentelemetry/*\` and \`@fastify/otel\` packages then account for ${fixed(per1k(inst, otelCaller), 0)} ms per 1,000 requests, ` +
            `${pct(otelCaller / inst.busyMs)} of the instrumented server's CPU.`,
          '',
          '| package (with the Node code it calls) | uninstrumented ms / 1k req | instrumented ms / 1k req | difference | share of instrumented |',
          '|---|---:|---:|---:|---:|',
          ...callerNames.map((name) => {
            const b = callerMs(bare, name);
            const i = callerMs(inst, name);
            return `| ${name} | ${fixed(b, 1)} | ${fixed(i, 1)} | ${i - b >= 0 ? '+' : ''}${fixed(i - b, 1)} | ${pct((inst.byCaller!.find((x) => x.name === name)?.ms ?? 0) / inst.busyMs)} |`;
          }),
        );
      }
      p('', 'Top frames of the instrumented server by self time:', '', '| frame | package | share |', '|---|---|---:|');
      for (const f of inst.topFrames.slice(0, 10)) p(`| \`${f.frame.replace(/\|/g, '\\|')}\` | ${f.package} | ${pct(f.share)} |`);
      p('');
    }
    const lt = pr.longTasks ?? {};
    const ltInst = lt['instrumented'];
    const ltBare = lt['uninstrumented'];
    if (ltInst && ltBare) {
      p(
        `### What makes the latency tail at ${ltInst.rate} req/s`,
        '',
        `The same two servers profiled at a fixed ${ltInst.rate} req/s for ${pr.seconds} s. A request that arrives while the event loop is busy waits ` +
          `for the task in progress, so the tail comes from long tasks: stretches of at least ${ltInst.minMs} ms with no idle sample.`,
        '',
        '| variant | p99 ms (under the profiler) | tasks ≥ ' + `${ltInst.minMs} ms | longest ms | time in them, % of wall | packages in them (self time) |`,
        '|---|---:|---:|---:|---:|---|',
        ...[['uninstrumented', ltBare], ['instrumented', ltInst]].map(([name, t]) => {
          const x = t as typeof ltInst;
          return `| ${name} | ${fixed(x.p99Ms, 2)} | ${x.count} | ${fixed(x.maxMs, 1)} | ${pct(x.totalMs / Math.max(1, x.wallMs))} | ${x.byPackage.slice(0, 5).map((q) => `${q.name} ${pct(q.share)}`).join(', ') || '–'} |`;
        }),
        '',
        'Frames with the most self time inside the instrumented server\'s long tasks:',
        '',
        '| frame | package | share |',
        '|---|---|---:|',
        ...ltInst.topFrames.map((f) => `| \`${f.frame.replace(/\|/g, '\\|')}\` | ${f.package} | ${pct(f.share)} |`),
        '',
      );
    }
  }

  if (addedRows) {
    p(
      '### What is left, and the next step',
      '',
      `The packages that add the most CPU per 1,000 requests in this run's profiles (with the Node code they call), of ${addedRows.extra.toFixed(0)} ms added in all, ` +
        `each with what it does on every request here and the next step for it. The largest is ${pct(addedRows.rows[0]!.delta / addedRows.extra)} of the added CPU; ` +
        'most of these steps are in the OpenTelemetry packages themselves.',
      '',
      '| package | ms added per 1k requests | what it does per request, and the next step |',
      '|---|---:|---|',
      ...addedRows.rows.map((r) => `| ${r.name} | +${r.delta.toFixed(0)} | ${NEXT_STEPS[r.name] ?? '–'} |`),
      '',
    );
  }

  // ---------------------------------------------------------------- 3. freshness
  if (results.freshness) {
    const fr = results.freshness;
    p(
      '## 3. How fresh the telemetry is (native stack)',
      '',
      `${fr.requests} requests through the load balancer, each with its own trace ID in \`traceparent\` (sampled), of four kinds that land in ` +
        'different series (`GET /roll` 200, `GET /` 200, `GET /roll` 400, an unknown route 404). Each request is timed from its response to the first ' +
        `poll of Prometheus's HTTP API (every ${fr.pollIntervalMs} ms) that shows it: the counter of its series up by one more, or its trace ID among the exemplars. ` +
        `Requests are spread over the span-metrics flush windows (at most one of each kind per ${fr.intervals.spanMetricsFlushS} s window, at a random moment), ` +
        'so that each is alone in its series when the connector flushes: see the exemplar note below.',
      '',
      '| signal | path to Prometheus | p50 s | p95 s | max s | seen |',
      '|---|---|---:|---:|---:|---:|',
    );
    for (const sig of fr.signals) {
      p(`| ${sig.label} | ${sig.path} | ${fixed(percentile(sig.ms, 50) / 1000, 1)} | ${fixed(percentile(sig.ms, 95) / 1000, 1)} | ${fixed(Math.max(...sig.ms) / 1000, 1)} | ${sig.ms.length} of ${sig.sent} |`);
    }
    p(
      ...fr.firstOfSeries
        .filter((sig) => sig.id === 'span-metrics' || sig.id === 'exemplar' || sig.id === 'scraped')
        .map((sig) => `| First request of a new series: ${sig.label.charAt(0).toLowerCase()}${sig.label.slice(1)} | as above | ${fixed(percentile(sig.ms, 50) / 1000, 1)} | – | ${fixed(Math.max(...sig.ms) / 1000, 1)} | ${sig.ms.length} of ${sig.sent} |`),
      '| Trace in Tempo (by trace ID) | collector → Tempo | – | – | – | **not measurable natively**: Tempo is AGPL-licensed and cannot run here |',
      '| Log line in Loki (by trace ID) | collector → Loki OTLP | – | – | – | **not measurable natively**: Loki is AGPL-licensed and cannot run here |',
      '',
      `- The native stack's replicas set \`OTEL_BSP_SCHEDULE_DELAY=${fr.intervals.bspDelayNativeMs}\` (scripts/native/stack.ts); compose keeps the SDK's default of 5,000 ms, ` +
        'so span metrics and exemplars there arrive up to 4 s later than measured here. The scraped counter does not depend on it.',
      '- **The first request of a new series** (a route and status, on a replica, that had no request before) reaches the span-metrics ' +
        'counter one flush later than its exemplar: in Prometheus the first point of the new series reads 0 and the count appears with the next ' +
        'flush (observed in a range query; most likely the start-time handling of the OTLP receiver for a point whose start time equals its ' +
        'timestamp, related: [prometheus/prometheus#17201](https://github.com/prometheus/prometheus/pull/17201), ' +
        '[open-telemetry/opentelemetry-specification#4184](https://github.com/open-telemetry/opentelemetry-specification/issues/4184)). ' +
        'The measured requests above were sent after every kind had reached both replicas once, so they show the steady state.',
      `- Bounds from the configs: collector scrape ${fr.intervals.collectorScrapeS} s, span-metrics flush ${fr.intervals.spanMetricsFlushS} s, collector batch ≤ ${fr.intervals.batchTimeoutS} s, ` +
        `Prometheus's scrape of HAProxy ${fr.intervals.prometheusLbScrapeS} s.`,
      `- **Exemplars keep one trace ID per series per flush.** The span_metrics connector stamps every exemplar of a flush with the flush time, and ` +
        'Prometheus stores at most one exemplar per series and timestamp. In the warm-up, a burst of ' +
        `${fr.burst.sent} \`GET /roll\` requests in a row kept ${fr.burst.exemplarsKept} of their trace IDs as exemplars. Under real traffic, most requests' trace IDs ` +
        'are not retrievable from exemplars (the traces still reach Tempo); dashboards show a sample of them.',
      '',
    );
  }

  // ---------------------------------------------------------------- 4. footprint
  if (results.footprint) {
    const { idle, load } = results.footprint;
    p(
      '## 4. What the native stack weighs',
      '',
      `Every process of the native stack (\`scripts/native/stack.ts\`, DICE_STACK_SUBNET=${meta.subnet}), idle for ${idle.seconds} s and then under a steady ` +
        `${load.rate} req/s of \`GET /roll?dice=3&sides=6\` through the load balancer for ${load.seconds} s (achieved ${fixed(load.achievedRate, 0)} req/s, p99 ${fixed(load.p99Ms, 2)} ms). ` +
        'CPU is utime + stime over the window, as % of one core; RSS is the highest `VmRSS` sampled each second in the window; peak is `VmHWM` since start. ' +
        'Nothing is pinned. The load generator is not counted.',
      '',
      '| process | idle CPU % | idle RSS MiB | under load CPU % | under load RSS MiB | peak RSS MiB |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const proc of load.processes) {
      const i = idle.processes.find((x) => x.name === proc.name);
      p(`| ${proc.name} | ${fixed(i?.cpuPercent ?? NaN, 1)} | ${mib(i?.rssBytes ?? NaN)} | ${fixed(proc.cpuPercent, 1)} | ${mib(proc.rssBytes)} | ${mib(proc.peakRssBytes)} |`);
    }
    const sum = (xs: { cpuPercent: number; rssBytes: number; peakRssBytes: number }[], k: 'cpuPercent' | 'rssBytes' | 'peakRssBytes') => xs.reduce((a, x) => a + x[k], 0);
    p(
      `| **total** | **${fixed(sum(idle.processes, 'cpuPercent'), 1)}** | **${mib(sum(idle.processes, 'rssBytes'))}** | **${fixed(sum(load.processes, 'cpuPercent'), 1)}** | **${mib(sum(load.processes, 'rssBytes'))}** | **${mib(sum(load.processes, 'peakRssBytes'))}** |`,
    );
    for (const [name, why] of NOT_NATIVE) p(`| ${name} | not measurable natively: ${why} | | | | |`);
    p(
      '',
      'Tempo and Loki cannot run natively: the collector\'s traces and logs exporters deliver to `edge-sink` (`bench/collector/sink.ts`), a stand-in for their ' +
        'network edge that answers every export at once and decodes nothing; it is in the table, so the total holds one process the real stack does not. ' +
        'Before it (runs up to 2026-12-06), those exporters\' file-backed queues filled within minutes and the collector refused the app\'s exports ' +
        '(4.9 million of 10 million spans in one run), so the instrumented figures included failing exports. ' +
        'The stack\'s traffic generator is off (TRAFFIC_RATE=0) so that the load is exactly the one stated.',
      '',
    );
  }

  // ---------------------------------------------------------------- 5. cardinality
  if (results.cardinality) {
    p(
      '## 5. Cardinality',
      '',
      `Prometheus's head series (\`prometheus_tsdb_head_series\`, read live from \`/api/v1/status/tsdb\`) before and after batches of requests through the load ` +
        'balancer at ' + `${int(s.cardinalityRate)} req/s: half to random unknown paths (\`/<random>/<random>\`, 404), half \`/roll\` with random valid ` +
        `values (1–100 dice of 4, 6, 8, 10, 12, 20 or 100 sides). After each batch the benchmark waits ${s.cardinalitySettleS} s (a collector scrape, a ` +
        'span-metrics flush and their batches), then compares the set of series (`/api/v1/series`, last 2 minutes) with the one before.',
      '',
      '| batch | requests | answers | head series before → after | change | new series |',
      '|---|---:|---|---|---:|---|',
    );
    for (const [i, st] of results.cardinality.steps.entries()) {
      const news = st.newSeries.map((g) => `\`${g.metric}\`${g.job ? ` (job ${g.job})` : ''} ×${g.count}`).join('; ') || 'none';
      p(`| ${i + 1} | ${int(st.requests)} | ${Object.entries(st.statuses).map(([k, v]) => `${k}: ${int(v)}`).join(', ')} | ${int(st.headSeriesBefore)} → ${int(st.headSeriesAfter)} | ${st.headSeriesAfter - st.headSeriesBefore >= 0 ? '+' : ''}${st.headSeriesAfter - st.headSeriesBefore} | ${news} |`);
    }
    const examples = results.cardinality.steps.flatMap((st, i) => st.newSeries.map((g) => `- batch ${i + 1}: \`${g.metric}{${g.example}}\`${g.count > 1 ? ` and ${g.count - 1} more like it` : ''} (job \`${g.job || '–'}\`)`));
    if (examples.length) p('', 'New series, one example each:', '', ...examples.slice(0, 30));
    p(
      '',
      'Request-driven series (`http_*`, `traces_span_metrics_*`, `dice_*`, `haproxy_*`) are bounded by what the API allows, not by what clients send: ' +
        'unknown routes share one series per status without `http_route`, and the `dice_*` histograms have one series set per allowed number of sides ' +
        '(7) and replica, which the first batch creates for the sides the stack had not seen yet. A later batch adding none of them is the proof that ' +
        'nothing grows with the number of distinct paths or values. ' +
        'Series of job `prometheus` come from the benchmark\'s own API calls (Prometheus counts requests per handler). The head-series count also moves ' +
        'with Prometheus\'s own churn (series that go stale leave the head only at compaction), so the set difference is the precise answer.',
      '',
    );
  }

  // ---------------------------------------------------------------- soak
  if (soak && soakGrowth) {
    const rowsAt = soak.instrumented.samples.filter((x, i, all) => i === 0 || i === all.length - 1 || Math.floor(x.tS / soak.reportEveryS) > Math.floor(all[i - 1]!.tS / soak.reportEveryS));
    const heapAt = (series: typeof soak.instrumented, tS: number) => series.heapAfterGc.find((h) => h.tS === tS);
    const bareAt = (tS: number) => soak.uninstrumented.samples.find((x) => x.tS === tS);
    p(
      '## No leak: the soak',
      '',
      `The dice API uninstrumented and instrumented (every request sampled, exporting to the native stack's collector), started fresh and loaded side by side for ` +
        `${fixed(soak.seconds / 60, soak.seconds < 600 ? 1 : 0)} min at ${int(soak.rate)} req/s each (${soak.rateSource}: ${int(soak.saturationRps)} req/s), \`GET /roll\` by \`bench/lib/paced-load.ts\` ` +
        `in back-to-back stretches of ${soak.sampleS} s, both servers on core ${soak.cpus.servers} and both loads with the stack on core ${soak.cpus.load}: at the same time rather than taking turns, ` +
        'so that each serves every request and every minute of the soak. After each stretch: RSS from `/proc`, and the SDK\'s queues from the instrumented server\'s `/metrics` ' +
        '(`otel_sdk_processor_span_queue_size`, `otel_sdk_processor_log_queue_size`). Heap after GC: `bench/lib/gc-probe.ts`, loaded into both servers, records the heap outside the young ' +
        'generation after every major GC (a GC observer: nothing forced, nothing held); the table shows the median of each stretch. ' +
        `Verdict: after the first ${soak.settleS} s, the instrumented server's growth (least-squares slope × the window) against the uninstrumented server's max − min in the same window.`,
      '',
      '| minute | RSS MiB uninstr. | RSS MiB instr. | heap after GC MiB uninstr. | heap after GC MiB instr. | major GCs instr. | span queue | log record queue | req/s uninstr. / instr. | p99 ms uninstr. / instr. |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rowsAt.map((x) => {
        const b = bareAt(x.tS);
        const hi = heapAt(soak.instrumented, x.tS);
        const hb = heapAt(soak.uninstrumented, b?.tS ?? NaN);
        return (
          `| ${fixed(x.tS / 60, 1)} | ${mib(b?.rssBytes ?? NaN)} | ${mib(x.rssBytes)} | ${fixed((hb?.medianBytes ?? NaN) / MiB, 1)} | ${fixed((hi?.medianBytes ?? NaN) / MiB, 1)} | ${hi?.count ?? 0} | ` +
          `${x.spanQueue ?? 'n/a'} | ${x.logQueue ?? 'n/a'} | ${fixed(b?.achievedRate ?? NaN, 0)} / ${fixed(x.achievedRate, 0)} | ${fixed(b?.p99Ms ?? NaN, 1)} / ${fixed(x.p99Ms, 1)} |`
        );
      }),
      '',
      `RSS: instrumented ${mibSigned(soakGrowth.rss.growth)} MiB fitted over the window, uninstrumented noise ${fixed(soakGrowth.rss.noise / MiB, 1)} MiB. ` +
        `Heap after GC: instrumented ${mibSigned(soakGrowth.heap.growth)} MiB, uninstrumented noise ${fixed(soakGrowth.heap.noise / MiB, 1)} MiB. ` +
        `Requests that failed or were not 200: ${[...soak.uninstrumented.samples, ...soak.instrumented.samples].reduce((a, x) => a + x.bad, 0)}.`,
      '',
    );
    plot(PLOT_FILES.soak);
  }

  // ---------------------------------------------------------------- reproduce
  p(
    '## Reproduce',
    '',
    '```sh',
    'npm run bench         # npm run build && node bench/run.ts: this report (~56 min, 30 of them the soak)',
    'npm run bench:quick   # a few seconds per case and a 40 s soak, to see that it works (~5.5 min); writes bench/results/ only',
    '```',
    '',
    `Settings of this run: ${JSON.stringify(s)}. Phase times (s): ${JSON.stringify(meta.phaseSeconds)}. Versions: ${Object.entries(meta.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    '',
    'It needs root (the native stack), the backends from `scripts/native/build-backends.sh` (built on first use, about 13 minutes), haproxy, ' +
      'taskset and Python 3 with venv; the Flask venv is created on first use in `~/.cache/dice-stack/venv/`. Load goes to loopback addresses only ' +
      'and every load is bounded in time.',
    '',
  );
  return out.join('\n');
}
