import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createJsonLogger, NestWinstonLogger } from '@app/telemetry';
import { PassThrough } from 'node:stream';
import { AppModule } from '../../src/app.module.js';
import { configurePublicApp, createFastifyAdapter } from '../../src/app.setup.js';
import { RandomSource } from '../../src/dice/random-source.js';

export interface TestApp {
  app: NestFastifyApplication;
  /** Every JSON log line the app wrote, parsed. */
  logLines(): Record<string, unknown>[];
  close(): Promise<void>;
}

/** Boots the real AppModule on Fastify, as main.ts does, with its logs captured. */
export async function startTestApp(options: { random?: RandomSource } = {}): Promise<TestApp> {
  let builder = Test.createTestingModule({ imports: [AppModule] });
  if (options.random) builder = builder.overrideProvider(RandomSource).useValue(options.random);
  const moduleRef = await builder.compile();

  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  const winston = createJsonLogger({ level: 'debug', stream });

  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(), {
    logger: new NestWinstonLogger(winston),
  });
  configurePublicApp(app, winston);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();

  return {
    app,
    logLines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    close: () => app.close(),
  };
}

/** A die that shows the given faces in turn, for deterministic tests. */
export class ScriptedRandom extends RandomSource {
  private next = 0;
  constructor(private readonly values: number[]) {
    super();
  }
  int(min: number, max: number): number {
    const value = this.values[this.next++ % this.values.length]!;
    if (value < min || value >= max) throw new Error(`scripted value ${value} is outside [${min}, ${max})`);
    return value;
  }
}
