import type { InvalidParam } from '../problem/problem-details.js';
import { InvalidParamsException } from '../problem/problem.exception.js';

export const DICE_MIN = 1;
export const DICE_MAX = 100;
/** Only real polyhedral dice; an allow-list also keeps the `dice.sides` metric attribute bounded. */
export const ALLOWED_SIDES = [4, 6, 8, 10, 12, 20, 100] as const;
export type Sides = (typeof ALLOWED_SIDES)[number];

export interface RollQuery {
  dice: number;
  sides: Sides;
}

const KNOWN_PARAMS = ['dice', 'sides'] as const;
const DIGITS = /^[0-9]+$/;

/**
 * Validates /roll's query strictly: each of `dice` and `sides` exactly once, as plain decimal
 * digits, in range; nothing else. Every problem is reported at once, each naming its parameter.
 * Values are never echoed back, so the error body stays small whatever was sent.
 */
export function parseRollQuery(query: Record<string, unknown>): RollQuery {
  const problems: InvalidParam[] = [];

  for (const name of Object.keys(query)) {
    if (!(KNOWN_PARAMS as readonly string[]).includes(name)) {
      problems.push({ name: truncate(name), reason: `is not a parameter of /roll; allowed: ${KNOWN_PARAMS.join(', ')}` });
    }
  }

  const dice = readInteger(query, 'dice', `must be a whole number from ${DICE_MIN} to ${DICE_MAX}`, problems);
  if (dice !== undefined && (dice < DICE_MIN || dice > DICE_MAX)) {
    problems.push({ name: 'dice', reason: `must be from ${DICE_MIN} to ${DICE_MAX}` });
  }
  const sidesReason = `must be one of ${ALLOWED_SIDES.join(', ')}`;
  const sides = readInteger(query, 'sides', sidesReason, problems);
  if (sides !== undefined && !(ALLOWED_SIDES as readonly number[]).includes(sides)) {
    problems.push({ name: 'sides', reason: sidesReason });
  }

  if (problems.length > 0 || dice === undefined || sides === undefined) throw new InvalidParamsException(problems);
  return { dice, sides: sides as Sides };
}

function readInteger(query: Record<string, unknown>, name: string, expected: string, problems: InvalidParam[]) {
  const raw = query[name];
  if (raw === undefined) {
    problems.push({ name, reason: `is required; it ${expected}` });
    return undefined;
  }
  if (Array.isArray(raw)) {
    problems.push({ name, reason: `was given ${raw.length} times; give it once` });
    return undefined;
  }
  if (typeof raw !== 'string' || !DIGITS.test(raw)) {
    problems.push({ name, reason: `is not a whole number; it ${expected}` });
    return undefined;
  }
  return Number(raw);
}

// A parameter name is the only user input an error repeats; keep it short.
function truncate(name: string): string {
  return name.length <= 64 ? name : `${name.slice(0, 64)}…`;
}
