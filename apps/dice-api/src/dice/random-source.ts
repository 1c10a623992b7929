import { Injectable } from '@nestjs/common';
import { randomInt } from 'node:crypto';

/** Where the dice get their randomness; tests replace it to make rolls deterministic. */
export abstract class RandomSource {
  /** A uniformly distributed integer in [min, max). */
  abstract int(min: number, max: number): number;
}

/** Unbiased: crypto.randomInt rejects samples instead of taking a modulo. */
@Injectable()
export class CryptoRandomSource extends RandomSource {
  int(min: number, max: number): number {
    return randomInt(min, max);
  }
}
