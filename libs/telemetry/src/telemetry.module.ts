import { Module } from '@nestjs/common';
import { DiceInstruments } from './metrics/dice.instruments.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { getTelemetry } from './sdk/telemetry.sdk.js';

/** Serves /metrics and provides the custom instruments, on the meter the SDK registered. */
@Module({
  controllers: [MetricsController],
  providers: [{ provide: DiceInstruments, useFactory: () => new DiceInstruments(getTelemetry().meter) }],
  exports: [DiceInstruments],
})
export class TelemetryModule {}
