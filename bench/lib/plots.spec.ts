// The report's plots from a small results object written here: what each SVG draws (a bar per
// variant, as long as its figure; the axis titles; the values' labels; a point per rate), that the
// same figures give the same bytes, that the report embeds them with their captions, and that
// results missing a case are refused with the case's name.
import { describe, expect, it } from 'vitest';
import { PLOT_FILES, renderPlots, type RenderedPlot } from './plots.ts';
import { renderReport } from './report.ts';
import type { CaseResult, PacedRound, Results, SaturationRound } from './results.ts';
import { fixtureMeta, SETTINGS } from './spec-fixtures.ts';

/** Three rounds around `rps`: the median is `rps`, the spread rps-100 to rps+200. */
const saturation = (rps: number, cpuSecondsPer1k: number): SaturationRound[] =>
  [rps - 100, rps, rps + 200].map((x) => ({
    kind: 'saturation',
    rps: x,
    responses: x * 8,
    p50Ms: 3,
    p99Ms: 6,
    bad: 0,
    cpuSeconds: ((x * 8) / 1000) * cpuSecondsPer1k,
    wallSeconds: 8,
    cpuSecondsPer1k,
    busy: 0.97,
  }));

/** Three rounds whose p99 median is `p99Ms`. */
const paced = (rate: number, p99Ms: number): PacedRound[] =>
  [p99Ms * 0.5, p99Ms, p99Ms * 1.5].map((p99) => ({
    kind: 'paced',
    targetRate: rate,
    achievedRate: rate,
    responses: rate * 8,
    p50Ms: 0.3,
    p90Ms: 0.6,
    p99Ms: p99,
    maxMs: p99 * 2,
    bad: 0,
    generatorLagP99Ms: 0.5,
    cpuSeconds: 1,
    cpuSecondsPer1k: 0.2,
  }));

const satCase = (id: string, path: string, cpus: string, rounds: Record<string, SaturationRound[]>): CaseResult => ({
  id,
  label: `GET ${path} at saturation`,
  path,
  kind: 'saturation',
  cpus: { server: cpus, load: cpus === '1' ? '0' : cpus },
  rounds,
});
const pacedCase = (id: string, rate: number, rounds: Record<string, PacedRound[]>): CaseResult => ({
  id,
  label: `GET /roll?dice=3&sides=6 at ${rate} req/s`,
  path: '/roll?dice=3&sides=6',
  kind: 'paced',
  rate,
  cpus: { server: '1', load: '0' },
  rounds,
});

function fixture(): Results {
  return {
    meta: fixtureMeta(),
    throughput: {
      variants: {},
      cases: [
        satCase('roll-saturation', '/roll?dice=3&sides=6', '1', {
          uninstrumented: saturation(12000, 0.07),
          instrumented: saturation(4000, 0.22),
          'instrumented-10pct': saturation(4400, 0.2),
        }),
        pacedCase('roll-moderate', 500, { uninstrumented: paced(500, 3.25), instrumented: paced(500, 3.5), 'instrumented-10pct': paced(500, 3.4) }),
        pacedCase('roll-high', 1000, { uninstrumented: paced(1000, 2.5), instrumented: paced(1000, 37.5), 'instrumented-10pct': paced(1000, 24) }),
        pacedCase('roll-peak', 2000, { uninstrumented: paced(2000, 7.75), instrumented: paced(2000, 112.5) }),
        satCase('root-saturation', '/', '1', { uninstrumented: saturation(12400, 0.08), 'flask-1-worker-gthread': saturation(3500, 0.28) }),
        pacedCase('root-moderate', 500, { uninstrumented: paced(500, 3), 'flask-1-worker-gthread': paced(500, 4) }),
        satCase('root-saturation-2cores', '/', '0,1', { 'uninstrumented-2cores': saturation(14000, 0.067), 'flask-2-workers-gthread': saturation(4300, 0.36) }),
      ],
    },
  };
}

