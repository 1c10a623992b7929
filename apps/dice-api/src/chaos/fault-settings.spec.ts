import { describe, expect, it } from 'vitest';
import { InvalidParamsException } from '../problem/problem.exception.js';
import { parseFaultUpdate } from './fault-settings.js';

describe('parseFaultUpdate', () => {
  it('accepts a partial update within limits', () => {
    expect(parseFaultUpdate({ errorRatio: 0.25, latencyMs: 200 })).toEqual({ errorRatio: 0.25, latencyMs: 200 });
  });

  it.each([
    [{ errorRatio: 1.5 }, 'errorRatio'],
    [{ bias: -0.1 }, 'bias'],
    [{ latencyMs: 60_000 }, 'latencyMs'],
    [{ jitterMs: 'lots' }, 'jitterMs'],
    [{ errorRatio: Number.NaN }, 'errorRatio'],
    [{ unknown: 1 }, 'unknown'],
  ])('refuses %j naming %s', (body, name) => {
    expect(() => parseFaultUpdate(body)).toThrow(InvalidParamsException);
    try {
      parseFaultUpdate(body);
    } catch (error) {
      expect((error as InvalidParamsException).invalidParams.map((p) => p.name)).toEqual([name]);
    }
  });

  it.each([null, [], 'errorRatio=1', 3])('refuses a body that is not an object: %j', (body) => {
    expect(() => parseFaultUpdate(body)).toThrow(/must be a JSON object/);
  });
});
