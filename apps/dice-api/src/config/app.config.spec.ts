import { describe, expect, it } from 'vitest';
import { parseAppConfig } from './app.config.js';

describe('parseAppConfig', () => {
  it('has safe defaults: admin API on loopback only', () => {
    expect(parseAppConfig({})).toEqual({
      port: 8000,
      host: '0.0.0.0',
      adminPort: 9000,
      adminHost: '127.0.0.1',
      logLevel: 'info',
      shutdownDrainMs: 0,
      accessLogStdout: true,
    });
  });

  it('reads every setting', () => {
    expect(
      parseAppConfig({ PORT: '8081', HOST: '127.0.0.1', ADMIN_PORT: '9001', ADMIN_HOST: '0.0.0.0', LOG_LEVEL: 'DEBUG', SHUTDOWN_DRAIN_MS: '5000', ACCESS_LOG_STDOUT: 'False' }),
    ).toEqual({ port: 8081, host: '127.0.0.1', adminPort: 9001, adminHost: '0.0.0.0', logLevel: 'debug', shutdownDrainMs: 5000, accessLogStdout: false });
  });

  it.each([
    [{ PORT: 'http' }, /PORT must be a whole number from 1 to 65535, got "http"/],
    [{ PORT: '0' }, /PORT must be from 1 to 65535, got 0/],
    [{ ADMIN_PORT: '70000' }, /ADMIN_PORT must be from 1 to 65535/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of error, warn, info, debug, got "loud"/],
    [{ HOST: ' ' }, /HOST is set but empty/],
    [{ SHUTDOWN_DRAIN_MS: '-1' }, /SHUTDOWN_DRAIN_MS must be a whole number/],
    [{ PORT: '8000', ADMIN_PORT: '8000' }, /ADMIN_PORT must differ from PORT/],
    [{ ACCESS_LOG_STDOUT: 'no' }, /ACCESS_LOG_STDOUT must be true or false, got "no"/],
  ])('refuses %j with a message naming the setting', (env, message) => {
    expect(() => parseAppConfig(env)).toThrow(message);
  });
});
