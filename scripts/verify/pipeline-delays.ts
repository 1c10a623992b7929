// How long each hop of the pipeline normally takes, derived from the configs the stack runs, so
// that `npm run verify` can tell a slow hop from a broken one and say which settings set the pace.
// Read from otel-collector/config.yaml, observability/prometheus/prometheus.yml, docker-compose.yml
// (the replicas' OTEL_* environment) and scripts/native/stack.ts (the native replicas' overrides).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { StackKind } from './args.ts';

/** A hop's normal upper bound and the settings it adds up, in words. */
export interface Normal {
  seconds: number;
  because: string;
}

export type PipelineHop = 'metric' | 'exemplar' | 'trace' | 'logs' | 'alertmanager';

/**
 * The OpenTelemetry SDK's defaults when the variables are unset (opentelemetry-specification,
 * specification/configuration/sdk-environment-variables.md: OTEL_BSP_SCHEDULE_DELAY 5000 ms,
 * OTEL_BLRP_SCHEDULE_DELAY 1000 ms), which the SDK in package.json follows.
 */
export const SDK_DEFAULT_MS = { OTEL_BSP_SCHEDULE_DELAY: 5000, OTEL_BLRP_SCHEDULE_DELAY: 1000 } as const;
type SdkDelay = keyof typeof SDK_DEFAULT_MS;

/** Prometheus/collector duration strings ("10s", "1m", "500ms") in seconds. */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: "${text}"`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

const fmt = (seconds: number) => `${Number(seconds.toFixed(3))}s`;

interface Sources {
  collector: Record<string, any>;
  prometheus: Record<string, any>;
  compose: Record<string, any>;
  nativeStackSource: string;
}

export function readSources(root: string): Sources {
  const yaml = (path: string) => parse(readFileSync(join(root, path), 'utf8')) as Record<string, any>;
  return {
    collector: yaml('otel-collector/config.yaml'),
    prometheus: yaml('observability/prometheus/prometheus.yml'),
    compose: yaml('docker-compose.yml'),
    nativeStackSource: readFileSync(join(root, 'scripts/native/stack.ts'), 'utf8'),
  };
}

/** A replica's SDK export delay on this stack, and where it comes from. */
function sdkDelay(name: SdkDelay, stack: StackKind, s: Sources): { seconds: number; from: string } {
  if (stack === 'native') {
    // The native replicas' env literal in scripts/native/stack.ts (services(): replica()).
    const m = new RegExp(`${name}: '(\\d+)'`).exec(s.nativeStackSource);
    if (m) return { seconds: Number(m[1]) / 1000, from: `${name}=${m[1]} (scripts/native/stack.ts)` };
  } else {
    const env = (s.compose['x-dice-api-env'] ?? {}) as Record<string, string>;
    if (env[name] !== undefined) return { seconds: Number(env[name]) / 1000, from: `${name}=${env[name]} (docker-compose.yml)` };
  }
  return { seconds: SDK_DEFAULT_MS[name] / 1000, from: `${name} unset: SDK default ${SDK_DEFAULT_MS[name]} ms` };
}

function exporterFlush(s: Sources, exporter: string): number {
  const batch = s.collector['exporters']?.[exporter]?.['sending_queue']?.['batch'];
  if (!batch?.['flush_timeout']) throw new Error(`otel-collector/config.yaml: exporters.${exporter}.sending_queue.batch.flush_timeout is missing`);
  return durationSeconds(batch['flush_timeout']);
}

/**
 * The normal upper bound of each pipeline hop: the sum of the waits a request's telemetry goes
 * through (processing itself takes milliseconds). The balancer answers at once and is not here.
 */
export function normalDelays(stack: StackKind, s: Sources): Record<PipelineHop, Normal> {
  const scrape = (s.collector['receivers']?.['prometheus']?.['config']?.['scrape_configs'] as { job_name: string; scrape_interval?: string }[] | undefined)?.find(
    (c) => c.job_name === 'dice-api',
  );
  if (!scrape?.scrape_interval) throw new Error('otel-collector/config.yaml: the dice-api scrape job has no scrape_interval');
  const scrapeS = durationSeconds(scrape.scrape_interval);
  const toPrometheus = exporterFlush(s, 'otlp_http/prometheus');
  const toTempo = exporterFlush(s, 'otlp_http/tempo');
  const toLoki = exporterFlush(s, 'otlp_http/loki');
  const spanFlush = durationSeconds(s.collector['connectors']?.['span_metrics']?.['metrics_flush_interval'] ?? '15s');
  const bsp = sdkDelay('OTEL_BSP_SCHEDULE_DELAY', stack, s);
  const blrp = sdkDelay('OTEL_BLRP_SCHEDULE_DELAY', stack, s);
  const promScrape = durationSeconds(s.prometheus['global']?.['scrape_interval'] ?? '1m');
  const flush = (exporter: string, seconds: number) => `${exporter} batch flush_timeout ${fmt(seconds)}`;
  return {
    metric: {
      seconds: scrapeS + toPrometheus,
      because: `the collector's dice-api scrape_interval ${fmt(scrapeS)} + ${flush('otlp_http/prometheus', toPrometheus)} (otel-collector/config.yaml)`,
    },
    exemplar: {
      seconds: bsp.seconds + spanFlush + toPrometheus,
      because: `the replicas' span batch ${bsp.from} + span_metrics metrics_flush_interval ${fmt(spanFlush)} + ${flush('otlp_http/prometheus', toPrometheus)}`,
    },
    trace: {
      seconds: bsp.seconds + toTempo,
      because:
        `the replicas' span batch ${bsp.from} + ${flush('otlp_http/tempo', toTempo)}; Tempo's live-store answers a trace ID from memory ` +
        `(query_end_cutoff in observability/tempo/tempo.yaml delays searches, not lookups by ID)`,
    },
    logs: {
      seconds: blrp.seconds + toLoki,
      because: `the replicas' log batch ${blrp.from} + ${flush('otlp_http/loki', toLoki)}; Loki's ingesters answer at once`,
    },
    alertmanager: {
      seconds: promScrape,
      because: `Prometheus's global scrape_interval ${fmt(promScrape)} (observability/prometheus/prometheus.yml), once after Prometheus starts`,
    },
  };
}
