import { registerAs } from '@nestjs/config';
import { LOG_LEVELS, type LogLevel } from '@app/telemetry';

export interface AppConfig {
  /** Public port: the dice API, /health, /docs, /openapi.json and /metrics. */
  port: number;
  host: string;
  /** Fault-injection admin API. Never published: bind it to loopback or an internal network. */
  adminPort: number;
  adminHost: string;
  logLevel: LogLevel;
  /**
   * After SIGTERM, how long readiness reports "down" before the server stops accepting, so the load
   * balancer's health check sees it and stops sending new requests first.
   */
  shutdownDrainMs: number;
  /**
   * Whether the access log (one JSON line per request) is written to stdout. Off, each record still
   * goes over OTLP when the OTLP log path is on (OTEL_LOGS_EXPORTER), so an operator whose logs reach
   * Loki that way does not pay for both: stdout costs about 20 µs of CPU per request
   * (docs/benchmarks.md, "What each signal costs"). The process's other lines stay on stdout.
   */
  accessLogStdout: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

export function parseAppConfig(env: Env): AppConfig {
  const config: AppConfig = {
    port: intVar(env, 'PORT', 8000, 1, 65535),
    host: stringVar(env, 'HOST', '0.0.0.0'),
    adminPort: intVar(env, 'ADMIN_PORT', 9000, 1, 65535),
    adminHost: stringVar(env, 'ADMIN_HOST', '127.0.0.1'),
    logLevel: enumVar(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    shutdownDrainMs: intVar(env, 'SHUTDOWN_DRAIN_MS', 0, 0, 60_000),
    accessLogStdout: boolVar(env, 'ACCESS_LOG_STDOUT', true),
  };
  if (config.port === config.adminPort) {
    throw new ConfigError(`ADMIN_PORT must differ from PORT (both are ${config.port}): the admin API is never served on the public port`);
  }
  return config;
}

export const appConfig = registerAs('app', () => parseAppConfig(process.env));

function stringVar(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined) return fallback;
  if (raw.trim() === '') throw new ConfigError(`${name} is set but empty; unset it to use the default "${fallback}"`);
  return raw.trim();
}

function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name} must be from ${min} to ${max}, got ${value}`);
  return value;
}

function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = raw.trim().toLowerCase();
  if (value !== 'true' && value !== 'false') throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  return value === 'true';
}

function enumVar<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = raw.trim().toLowerCase() as T;
  if (!allowed.includes(value)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return value;
}
