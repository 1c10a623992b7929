import type { LoggerService } from '@nestjs/common';
import type { Logger as WinstonLogger } from 'winston';

/**
 * Nest's own logger (bootstrap, route mapping, exceptions) written through winston, so every line
 * the process prints is one JSON record with the same fields and the same trace correlation.
 */
export class NestWinstonLogger implements LoggerService {
  constructor(private readonly winston: WinstonLogger) {}

  log(message: unknown, ...params: unknown[]) {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]) {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  fatal(message: unknown, ...params: unknown[]) {
    this.write('error', message, params);
  }

  // Nest passes (message, context) or (message, stack, context) for errors.
  private write(level: string, message: unknown, params: unknown[]) {
    const context = typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined;
    const stack = params.length > 1 && typeof params[0] === 'string' ? params[0] : undefined;
    if (message instanceof Error) {
      this.winston.log(level, message.message, { context, stack: message.stack });
    } else if (typeof message === 'object' && message !== null) {
      this.winston.log(level, { ...(message as object), context, message: (message as { message?: string }).message ?? '' });
    } else {
      this.winston.log(level, String(message), { context, ...(stack ? { stack } : {}) });
    }
  }
}
