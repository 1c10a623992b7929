import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { appConfig } from './config/app.config.js';
import { DiceModule } from './dice/dice.module.js';
import { HealthModule } from './health/health.module.js';

@Module({
  imports: [
    // Settings come from the environment only (compose, npm start); parseAppConfig validates them.
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [appConfig] }),
    DiceModule,
    HealthModule,
  ],
})
export class AppModule {}
