import { describe, expect, it } from 'vitest';
import { chiSquareCritical, chiSquareSurvival } from './chi-square.ts';

describe('chi-square critical values', () => {
  // NIST/SEMATECH e-Handbook, table 1.3.6.7.4 (upper-tail critical values).
  it.each([
    [0.001, 3, 16.266],
    [0.001, 5, 20.515],
    [0.001, 7, 24.322],
    [0.001, 9, 27.877],
    [0.001, 11, 31.264],
    [0.001, 19, 43.82],
    [0.001, 99, 148.23],
    [0.05, 5, 11.07],
    [0.01, 1, 6.635],
  ])('p=%f, df=%i is %f', (p, df, expected) => {
    expect(chiSquareCritical(p, df)).toBeCloseTo(expected, 2);
  });

  it('is the inverse of the survival function', () => {
    for (const df of [1, 2, 5, 30, 99]) expect(chiSquareSurvival(chiSquareCritical(0.001, df), df)).toBeCloseTo(0.001, 6);
  });
});
