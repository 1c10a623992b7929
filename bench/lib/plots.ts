// The report's plots, drawn from the raw figures with Vega-Lite and rendered to SVG by Vega in Node
// (renderer 'none': no browser, no canvas). Called wherever the report is written (bench/run.ts),
// so the pictures and the tables come from the same JSON. The same JSON gives the same SVG bytes:
// Vega's SVG id counters and Vega-Lite's name counter are reset before each plot, and text widths
// are Vega's estimate from the font size (vega-scenegraph's estimateWidth), never a canvas's.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { median, priceList, spread, type CaseResult, type Results } from './results.ts';

export interface Plot {
  /** File name, the same in docs/benchmarks/ and bench/results/. */
  file: string;
  /** The image's alt text in the report. */
  alt: string;
  /** The line under the image in the report: what was measured, how. */
  caption: string;
}

export interface RenderedPlot extends Plot {
  svg: string;
}

/** Saturation cases drawn in the requests/s and CPU plots, one panel each, in this order. */
const SATURATION_CASES = ['roll-saturation', 'root-saturation', 'root-saturation-2cores'] as const;
/** Fixed-rate cases on GET /roll, drawn as p99 against the offered load. */
const PACED_ROLL_CASES = ['roll-moderate', 'roll-high', 'roll-peak'] as const;
const PACED_VARIANTS = ['uninstrumented', 'instrumented'] as const;

export const PLOT_FILES = {
  rps: 'requests-per-second.svg',
  cpu: 'cpu-per-1k-requests.svg',
  p99: 'p99-vs-offered-load.svg',
  price: 'price-list.svg',
  soak: 'soak.svg',
} as const;

/** The peers of the same app under other OpenTelemetry set-ups (bench/lib/throughput.ts PEERS). */
const PEER_VARIANTS = ['zero-code', 'http-only'];

/** One colour per kind of server, the same in every plot (Tableau 10, as Vega's default scheme). */
const FAMILY_COLOURS: Record<string, string> = {
  'Node, uninstrumented': '#4c78a8',
  'Node, instrumented': '#f58518',
  'Flask peer': '#54a24b',
  'Node, other OpenTelemetry set-ups': '#b279a2',
};

function family(variant: string): string {
  if (variant.startsWith('flask')) return 'Flask peer';
  if (PEER_VARIANTS.includes(variant)) return 'Node, other OpenTelemetry set-ups';
  return variant.startsWith('instrumented') ? 'Node, instrumented' : 'Node, uninstrumented';
}

/** Space as the thousands separator, as in the report's tables (report.ts `int`). */
const LOCALE = { number: { decimal: '.', thousands: ' ', grouping: [3], currency: ['', ''] as [string, string] } };
const int = (x: number) => Math.round(x).toLocaleString('en-US').replace(/,/g, ' ');

/** Pixels for the variant names left of the bars. */
const LABEL_COLUMN = 170;

/** Whiskers are drawn only when there are rounds to spread (a quick run has one). */
const WITH_SPREAD = [{ filter: 'datum.rounds > 1' }];

const CONFIG = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  locale: LOCALE,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, labelColor: '#222', titleColor: '#222', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  title: { fontSize: 14, anchor: 'start' as const, color: '#111' },
};

function requireCase(results: Results, id: string): CaseResult {
  const cases = results.throughput?.cases ?? [];
  const found = cases.find((c) => c.id === id);
  if (!found) {
    throw new Error(
      `plots: the results have no throughput case "${id}" (cases present: ${cases.map((c) => c.id).join(', ') || 'none'}). ` +
        'The plots need every case of a full throughput phase: results of a run of some cases (--cases) or from before that case existed cannot be plotted; run `npm run bench`.',
    );
  }
  return found;
}

function requireRounds(c: CaseResult, variant: string) {
  const rs = c.rounds[variant] ?? [];
  if (rs.length === 0) throw new Error(`plots: case "${c.id}" has no rounds of variant "${variant}" (variants present: ${Object.keys(c.rounds).join(', ')})`);
  return rs;
}

/** A median over the rounds with its min–max whisker, as both kinds of plot draw it. */
interface SpreadRow {
  variant: string;
  family: string;
  median: number;
  lo: number;
  hi: number;
  rounds: number;
  label: string;
  /** What a screen reader says for the mark (its aria-label). */
  description: string;
}

