import { Module } from '@nestjs/common';
import { TelemetryModule } from '@app/telemetry';
import { ChaosModule } from '../chaos/chaos.module.js';
import { DiceController } from './dice.controller.js';
import { DiceService } from './dice.service.js';

@Module({
  imports: [TelemetryModule, ChaosModule],
  controllers: [DiceController],
  providers: [DiceService],
})
export class DiceModule {}
