import { Module, type OnModuleInit } from '@nestjs/common';
import { DiceInstruments, TelemetryModule } from '@app/telemetry';
import { CryptoRandomSource, RandomSource } from '../dice/random-source.js';
import { FaultInjectionInterceptor } from './fault-injection.interceptor.js';
import { FaultInjector } from './fault-injector.js';

/**
 * Owns the one FaultInjector of the process (and the RandomSource it shares with the dice). The
 * admin server reuses this instance; its controller is not mounted on the public app.
 */
@Module({
  imports: [TelemetryModule],
  providers: [{ provide: RandomSource, useClass: CryptoRandomSource }, FaultInjector, FaultInjectionInterceptor],
  exports: [RandomSource, FaultInjector, FaultInjectionInterceptor],
})
export class ChaosModule implements OnModuleInit {
  constructor(
    private readonly faults: FaultInjector,
    private readonly instruments: DiceInstruments,
  ) {}

  onModuleInit() {
    this.instruments.observeFaults(() => this.faults.current());
  }
}
