import { MeterProvider, MetricReader, type DataPoint, type Sum } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { DiceInstruments } from './dice.instruments.js';

class CollectingReader extends MetricReader {
  protected override onForceFlush = () => Promise.resolve();
  protected override onShutdown = () => Promise.resolve();
}

async function rollsByFace(reader: MetricReader, sides: number): Promise<Record<number, number>> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'dice.rolls');
  const points = (metric?.dataPoints ?? []) as DataPoint<Sum>[];
  return Object.fromEntries(
    points.filter((p) => p.attributes['dice.sides'] === sides).map((p) => [Number(p.attributes['dice.face']), p.value]),
  );
}

describe('DiceInstruments', () => {
  it('counts every die of a roll under its face, repeated faces included', async () => {
    const reader = new CollectingReader();
    const instruments = new DiceInstruments(new MeterProvider({ readers: [reader] }).getMeter('test'));
    instruments.declareDice([6]);
    instruments.recordRoll(6, [3, 3, 5, 3, 1], 15);
    instruments.recordRoll(6, [3, 6], 9);
    expect(await rollsByFace(reader, 6)).toEqual({ 1: 1, 2: 0, 3: 4, 4: 0, 5: 1, 6: 1 });
  });
});