interface BarRow extends SpreadRow {
  panel: string;
}

/** "median of 3 rounds, 12 975–13 912" or "one round". */
function overRounds(xs: number[], show: (x: number) => string): string {
  const [lo, hi] = spread(xs);
  return xs.length === 1 ? 'one round' : `median of ${xs.length} rounds, ${show(lo)}–${show(hi)}`;
}

function panelTitle(c: CaseResult): string {
  return `GET ${c.path}, ${c.cpus.server.includes(',') ? 'one process, both cores, nothing pinned' : `server pinned to core ${c.cpus.server}`}`;
}

function barRows(results: Results, pick: (r: CaseResult['rounds'][string][number]) => number, show: (x: number) => string, unit: string): BarRow[] {
  return SATURATION_CASES.flatMap((id) => {
    const c = requireCase(results, id);
    if (c.kind !== 'saturation') throw new Error(`plots: case "${id}" is ${c.kind}, expected saturation`);
    // The price list's steps have a plot of their own.
    return Object.keys(c.rounds).filter((variant) => !variant.startsWith('price-')).map((variant): BarRow => {
      const xs = requireRounds(c, variant).map(pick);
      const [lo, hi] = spread(xs);
      const label = show(median(xs));
      return {
        panel: panelTitle(c),
        variant,
        family: family(variant),
        median: median(xs),
        lo,
        hi,
        rounds: xs.length,
        label,
        description: `${panelTitle(c)}: ${variant}, ${label}${unit} (${overRounds(xs, show)})`,
      };
    });
  });
}

/**
 * Horizontal bars, one per variant, a panel per case (stacked, sharing the value axis), min–max
 * whiskers when there are rounds to spread. Panels are concatenated charts, not a facet: a layered
 * facet with independent y scales makes Vega-Lite 6 warn that it cannot size it from one source.
 */
function barSpec(title: string, axisTitle: string, rows: BarRow[]): TopLevelSpec {
  // The same label column in every panel, so that their bars start at the same x. Its width is for
  // real fonts: Vega's estimate without a canvas (0.8 em a character) is wider than any of them.
  const y = { field: 'variant', type: 'nominal' as const, sort: null, title: null, axis: { labelLimit: 0, labelPadding: 6, minExtent: LABEL_COLUMN, maxExtent: LABEL_COLUMN } };
  const color = {
    field: 'family',
    type: 'nominal' as const,
    title: null,
    scale: { domain: Object.keys(FAMILY_COLOURS), range: Object.values(FAMILY_COLOURS) },
    legend: { orient: 'bottom' as const, direction: 'horizontal' as const, labelLimit: 400 },
  };
  const panels = [...new Set(rows.map((r) => r.panel))];
  // The axis title once, under the last panel.
  const xOf = (panel: string) => (field: string) => ({ field, type: 'quantitative' as const, title: panel === panels.at(-1) ? axisTitle : null });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    vconcat: panels.map((panel) => {
      const x = xOf(panel);
      return {
        title: { text: panel, fontSize: 12, fontWeight: 'bold', anchor: 'start', frame: 'group', dx: -LABEL_COLUMN, offset: 6 },
        data: { values: rows.filter((r) => r.panel === panel) },
        width: 460,
        height: { step: 24 },
        layer: [
          { mark: { type: 'bar', height: { band: 0.7 } }, encoding: { y, x: x('median'), color, description: { field: 'description' } } },
          { transform: WITH_SPREAD, mark: { type: 'errorbar', ticks: { size: 8 }, color: '#222' }, encoding: { y, x: x('lo'), x2: { field: 'hi' } } },
          { mark: { type: 'text', align: 'left', baseline: 'middle', dx: 6, fontSize: 11, color: '#222' }, encoding: { y, x: x('hi'), text: { field: 'label' } } },
        ],
      };
    }),
    spacing: 18,
    resolve: { scale: { x: 'shared', y: 'independent', color: 'shared' } },
    config: CONFIG,
  } as TopLevelSpec;
}

interface LatencyRow extends SpreadRow {
  rate: string;
}

