import { Injectable, type OnModuleInit } from '@nestjs/common';
import { SpanStatusCode } from '@opentelemetry/api';
import { DiceInstruments, getTracer } from '@app/telemetry';
import { FaultInjector } from '../chaos/fault-injector.js';
import { RandomSource } from './random-source.js';
import { ALLOWED_SIDES, type RollQuery } from './roll-query.js';

export interface RollResult {
  dice: number;
  sides: number;
  rolls: number[];
  total: number;
}

@Injectable()
export class DiceService implements OnModuleInit {
  constructor(
    private readonly random: RandomSource,
    private readonly faults: FaultInjector,
    private readonly instruments: DiceInstruments,
  ) {}

  onModuleInit() {
    this.instruments.declareDice(ALLOWED_SIDES);
  }

  /** One fair six-sided die: the reference architecture's `GET /`. */
  rollOne(): number {
    return this.roll({ dice: 1, sides: 6 }).total;
  }

  roll({ dice, sides }: RollQuery): RollResult {
    return getTracer().startActiveSpan('dice.roll', (span) => {
      try {
        const rolls = Array.from({ length: dice }, () => this.faults.load(this.random.int(1, sides + 1), sides));
        const total = rolls.reduce((sum, face) => sum + face, 0);
        span.setAttributes({ 'dice.count': dice, 'dice.sides': sides, 'dice.total': total });
        this.instruments.recordRoll(sides, rolls, total);
        return { dice, sides, rolls, total };
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    });
  }
}
