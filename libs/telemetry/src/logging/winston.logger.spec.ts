import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { NestWinstonLogger } from './nest-winston.logger.js';
import { createJsonLogger } from './winston.logger.js';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return { logger: createJsonLogger({ level: 'debug', stream }), lines: () => text.split('\n').filter(Boolean) };
}

describe('JSON logging', () => {
  it('cannot be split or forged by CR/LF, ANSI escapes or JSON fragments in user input', async () => {
    const { logger, lines } = capture();
    const hostile = 'x\r\n{"level":"error","message":"forged"}\n\u001b[31mred\u001b[0m "quoted" \u2028';
    logger.info(hostile, { 'user.input': hostile });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines()).toHaveLength(1);
    const record = JSON.parse(lines()[0]!);
    expect(record.message).toBe(hostile);
    expect(record['user.input']).toBe(hostile);
    expect(lines()[0]).not.toMatch(/[\r\n\u001b]/);
  });

  it("writes Nest's log calls as JSON records with their context", async () => {
    const { logger, lines } = capture();
    const nest = new NestWinstonLogger(logger);
    nest.log('Mapped {/roll, GET} route', 'RouterExplorer');
    nest.error('boom', 'Error: boom\n    at somewhere', 'ExceptionsHandler');
    nest.warn({ message: 'structured', origin: 'test' }, 'FaultInjection');
    await new Promise((resolve) => setImmediate(resolve));
    const records = lines().map((l) => JSON.parse(l));
    expect(records[0]).toMatchObject({ level: 'info', message: 'Mapped {/roll, GET} route', context: 'RouterExplorer' });
    expect(records[1]).toMatchObject({ level: 'error', message: 'boom', context: 'ExceptionsHandler', stack: 'Error: boom\n    at somewhere' });
    expect(records[2]).toMatchObject({ level: 'warn', message: 'structured', origin: 'test', context: 'FaultInjection' });
  });

  it('drops records below the configured level', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const logger = createJsonLogger({ level: 'warn', stream });
    logger.info('quiet');
    logger.warn('loud');
    await new Promise((resolve) => setImmediate(resolve));
    expect(text).not.toContain('quiet');
    expect(text).toContain('loud');
  });
});