function latencyRows(results: Results): LatencyRow[] {
  return PACED_ROLL_CASES.flatMap((id) => {
    const c = requireCase(results, id);
    if (c.kind !== 'paced' || c.rate === undefined) throw new Error(`plots: case "${id}" is not a fixed-rate case`);
    return PACED_VARIANTS.map((variant): LatencyRow => {
      const xs = requireRounds(c, variant).map((r) => r.p99Ms);
      const [lo, hi] = spread(xs);
      const show = (x: number) => `${x.toFixed(2)} ms`;
      const rate = int(c.rate!);
      return {
        variant,
        family: family(variant),
        rate,
        median: median(xs),
        lo,
        hi,
        rounds: xs.length,
        label: show(median(xs)),
        description: `${variant} at ${rate} req/s: p99 ${show(median(xs))} (${overRounds(xs, show)})`,
      };
    });
  });
}

/**
 * p99 at each offered rate, a line per variant, log scale (the tail grows by an order of magnitude).
 * The variants are dodged a little along x (xOffset) so that their whiskers never overprint.
 */
function latencySpec(rows: LatencyRow[]): TopLevelSpec {
  // Narrow bands (large inner padding) keep the dodge small: the points stay near their rate; the
  // outer padding leaves room for the labels left of the first points and right of the last.
  const x = { field: 'rate', type: 'ordinal' as const, sort: null, scale: { paddingInner: 0.8, paddingOuter: 0.8 }, title: 'offered load (requests per second, open loop)', axis: { labelAngle: 0 } };
  const xOffset = { field: 'variant', type: 'nominal' as const, sort: [...PACED_VARIANTS], scale: { paddingInner: 0 } };
  const y = (field: string) => ({ field, type: 'quantitative' as const, scale: { type: 'log' as const }, title: 'p99 latency (ms, log scale)' });
  const colourOf = (variant: string) => FAMILY_COLOURS[family(variant)]!;
  const color = {
    field: 'variant',
    type: 'nominal' as const,
    title: null,
    scale: { domain: [...PACED_VARIANTS], range: PACED_VARIANTS.map(colourOf) },
    legend: { orient: 'bottom' as const, direction: 'horizontal' as const, labelLimit: 400 },
  };
  const encoding = { x, xOffset, color };
  // Labels to the left of the uninstrumented points and to the right of the instrumented ones,
  // so that the two never overprint where their p99 are close; a white halo under each keeps it
  // legible where it crosses a line.
  const label = (variant: (typeof PACED_VARIANTS)[number], side: 'left' | 'right', halo: boolean) => ({
    transform: [{ filter: { field: 'variant', equal: variant } }],
    mark: {
      type: 'text' as const,
      align: side === 'left' ? ('right' as const) : ('left' as const),
      baseline: 'middle' as const,
      dx: side === 'left' ? -10 : 10,
      fontSize: 11,
      ...(halo ? { stroke: 'white', strokeWidth: 4, strokeJoin: 'round' as const } : {}),
    },
    encoding: { x, xOffset, y: y('median'), text: { field: 'label' }, ...(halo ? {} : { color }) },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'p99 latency against offered load, GET /roll',
    data: { values: rows },
    width: 460,
    height: 300,
    layer: [
      { mark: { type: 'line', strokeWidth: 2 }, encoding: { ...encoding, y: y('median') } },
      { transform: WITH_SPREAD, mark: { type: 'errorbar', ticks: { size: 8 } }, encoding: { ...encoding, y: y('lo'), y2: { field: 'hi' } } },
      { mark: { type: 'point', filled: true, size: 60, opacity: 1 }, encoding: { ...encoding, y: y('median'), description: { field: 'description' } } },
      label('uninstrumented', 'left', true),
      label('instrumented', 'right', true),
      label('uninstrumented', 'left', false),
      label('instrumented', 'right', false),
    ],
    config: { ...CONFIG, axisX: { grid: false } },
  } as TopLevelSpec;
}

/** The price list as bars: µs of CPU per request each step adds, whiskers min–max over the rounds. */
function priceSpec(results: Results): TopLevelSpec {
  const price = priceList(requireCase(results, 'roll-saturation'))!;
  const rows = price.rows.map((r) => ({
    signal: r.signal,
    us: r.us,
    lo: r.lo,
    hi: r.hi,
    rounds: price.rounds,
    label: `${Math.round(r.us)} µs (${Math.round(r.share * 100)}%)`,
    description: `${r.signal}: ${Math.round(r.us)} µs of CPU per request, ${Math.round(r.share * 100)}% of the instrumented total`,
  }));
  const y = { field: 'signal', type: 'nominal' as const, sort: null, title: null, axis: { labelLimit: 0, labelPadding: 6, minExtent: 230, maxExtent: 230 } };
  const x = (field: string) => ({ field, type: 'quantitative' as const, title: 'µs of server CPU per request (median over rounds)' });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `What each signal costs: ${Math.round(price.totalUs)} µs of CPU per instrumented request, by step`,
    data: { values: rows },
    width: 420,
    height: { step: 26 },
    layer: [
      { mark: { type: 'bar', height: { band: 0.7 }, color: FAMILY_COLOURS['Node, instrumented'] }, encoding: { y, x: x('us'), description: { field: 'description' } } },
      { transform: WITH_SPREAD, mark: { type: 'errorbar', ticks: { size: 8 }, color: '#222' }, encoding: { y, x: x('lo'), x2: { field: 'hi' } } },
      { mark: { type: 'text', align: 'left', baseline: 'middle', dx: 6, fontSize: 11, color: '#222' }, encoding: { y, x: { field: 'hi', type: 'quantitative' as const }, text: { field: 'label' } } },
    ],
    config: CONFIG,
  } as TopLevelSpec;
}

