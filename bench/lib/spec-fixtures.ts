// What the bench specs share to build a results object by hand: the full run's settings and a
// run's meta, each spec overriding only what its assertions read.
import type { Meta, Settings } from './results.ts';

export const SETTINGS: Settings = {
  rounds: 3,
  durationS: 8,
  warmupS: 5,
  connections: 50,
  pacedConnections: 16,
  moderateRate: 500,
  highRate: 1000,
  peakRate: 2000,
  freshnessRequests: 32,
  footprintIdleS: 20,
  footprintLoadS: 30,
  footprintRate: 100,
  cardinalityBatches: [5000, 5000],
  cardinalityRate: 1000,
  cardinalitySettleS: 30,
  profileS: 10,
  soakS: 1800,
  soakSampleS: 60,
  soakSettleS: 300,
  soakReportS: 600,
};

export function fixtureMeta(overrides: Partial<Meta> = {}): Meta {
  return {
    mode: 'full',
    command: 'npm run bench',
    date: '2026-01-02T03:04:05.000Z',
    seconds: 1140,
    machine: { nproc: 2, cpu: 'test cpu', memGiB: 4, kernel: '6.1', node: 'v24.21.0', python: '3.11' },
    loadavgBefore: [1, 1, 1],
    loadavgAfter: [2, 2, 2],
    othersAtStart: [],
    settings: SETTINGS,
    versions: {},
    subnet: '127.0.9',
    phaseSeconds: { throughput: 700 },
    ...overrides,
  };
}
