// The soak phase's verdict, from its samples only (bench/lib/soak.ts): after the settling window,
// does the instrumented server's RSS or heap-after-GC grow beyond the noise of the uninstrumented
// server in the same run?
//
// - growth: the slope of a least-squares line through the instrumented server's points after the
//   settling window, times the window's length: what the trend added over the window, which one
//   high or low sample cannot fake the way last-minus-first can.
// - noise: max minus min of the uninstrumented server's points in the same window: how far a
//   server with no SDK moves under the same load on the same machine.
// Met when growth <= noise, for RSS and for the heap after GC (the median of the major GCs in
// each sample interval).
import type { SoakResults, SoakSeries } from './results.ts';

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (sxx === 0) return NaN;
  return points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
}

export interface Growth {
  /** Fitted growth over the window, bytes (slope x window length). */
  growth: number;
  /** The uninstrumented server's max - min in the same window, bytes. */
  noise: number;
  /** The uninstrumented server's own fitted growth, bytes, for the record. */
  referenceGrowth: number;
  points: number;
  met: boolean;
}

type Pick = (series: SoakSeries) => { x: number; y: number }[];

const rss: Pick = (s) => s.samples.map((x) => ({ x: x.tS, y: x.rssBytes }));
const heap: Pick = (s) => s.heapAfterGc.filter((x) => x.count > 0 && Number.isFinite(x.medianBytes)).map((x) => ({ x: x.tS, y: x.medianBytes }));

function growthOf(soak: SoakResults, pick: Pick): Growth {
  const after = (s: SoakSeries) => pick(s).filter((p) => p.x > soak.settleS);
  const inst = after(soak.instrumented);
  const bare = after(soak.uninstrumented);
  const window = (ps: { x: number }[]) => (ps.length ? Math.max(...ps.map((p) => p.x)) - Math.min(...ps.map((p) => p.x)) : NaN);
  const growth = slope(inst) * window(inst);
  const noise = bare.length ? Math.max(...bare.map((p) => p.y)) - Math.min(...bare.map((p) => p.y)) : NaN;
  return { growth, noise, referenceGrowth: slope(bare) * window(bare), points: inst.length, met: Number.isFinite(growth) && Number.isFinite(noise) && growth <= noise };
}

export function soakVerdict(soak: SoakResults): { rss: Growth; heap: Growth } {
  return { rss: growthOf(soak, rss), heap: growthOf(soak, heap) };
}