/** RSS and heap after GC over the soak, a line per server, a panel each; a rule where the verdict's window starts. */
function soakSpec(results: Results): TopLevelSpec {
  const soak = results.soak!;
  const rows = (['uninstrumented', 'instrumented'] as const).flatMap((key) => {
    const series = soak[key];
    return [
      ...series.samples.map((x) => ({ server: key, panel: 'RSS (MiB)', minute: x.tS / 60, mib: x.rssBytes / 2 ** 20 })),
      ...series.heapAfterGc.filter((h) => h.count > 0).map((h) => ({ server: key, panel: 'heap after major GC (MiB, median per stretch)', minute: h.tS / 60, mib: h.medianBytes / 2 ** 20 })),
    ];
  });
  const color = {
    field: 'server',
    type: 'nominal' as const,
    title: null,
    scale: { domain: ['uninstrumented', 'instrumented'], range: [FAMILY_COLOURS['Node, uninstrumented'], FAMILY_COLOURS['Node, instrumented']] },
    legend: { orient: 'bottom' as const, direction: 'horizontal' as const },
  };
  const panel = (title: string, last: boolean) => ({
    title: { text: title, fontSize: 12, fontWeight: 'bold' as const, anchor: 'start' as const },
    width: 460,
    height: 160,
    layer: [
      {
        data: { values: rows.filter((r) => r.panel === title) },
        mark: { type: 'line' as const, point: true, strokeWidth: 2 },
        encoding: {
          x: { field: 'minute', type: 'quantitative' as const, title: last ? 'minutes since the soak started' : null },
          y: { field: 'mib', type: 'quantitative' as const, title: 'MiB', scale: { zero: false } },
          color,
        },
      },
      { data: { values: [{ minute: soak.settleS / 60 }] }, mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#888' }, encoding: { x: { field: 'minute', type: 'quantitative' as const } } },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Soak: ${int(soak.rate)} req/s to each server for ${Math.round(soak.seconds / 60)} min`,
    vconcat: [panel('RSS (MiB)', false), panel('heap after major GC (MiB, median per stretch)', true)],
    spacing: 18,
    config: CONFIG,
  } as TopLevelSpec;
}

/** What each plot shows, for the report; throws, naming what is missing, if a case is not in the results. */
export function describePlots(results: Results): Plot[] {
  const extra: Plot[] = [];
  const roll = results.throughput?.cases.find((c) => c.id === 'roll-saturation');
  const price = priceList(roll);
  if (price) {
    extra.push({
      file: PLOT_FILES.price,
      alt: 'Microseconds of server CPU per request that each signal adds, GET /roll at saturation',
      caption:
        `µs of server CPU per request each step of the price list adds (the first bar: the app without the SDK), \`GET /roll\` at saturation, server pinned to core ${roll!.cpus.server}; ` +
        `bars from the steps' medians over ${price.rounds === 1 ? 'one round (no whiskers)' : `${price.rounds} rounds, whiskers min–max of the same difference round by round`}. Lower is cheaper.`,
    });
  }
  if (results.soak) {
    extra.push({
      file: PLOT_FILES.soak,
      alt: 'RSS and heap after GC over the soak, instrumented and uninstrumented',
      caption:
        `RSS (from \`/proc\`, every ${results.soak.sampleS} s) and the heap each major GC left (median per ${results.soak.sampleS} s stretch, \`bench/lib/gc-probe.ts\`) of both soak servers at ` +
        `${int(results.soak.rate)} req/s each; the dashed line is where the verdict's window starts. Flat is good.`,
    });
  }
  if (!results.throughput) return extra;
  for (const id of [...SATURATION_CASES, ...PACED_ROLL_CASES]) requireCase(results, id);
  const s = results.meta.settings;
  const rounds = s.rounds === 1 ? `one round of ${s.durationS} s (no whiskers)` : `the median of ${s.rounds} rounds of ${s.durationS} s, whiskers min–max over the rounds`;
  const saturation = `autocannon, ${s.connections} connections, closed loop, load on core 0 (on both cores in the unpinned panel); bars are ${rounds}`;
  const paced = PACED_ROLL_CASES.map((id) => requireCase(results, id));
  const rates = paced.map((c) => int(c.rate!));
  const rateList = `${rates.slice(0, -1).join(', ')} and ${rates.at(-1)}`;
  return [
    {
      file: PLOT_FILES.rps,
      alt: 'Requests per second at saturation, per variant',
      caption: `Requests per second at saturation, per variant and case (the \`GET /\` panels are section 2's Flask comparison): ${saturation}. Higher is better.`,
    },
    {
      file: PLOT_FILES.cpu,
      alt: 'Server CPU seconds per 1,000 requests at saturation, per variant',
      caption: `Server CPU (utime + stime from \`/proc\`, the whole process tree) per 1,000 responses, in the same saturation rounds: ${saturation}. Lower is better.`,
    },
    {
      file: PLOT_FILES.p99,
      alt: 'p99 latency of GET /roll against offered load, uninstrumented and instrumented',
      caption:
        `p99 latency of \`GET /roll\` at ${rateList} req/s offered by \`bench/lib/paced-load.ts\` (open loop, ${s.pacedConnections} keep-alive connections, ` +
        `microsecond latencies), server pinned to core ${paced[0]!.cpus.server}; points are ${rounds}. Log scale on the latency axis. Lower is better.`,
    },
    ...extra,
  ];
}

async function toSvg(spec: TopLevelSpec): Promise<string> {
  vl.resetIdCounter();
  vega.resetSVGDefIds();
  // Re-exported from vega-scenegraph at run time, missing from vega's typings: text widths from
  // the font size even where the optional `canvas` package happens to be installed.
  (vega as unknown as { textMetrics: { canvas(use: boolean): void } }).textMetrics.canvas(false);
  const { spec: compiled } = vl.compile(spec);
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return `${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}

/** Every plot of the report, rendered; throws, naming the case, if the results lack one. */
export async function renderPlots(results: Results): Promise<RenderedPlot[]> {
  const plots = describePlots(results);
  const files = new Set(plots.map((plot) => plot.file));
  const specs: Record<string, () => TopLevelSpec> = {
    [PLOT_FILES.rps]: () => barSpec(
      'Requests per second at saturation',
      'requests per second (median over rounds)',
      barRows(results, (r) => (r.kind === 'saturation' ? r.rps : NaN), int, ' req/s'),
    ),
    [PLOT_FILES.cpu]: () => barSpec(
      'Server CPU per 1,000 requests at saturation',
      'server CPU seconds per 1,000 requests (median over rounds)',
      barRows(results, (r) => r.cpuSecondsPer1k, (x) => `${x.toFixed(3)} s`, ' of CPU per 1,000 requests'),
    ),
    [PLOT_FILES.p99]: () => latencySpec(latencyRows(results)),
    [PLOT_FILES.price]: () => priceSpec(results),
    [PLOT_FILES.soak]: () => soakSpec(results),
  };
  const rendered: RenderedPlot[] = [];
  for (const plot of plots) if (files.has(plot.file)) rendered.push({ ...plot, svg: await toSvg(specs[plot.file]!()) });
  return rendered;
}

export function writePlots(plots: RenderedPlot[], dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return plots.map((plot) => {
    const path = join(dir, plot.file);
    writeFileSync(path, plot.svg);
    return path;
  });
}

/** The report's Markdown for one plot: the image, then the caption line. */
export function plotMarkdown(plot: Plot, href: string): string[] {
  return [`![${plot.alt}](${href}${plot.file})`, '', `*${plot.caption}*`, ''];
}
