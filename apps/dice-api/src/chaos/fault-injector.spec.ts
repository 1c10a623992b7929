import { describe, expect, it } from 'vitest';
import { RandomSource } from '../dice/random-source.js';
import { FaultInjector } from './fault-injector.js';

class FixedRandom extends RandomSource {
  constructor(private readonly value: number) {
    super();
  }
  int(min: number, max: number) {
    return Math.min(Math.max(this.value, min), max - 1);
  }
}

describe('FaultInjector', () => {
  it('injects nothing by default', async () => {
    const faults = new FaultInjector(new FixedRandom(0));
    expect(faults.shouldFail()).toBe(false);
    expect(faults.load(3, 6)).toBe(3);
    const started = performance.now();
    await faults.delay();
    expect(performance.now() - started).toBeLessThan(20);
  });

  it('fails a request when the draw falls under the error ratio, not above it', () => {
    const low = new FaultInjector(new FixedRandom(100_000)); // draw 0.1
    low.update({ errorRatio: 0.2 }, 'test');
    expect(low.shouldFail()).toBe(true);
    const high = new FaultInjector(new FixedRandom(300_000)); // draw 0.3
    high.update({ errorRatio: 0.2 }, 'test');
    expect(high.shouldFail()).toBe(false);
  });

  it('a loaded die shows its highest face with the given probability', () => {
    const faults = new FaultInjector(new FixedRandom(0));
    faults.update({ bias: 0.5 }, 'test');
    expect(faults.load(2, 20)).toBe(20);
    faults.reset('test');
    expect(faults.load(2, 20)).toBe(2);
  });

  it('adds the fixed latency plus jitter', async () => {
    const faults = new FaultInjector(new FixedRandom(30));
    faults.update({ latencyMs: 50, jitterMs: 100 }, 'test');
    const started = performance.now();
    await faults.delay();
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
  });

  it('keeps unchanged settings on a partial update', () => {
    const faults = new FaultInjector(new FixedRandom(0));
    faults.update({ errorRatio: 0.1, bias: 0.2 }, 'test');
    expect(faults.update({ bias: 0 }, 'test')).toEqual({ errorRatio: 0.1, latencyMs: 0, jitterMs: 0, bias: 0 });
  });
});
