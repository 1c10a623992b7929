import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidParamsException } from '../problem/problem.exception.js';
import { ALLOWED_SIDES, DICE_MAX, DICE_MIN, parseRollQuery } from './roll-query.js';

function problemsOf(query: Record<string, unknown>) {
  try {
    parseRollQuery(query);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidParamsException);
    return (error as InvalidParamsException).invalidParams;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be refused`);
}

describe('parseRollQuery', () => {
  it('accepts every allowed combination', () => {
    fc.assert(
      fc.property(fc.integer({ min: DICE_MIN, max: DICE_MAX }), fc.constantFrom(...ALLOWED_SIDES), (dice, sides) => {
        expect(parseRollQuery({ dice: String(dice), sides: String(sides) })).toEqual({ dice, sides });
      }),
    );
  });

  it('refuses any dice outside 1..100, naming dice', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 })), (dice) => {
        expect(problemsOf({ dice: String(dice), sides: '6' }).map((p) => p.name)).toEqual(['dice']);
      }),
    );
  });

  it('refuses any sides outside the allow-list, naming sides and listing what is allowed', () => {
    fc.assert(
      fc.property(fc.integer().filter((n) => !(ALLOWED_SIDES as readonly number[]).includes(n)), (sides) => {
        const [problem] = problemsOf({ dice: '1', sides: String(sides) });
        expect(problem!.name).toBe('sides');
        expect(problem!.reason).toMatch(/must be one of 4, 6, 8, 10, 12, 20, 100$/);
      }),
    );
  });

  it('refuses any string that is not plain decimal digits, and never echoes it', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }).filter((s) => !/^[0-9]+$/.test(s)), (raw) => {
        // One fixed reason whatever was sent: nothing of the input can be in it. (Looking for the
        // input in the body instead fails by chance when the input is a word of the reason.)
        expect(problemsOf({ dice: raw, sides: '6' })).toEqual([{ name: 'dice', reason: 'is not a whole number; it must be a whole number from 1 to 100' }]);
      }),
    );
  });

  it('reports a repeated parameter as repeated', () => {
    expect(problemsOf({ dice: ['1', '2'], sides: '6' })).toEqual([{ name: 'dice', reason: 'was given 2 times; give it once' }]);
  });

  it('truncates an absurdly long unknown parameter name', () => {
    const [problem] = problemsOf({ dice: '1', sides: '6', ['x'.repeat(10_000)]: '1' });
    expect(problem!.name.length).toBeLessThanOrEqual(65);
  });
});
