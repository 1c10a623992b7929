import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { RandomSource } from '../dice/random-source.js';
import { NO_FAULTS, type FaultSettings } from './fault-settings.js';

/**
 * Runtime fault injection for drills: errors, latency and a loaded die, changed without a restart
 * through the admin API. Every change is logged, and the settings are exported as metrics
 * (dice.faults.*) so that a dashboard never mistakes a drill for an incident.
 */
@Injectable()
export class FaultInjector {
  private readonly logger = new Logger('FaultInjection');
  private settings: FaultSettings = { ...NO_FAULTS };

  constructor(private readonly random: RandomSource) {}

  current(): Readonly<FaultSettings> {
    return this.settings;
  }

  update(change: Partial<FaultSettings>, origin: string): Readonly<FaultSettings> {
    const previous = this.settings;
    this.settings = { ...previous, ...change };
    this.logger.warn({ message: 'fault injection changed', origin, previous, current: this.settings });
    return this.settings;
  }

  reset(origin: string): Readonly<FaultSettings> {
    return this.update({ ...NO_FAULTS }, origin);
  }

  /** Waits the configured latency (fixed plus jitter); resolves at once when none is set. */
  async delay(): Promise<void> {
    const { latencyMs, jitterMs } = this.settings;
    const ms = latencyMs + (jitterMs > 0 ? this.random.int(0, Math.floor(jitterMs) + 1) : 0);
    if (ms > 0) await sleep(ms);
  }

  shouldFail(): boolean {
    return this.settings.errorRatio > 0 && this.chance(this.settings.errorRatio);
  }

  /** The face a loaded die shows instead of `fair`: the highest one, with probability `bias`. */
  load(fair: number, sides: number): number {
    return this.settings.bias > 0 && this.chance(this.settings.bias) ? sides : fair;
  }

  private chance(probability: number): boolean {
    return this.random.int(0, 1_000_000) < probability * 1_000_000;
  }
}
