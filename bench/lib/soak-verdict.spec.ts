// The soak verdict from samples written here: growth is the fitted trend after the settling window,
// noise the uninstrumented server's range in the same window, and the first minutes do not count.
import { describe, expect, it } from 'vitest';
import type { SoakResults, SoakSeries } from './results.ts';
import { slope, soakVerdict } from './soak-verdict.ts';

const MiB = 2 ** 20;
const series = (rssMiB: number[], heapMiB: number[]): SoakSeries => ({
  name: 'x',
  label: 'x',
  samples: rssMiB.map((m, i) => ({ tS: (i + 1) * 60, rssBytes: m * MiB, achievedRate: 1000, p99Ms: 2, bad: 0 })),
  heapAfterGc: heapMiB.map((m, i) => ({ tS: (i + 1) * 60, count: Number.isNaN(m) ? 0 : 3, medianBytes: m * MiB, minBytes: m * MiB, maxBytes: m * MiB })),
});
const soak = (instrumented: SoakSeries, uninstrumented: SoakSeries): SoakResults => ({
  seconds: 600,
  sampleS: 60,
  settleS: 300,
  reportEveryS: 600,
  rate: 1000,
  saturationRps: 2000,
  rateSource: 'test',
  cpus: { servers: '1', load: '0' },
  instrumented,
  uninstrumented,
});
const flat = series([200, 210, 220, 202, 201, 203, 202, 201, 203, 202], [30, 30, 30, 31, 30, 31, 30, 31, 30, 31]);

describe('soakVerdict', () => {
  it('fits a line: slope of y over x, NaN without two distinct x', () => {
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }])).toBeCloseTo(2, 10);
    expect(slope([{ x: 1, y: 1 }])).toBeNaN();
    expect(slope([{ x: 1, y: 1 }, { x: 1, y: 2 }])).toBeNaN();
  });

  it('meets the goal when the instrumented server is flat after the first minutes, whatever it did before', () => {
    // Warm-up growth in minutes 1-5 (100 MiB) is outside the window.
    const v = soakVerdict(soak(series([100, 150, 200, 250, 300, 301, 300, 302, 301, 301], [20, 30, 40, 50, 60, 60, 60.5, 60, 60.5, 60]), flat));
    expect(v.rss.met).toBe(true);
    expect(v.rss.noise / MiB).toBeCloseTo(2, 10); // 203 - 201 over minutes 6-10
    expect(v.rss.points).toBe(5);
    expect(v.heap.met).toBe(true);
  });

  it('misses when the instrumented server keeps growing by more than the uninstrumented one moves', () => {
    const v = soakVerdict(soak(series([300, 300, 300, 300, 300, 302, 304, 306, 308, 310], [60, 60, 60, 60, 60, 61, 62, 63, 64, 65]), flat));
    expect(v.rss.growth / MiB).toBeCloseTo(8, 10); // 2 MiB a minute over 4 minutes
    expect(v.rss.met).toBe(false);
    expect(v.heap.growth / MiB).toBeCloseTo(4, 10);
    expect(v.heap.met).toBe(false);
  });

  it('fits the heap through the intervals that had a major GC only, and is not met without enough of them', () => {
    const v = soakVerdict(soak(series([300, 300, 300, 300, 300, 300, 300, 300, 300, 300], [60, 60, 60, 60, 60, NaN, NaN, NaN, NaN, 61]), flat));
    expect(v.heap.points).toBe(1);
    expect(v.heap.met).toBe(false);
    expect(v.heap.growth).toBeNaN();
  });
});
