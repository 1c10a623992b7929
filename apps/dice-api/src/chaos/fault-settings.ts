import type { InvalidParam } from '../problem/problem-details.js';
import { InvalidParamsException } from '../problem/problem.exception.js';

/** What a drill can turn on. All zero means off, which is the default. */
export interface FaultSettings {
  /** Share of dice requests answered with an injected 500, from 0 to 1. */
  errorRatio: number;
  /** Fixed delay added to every dice request, in milliseconds. */
  latencyMs: number;
  /** Extra delay, uniformly random from 0 to this, in milliseconds. */
  jitterMs: number;
  /** Share of dice whose face is forced to the highest one (a loaded die), from 0 to 1. */
  bias: number;
}

export const NO_FAULTS: Readonly<FaultSettings> = Object.freeze({ errorRatio: 0, latencyMs: 0, jitterMs: 0, bias: 0 });

const MAX_DELAY_MS = 30_000;
const LIMITS: Record<keyof FaultSettings, { min: number; max: number }> = {
  errorRatio: { min: 0, max: 1 },
  latencyMs: { min: 0, max: MAX_DELAY_MS },
  jitterMs: { min: 0, max: MAX_DELAY_MS },
  bias: { min: 0, max: 1 },
};

/** Validates a partial update (PUT /faults body); unknown or out-of-range fields are refused. */
export function parseFaultUpdate(body: unknown): Partial<FaultSettings> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidParamsException(
      [{ name: 'body', reason: `must be a JSON object with any of ${Object.keys(LIMITS).join(', ')}` }],
      'Invalid fault settings',
    );
  }
  const problems: InvalidParam[] = [];
  const update: Partial<FaultSettings> = {};
  for (const [name, value] of Object.entries(body)) {
    const limit = LIMITS[name as keyof FaultSettings];
    if (!limit) {
      problems.push({ name: name.slice(0, 64), reason: `is not a fault setting; allowed: ${Object.keys(LIMITS).join(', ')}` });
    } else if (typeof value !== 'number' || !Number.isFinite(value) || value < limit.min || value > limit.max) {
      problems.push({ name, reason: `must be a number from ${limit.min} to ${limit.max}` });
    } else {
      update[name as keyof FaultSettings] = value;
    }
  }
  if (problems.length > 0) throw new InvalidParamsException(problems, 'Invalid fault settings');
  return update;
}