/** The fixture with the price list's steps and the peers in roll-saturation, and a soak. */
function fixtureWithAll(): Results {
  const results = fixture();
  const roll = results.throughput!.cases.find((c) => c.id === 'roll-saturation')!;
  // µs per request = CPU-s per 1k x 1000: 70, 130, 170, 190, 210 and the instrumented 220.
  Object.assign(roll.rounds, {
    'price-0-no-sdk': saturation(12000, 0.07),
    'price-1-traces': saturation(6000, 0.13),
    'price-2-metrics': saturation(5000, 0.17),
    'price-3-access-log': saturation(4600, 0.19),
    'price-4-otlp-logs': saturation(4200, 0.21),
    'zero-code': saturation(1500, 0.6),
    'http-only': saturation(4500, 0.2),
  });
  const samples = (rssMiB: number[]) => rssMiB.map((mib, i) => ({ tS: (i + 1) * 60, rssBytes: mib * 2 ** 20, achievedRate: 2000, p99Ms: 3, bad: 0 }));
  const heap = (mib: number[]) => mib.map((m, i) => ({ tS: (i + 1) * 60, count: 5, medianBytes: m * 2 ** 20, minBytes: m * 2 ** 20, maxBytes: m * 2 ** 20 }));
  results.soak = {
    seconds: 240,
    sampleS: 60,
    settleS: 60,
    reportEveryS: 60,
    rate: 2000,
    saturationRps: 4000,
    rateSource: 'half the median req/s of the instrumented variant at saturation',
    cpus: { servers: '1', load: '0' },
    uninstrumented: { name: 'soak-uninstrumented', label: 'uninstrumented', samples: samples([200, 204, 201, 203]), heapAfterGc: heap([30, 31, 30, 31]) },
    instrumented: {
      name: 'soak-instrumented',
      label: 'instrumented',
      samples: samples([300, 302, 303, 304]).map((x) => ({ ...x, spanQueue: 12, logQueue: 3 })),
      heapAfterGc: heap([50, 50.5, 50, 50.5]),
    },
  };
  return results;
}

