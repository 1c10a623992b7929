import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createJsonLogger, getTelemetry, NestWinstonLogger } from '@app/telemetry';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdminModule } from './admin/admin.module.js';
import { AppModule } from './app.module.js';
import { configureAdminApp, configurePublicApp, createFastifyAdapter } from './app.setup.js';
import { FaultInjector } from './chaos/fault-injector.js';
import type { AppConfig } from './config/app.config.js';
import { LifecycleState } from './health/lifecycle.state.js';

async function bootstrap() {
  const telemetry = getTelemetry();
  // Settings are validated while the module initialises (appConfig): a bad one stops the process
  // with its name before anything listens. Nest's own boot lines wait for the JSON logger.
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, createFastifyAdapter(), { bufferLogs: true });
  const settings = app.get(ConfigService).getOrThrow<AppConfig>('app');
  const winston = createJsonLogger({ level: settings.logLevel });
  const logger = new NestWinstonLogger(winston);
  app.useLogger(logger);
  // ACCESS_LOG_STDOUT=false: the access log gets a logger of its own with no stdout stream.
  const accessLog = settings.accessLogStdout ? winston : createJsonLogger({ level: settings.logLevel, stdout: false });
  configurePublicApp(app, accessLog);
  const admin = await NestFactory.create<NestFastifyApplication>(
    AdminModule.forInjector(app.get(FaultInjector)),
    createFastifyAdapter(),
    { logger },
  );
  configureAdminApp(admin);

  await app.listen(settings.port, settings.host);
  await admin.listen(settings.adminPort, settings.adminHost);
  const log = new Logger('Bootstrap');
  log.log({ message: 'dice-api listening', url: await app.getUrl(), admin_url: await admin.getUrl() });

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.log({ message: 'shutting down: readiness is now false', signal, drain_ms: settings.shutdownDrainMs });
    app.get(LifecycleState).startDraining();
    await sleep(settings.shutdownDrainMs);
    // Fastify stops accepting, answers 503 to new requests on kept-alive sockets and waits for
    // in-flight requests; only then are the last spans and log records flushed.
    await Promise.all([app.close(), admin.close()]);
    log.log({ message: 'stopped serving; flushing telemetry' });
    // The service has drained either way: a collector that cannot take the last spans and log
    // records must not turn a clean stop into a crash (an unhandled rejection, exit 1). These
    // last lines reach stdout only: the OTLP pipeline is shut down by now.
    try {
      await telemetry.shutdown();
      log.log({ message: 'telemetry flushed; exiting' });
    } catch (error) {
      log.warn({ message: 'telemetry flush failed; the spans and log records still pending are lost', error: error instanceof Error ? error.message : String(error) });
    }
    process.exit(0);
  };
  process.once('SIGTERM', (signal) => void stop(signal));
  process.once('SIGINT', (signal) => void stop(signal));
}

bootstrap().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${JSON.stringify({ level: 'error', message: `dice-api failed to start: ${message}`, context: 'Bootstrap' })}\n`);
  process.exit(1);
});
