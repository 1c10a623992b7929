// The report's "What each change did" table from a small side-by-side run written here: one row per
// build in the order given, each against the row above and against its own uninstrumented twin, and
// a build without rounds refused with its commit.
import { describe, expect, it } from 'vitest';
import { renderChanges } from './report.ts';
import type { CaseResult, ChangesFile, PacedRound, Round, SaturationRound } from './results.ts';
import { fixtureMeta, SETTINGS } from './spec-fixtures.ts';

const sat = (rps: number[], cpuSecondsPer1k: number[]): SaturationRound[] =>
  rps.map((x, i) => ({ kind: 'saturation', rps: x, responses: x * 5, p50Ms: 5, p99Ms: 20, bad: 0, cpuSeconds: 1, wallSeconds: 5, cpuSecondsPer1k: cpuSecondsPer1k[i]!, busy: 0.95 }));
const paced = (p99Ms: number[]): PacedRound[] =>
  p99Ms.map((p99) => ({
    kind: 'paced',
    targetRate: 1000,
    achievedRate: 1000,
    responses: 5000,
    p50Ms: 1,
    p90Ms: 2,
    p99Ms: p99,
    maxMs: p99 * 2,
    bad: 0,
    generatorLagP99Ms: 0.2,
    cpuSeconds: 2,
    cpuSecondsPer1k: 0.4,
  }));
const kase = (id: string, kind: 'saturation' | 'paced', rounds: Record<string, Round[]>): CaseResult => ({
  id,
  label: id,
  path: '/roll?dice=3&sides=6',
  kind,
  ...(kind === 'paced' ? { rate: 1000 } : {}),
  cpus: { server: '1', load: '0' },
  rounds,
});

function fixture(): ChangesFile {
  return {
    builds: [
      { suffix: '@base-0', commit: 'aaaaaaa', change: 'before' },
      { suffix: '', commit: 'bbbbbbb', change: 'heap flag' },
    ],
    results: {
      meta: fixtureMeta({
        command: 'node bench/run.ts --baseline=/x/base-0',
        loadavgBefore: [0.5, 0.25, 0],
        settings: { ...SETTINGS, durationS: 5, roundWarmupS: 4 },
      }),
      throughput: {
        variants: {},
        cases: [
          kase('roll-saturation', 'saturation', {
            'uninstrumented@base-0': sat([3900, 4000, 4100], [0.2, 0.2, 0.2]),
            'instrumented@base-0': sat([1500, 1600, 1700], [0.5, 0.5, 0.6]),
            uninstrumented: sat([4000, 4000, 4000], [0.25, 0.2, 0.2]),
            instrumented: sat([1900, 2000, 2100], [0.4, 0.4, 0.45]),
          }),
          kase('roll-high', 'paced', { 'instrumented@base-0': paced([30, 40, 90]), instrumented: paced([8, 9, 12.25]) }),
        ],
      },
    },
  };
}

describe('renderChanges', () => {
  it('gives each build a row in the order given, against the row above and its own uninstrumented twin', () => {
    const rows = renderChanges(fixture()).filter((line) => line.startsWith('| `'));
    expect(rows).toEqual([
      '| `aaaaaaa` | before | 1 600 |  | 0.40x | 0.500 |  | 2.50x | 40.0 (90.0) |',
      '| `bbbbbbb` | heap flag | 2 000 | 1.25x | 0.50x | 0.400 | 0.80x | 2.00x | 9.0 (12.3) |',
    ]);
  });

  it('says how and when it was measured, with the load average before the run', () => {
    const text = renderChanges(fixture()).join('\n');
    expect(text).toContain('`node bench/run.ts --baseline=/x/base-0` on 2026-01-02 at 03:04 UTC (load average 0.50 0.25 0.00 before it; 3 rounds of 5 s');
  });

  it('refuses a build that has no rounds, naming its commit', () => {
    const changes = fixture();
    changes.builds.push({ suffix: '@base-9', commit: 'ccccccc', change: 'missing' });
    expect(() => renderChanges(changes)).toThrow(/no rounds of the build ccccccc/);
  });
});