const byFile = (plots: RenderedPlot[], file: string) => plots.find((p) => p.file === file)!.svg;
/** The aria-labels of the marks of one role (Vega writes one per bar, point, ...). */
const marks = (svg: string, role: string) => [...svg.matchAll(new RegExp(`<(?:path|line) aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="${role}"[^>]*>`, 'g'))];
/** Bar length in px, from the path Vega draws for a horizontal bar (`M0,y h<width> ...`). */
const barWidth = (tag: string) => Number(/ d="M[\d.]+,[\d.]+h([\d.]+)/.exec(tag)![1]);
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('benchmark plots (bench/lib/plots.ts)', () => {
  it('draws requests/s at saturation as one bar per variant and case, as long as its median, labelled, with whiskers', async () => {
    const svg = byFile(await renderPlots(fixture()), PLOT_FILES.rps);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('fill="white"');
    const bars = marks(svg, 'bar');
    expect(bars.map((b) => b[1]!.split(': ')[1]!.split(',')[0])).toEqual([
      'uninstrumented',
      'instrumented',
      'instrumented-10pct',
      'uninstrumented',
      'flask-1-worker-gthread',
      'uninstrumented-2cores',
      'flask-2-workers-gthread',
    ]);
    expect(bars[0]![1]).toBe('GET /roll?dice=3&amp;sides=6, server pinned to core 1: uninstrumented, 12 000 req/s (median of 3 rounds, 11 900–12 200)');
    // One x scale for all panels: bar lengths are in the ratio of the medians.
    expect(barWidth(bars[0]![0]) / barWidth(bars[1]![0])).toBeCloseTo(12000 / 4000, 5);
    expect(barWidth(bars[5]![0]) / barWidth(bars[0]![0])).toBeCloseTo(14000 / 12000, 5);
    const labels = texts(svg);
    expect(labels).toEqual(expect.arrayContaining(['12 000', '4 000', '4 400', '12 400', '3 500', '14 000', '4 300']));
    expect(labels).toContain('requests per second (median over rounds)');
    expect(labels).toContain('Requests per second at saturation');
    expect(labels).toContain('GET /, one process, both cores, nothing pinned');
    expect(marks(svg, 'errorbar')).toHaveLength(7);
  });

  it('draws CPU per 1,000 requests with the figures as labels and the unit in the axis title', async () => {
    const svg = byFile(await renderPlots(fixture()), PLOT_FILES.cpu);
    expect(marks(svg, 'bar')).toHaveLength(7);
    const labels = texts(svg);
    expect(labels).toEqual(expect.arrayContaining(['0.070 s', '0.220 s', '0.200 s', '0.360 s']));
    expect(labels).toContain('server CPU seconds per 1,000 requests (median over rounds)');
  });

  it('draws p99 against the three offered rates for uninstrumented and instrumented, on a log axis', async () => {
    const svg = byFile(await renderPlots(fixture()), PLOT_FILES.p99);
    const points = marks(svg, 'point').map((m) => m[1]);
    expect(points).toEqual([
      'uninstrumented at 500 req/s: p99 3.25 ms (median of 3 rounds, 1.63 ms–4.88 ms)',
      'instrumented at 500 req/s: p99 3.50 ms (median of 3 rounds, 1.75 ms–5.25 ms)',
      'uninstrumented at 1 000 req/s: p99 2.50 ms (median of 3 rounds, 1.25 ms–3.75 ms)',
      'instrumented at 1 000 req/s: p99 37.50 ms (median of 3 rounds, 18.75 ms–56.25 ms)',
      'uninstrumented at 2 000 req/s: p99 7.75 ms (median of 3 rounds, 3.88 ms–11.63 ms)',
      'instrumented at 2 000 req/s: p99 112.50 ms (median of 3 rounds, 56.25 ms–168.75 ms)',
    ]);
    const labels = texts(svg);
    expect(labels).toEqual(expect.arrayContaining(['500', '1 000', '2 000', '3.25 ms', '112.50 ms']));
    expect(labels).toContain('p99 latency (ms, log scale)');
    expect(labels).toContain('offered load (requests per second, open loop)');
    // instrumented-10pct was not measured at 2,000 req/s and is not drawn at all.
    expect(svg).not.toContain('instrumented-10pct');
    // Log scale: heights are proportional to the logarithm of p99 (y grows downwards in SVG).
    const ys = marks(svg, 'point').map((m) => Number(/transform="translate\([\d.]+,([\d.]+)\)"/.exec(m[0])![1]));
    const [inst500, inst1000, inst2000] = [ys[1]!, ys[3]!, ys[5]!];
    expect((inst500 - inst1000) / (inst1000 - inst2000)).toBeCloseTo(Math.log(37.5 / 3.5) / Math.log(112.5 / 37.5), 5);
    expect(labels).toEqual(expect.arrayContaining(['1', '10', '100']));
  });

  it('gives the same bytes for the same figures, and leaves out whiskers when there is one round', async () => {
    const first = await renderPlots(fixture());
    const again = await renderPlots(fixture());
    expect(again.map((p) => p.svg)).toEqual(first.map((p) => p.svg));
    const one = fixture();
    one.meta.settings = { ...SETTINGS, rounds: 1 };
    for (const c of one.throughput!.cases) for (const v of Object.keys(c.rounds)) c.rounds[v] = c.rounds[v]!.slice(1, 2);
    const quick = await renderPlots(one);
    expect(marks(byFile(quick, PLOT_FILES.rps), 'errorbar')).toHaveLength(0);
    expect(marks(byFile(quick, PLOT_FILES.rps), 'bar')).toHaveLength(7);
    expect(quick.find((p) => p.file === PLOT_FILES.rps)!.caption).toContain('one round of 8 s (no whiskers)');
  });

  it('refuses results that lack a case or a variant, naming it', async () => {
    const noPeak = fixture();
    noPeak.throughput!.cases = noPeak.throughput!.cases.filter((c) => c.id !== 'roll-peak');
    await expect(renderPlots(noPeak)).rejects.toThrow(/no throughput case "roll-peak" \(cases present: roll-saturation, roll-moderate, roll-high, root-saturation/);
    const noInstrumented = fixture();
    delete noInstrumented.throughput!.cases.find((c) => c.id === 'roll-high')!.rounds['instrumented'];
    await expect(renderPlots(noInstrumented)).rejects.toThrow('case "roll-high" has no rounds of variant "instrumented"');
    // A run without the throughput phase (--phases=soak, say) has none of its plots, and no error.
    const noThroughput = fixture();
    delete noThroughput.throughput;
    expect(await renderPlots(noThroughput)).toEqual([]);
  });

  it('draws the price list as one bar per step, as long as what the step adds, labelled with its share', async () => {
    const svg = byFile(await renderPlots(fixtureWithAll()), PLOT_FILES.price);
    const bars = marks(svg, 'bar');
    expect(bars.map((b) => b[1])).toEqual([
      'the app itself (no SDK, no access log): 70 µs of CPU per request, 32% of the instrumented total',
      'traces: 60 µs of CPU per request, 27% of the instrumented total',
      '+ metrics: 40 µs of CPU per request, 18% of the instrumented total',
      '+ the access log on stdout: 20 µs of CPU per request, 9% of the instrumented total',
      '+ the OTLP log path: 20 µs of CPU per request, 9% of the instrumented total',
      "+ the SDK's own metrics: 10 µs of CPU per request, 5% of the instrumented total",
    ]);
    expect(barWidth(bars[0]![0]) / barWidth(bars[5]![0])).toBeCloseTo(7, 5);
    expect(texts(svg)).toContain('60 µs (27%)');
  });

  it('draws the soak as RSS and heap after GC over time, a line per server', async () => {
    const svg = byFile(await renderPlots(fixtureWithAll()), PLOT_FILES.soak);
    const labels = texts(svg);
    expect(labels).toEqual(expect.arrayContaining(['RSS (MiB)', 'heap after major GC (MiB, median per stretch)', 'minutes since the soak started', 'uninstrumented', 'instrumented']));
    // A point per sample and server in each panel: 4 samples x 2 servers x 2 panels.
    expect(marks(svg, 'point')).toHaveLength(16);
    // The rps plot shows the peers with their own colour, and the price list's steps not at all.
    const rps = byFile(await renderPlots(fixtureWithAll()), PLOT_FILES.rps);
    expect(marks(rps, 'bar').map((b) => b[1]!.split(': ')[1]!.split(',')[0]).slice(0, 5)).toEqual(['uninstrumented', 'instrumented', 'instrumented-10pct', 'zero-code', 'http-only']);
    expect(rps).not.toContain('price-');
  });

  it('is embedded in the report with a caption line under each image, and the 2,000 req/s column is in the fixed-rate table', async () => {
    const plots = await renderPlots(fixtureWithAll());
    const report = renderReport(fixtureWithAll(), { plots: { list: plots, href: 'benchmarks/' } });
    const lines = report.split('\n');
    for (const file of Object.values(PLOT_FILES)) {
      const at = lines.findIndex((l) => l.startsWith('![') && l.endsWith(`](benchmarks/${file})`));
      expect(at, file).toBeGreaterThan(0);
      expect(lines[at + 1]).toBe('');
      expect(lines[at + 2]).toMatch(/^\*.+\.\*$/);
    }
    expect(report).toContain('points are the median of 3 rounds of 8 s, whiskers min–max over the rounds. Log scale on the latency axis.');
    expect(report).toContain('| p50 ms @ 2000/s | p99 ms @ 2000/s | p99 vs uninstrumented |');
    const row = lines.find((l) => l.startsWith('| instrumented | ') && l.includes('112.50'))!;
    expect(row).toContain('| 112.50 (56.25–168.75) | 14.52x |');
    expect(lines.find((l) => l.startsWith('| instrumented-10pct | ') && l.includes('@') === false && l.endsWith('| – | – | – |'))).toBeDefined();
  });

  it('leads the report with the price list after the Goals table, with the peers and the soak judged in it', () => {
    const report = renderReport(fixtureWithAll());
    const headings = report.split('\n').filter((l) => l.startsWith('## '));
    expect(headings.slice(0, 4)).toEqual([
      '## Goals',
      '## What each signal costs',
      "## The peers: OpenTelemetry's zero-code default and HTTP instrumentation only",
      '## 1. What the instrumentation costs',
    ]);
    expect(report).toContain('| signal | µs CPU per request (median, min–max) | share | req/s of the variant |');
    expect(report).toContain('| traces | 60 (60–60) | 27% | 6 000 |');
    expect(report).toContain('| **instrumented, in all** | **220** | **100%** | **4 000** |');
    expect(report).toMatch(/\| Ours, all three signals, ≥ 2x the requests\/s of OpenTelemetry's zero-code default [^|]*\| 2\.67x \(4 000 vs 1 500 req\/s\) \| \*\*met\*\*/);
    expect(report).toMatch(/\| Ours, all three signals, ≥ the requests\/s of our set-up with the HTTP instrumentation only \| 0\.89x \(4 000 vs 4 500 req\/s\) \| \*\*missed\*\*/);
    // RSS after the first minute: instrumented 302, 303, 304 MiB (+2 fitted over 2 minutes), uninstrumented 204, 201, 203 (3 MiB of noise): met.
    expect(report).toMatch(/the instrumented server's RSS grows no more than the uninstrumented server's noise \| \+2\.0 MiB fitted growth vs 3\.0 MiB noise[^|]*\| \*\*met\*\*, by 1\.0 MiB/);
    expect(report).toContain('## No leak: the soak');
  });
});
