// The command line of `npm run verify` (scripts/verify/verify.ts): parsed with node:util's
// parseArgs, then checked, so that every mistake is one sentence naming the option and what it takes.
import { parseArgs } from 'node:util';

export const STACKS = ['compose', 'native', 'cluster'] as const;
export type StackKind = (typeof STACKS)[number];

/** The URL options, by option name; each overrides the stack's own address of that component. */
export const URL_OPTIONS = ['lb', 'prometheus', 'tempo', 'loki', 'alertmanager'] as const;
export type UrlOption = (typeof URL_OPTIONS)[number];

export interface VerifyOptions {
  help: boolean;
  stack: StackKind;
  urls: Partial<Record<UrlOption, string>>;
  /** Directory of the OTLP recorder (spans.jsonl, logs.jsonl) that stands in for Tempo and Loki. */
  recorder?: string;
  /** Requests sent through the balancer, each under its own trace ID. */
  requests: number;
  /** How long the pipeline hops may take, in seconds from the last request. */
  waitSeconds: number;
}

export const DEFAULTS = { requests: 5, waitSeconds: 30 } as const;

export class UsageError extends Error {}

export const HELP = `npm run verify [-- OPTIONS]

Sends requests with known W3C trace IDs (traceparent) through the load balancer, then proves each
hop of the telemetry pipeline in turn, printing its time and a verdict:
  1 balancer            the requests answer 200 through the load balancer
  2 scraped metric      the replicas' request counter in Prometheus grew by the requests sent
                        (http_server_request_duration_count, scraped by the collector)
  3 span-metrics exemplar  an exemplar in Prometheus carries one of the sent trace IDs
                        (traces_span_metrics_duration_seconds_bucket, from the collector)
  4 trace in Tempo      every sent trace is found by ID (GET /api/v2/traces/<id>)
  5 logs in Loki        every sent trace has log lines: {service_name="dice-api"} | trace_id="<id>"
  6 alertmanager        Alertmanager is ready and Prometheus sends it alerts
Exits 0 when every hop passes (or is skipped, saying why), 1 naming the first broken hop and what
to check, 2 on a bad option. A hop that has seen nothing yet says how long it waited and how long
the pipeline normally takes (derived from the stack's configs).

Where:
  --stack compose       (default) docker compose's published ports: the balancer on LB_ADDRESS:LB_PORT
                        (default every address, port 80), Prometheus, Tempo and Loki on
                        PUBLISH_ADDRESS (each from the environment, else .env).
                        Alertmanager's port is not published: it is checked through Prometheus.
  --stack native        the native stack (npm run stack; scripts/native/stack.ts), on the loopback
                        addresses of DICE_STACK_SUBNET. Tempo and Loki do not run there: those hops
                        are skipped unless --recorder is given.
  --stack cluster       given URLs only (e.g. port-forwarded Services): --lb and --prometheus are
                        required, a hop whose URL is not given is skipped. The default when --lb is
                        given without --stack.
  --lb URL  --prometheus URL  --tempo URL  --loki URL  --alertmanager URL
                        override the stack's address of that component.
  --recorder DIR        Tempo and Loki are replaced by the OTLP recorder (test/support/otlp-recorder.ts):
                        hops 4 and 5 read DIR/spans.jsonl and DIR/logs.jsonl instead, and say so.

How:
  --requests N          requests to send, each under its own trace ID (default ${DEFAULTS.requests}, 1..100)
  --wait SECONDS        how long hops 2-5 may take after the last request (default ${DEFAULTS.waitSeconds}, 1..600)
  --help                this text, and the normal delay of each hop derived from the configs

Examples:
  npm run verify                                     # right after docker compose up
  npm run verify -- --stack native --recorder /tmp/dice-stack-run-127.0.1/otlp-recorder
  npm run verify -- --lb http://localhost:8080 --prometheus http://localhost:9090 \\
                    --tempo http://localhost:3200 --loki http://localhost:3100 --alertmanager http://localhost:9093
`;

function checkUrl(option: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--${option} must be a URL such as http://localhost:9090, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--${option} must be an http:// or https:// URL, got "${value}"`);
  if (url.search || url.hash) throw new UsageError(`--${option} must be a base URL without query or fragment, got "${value}"`);
  return value.replace(/\/+$/, '');
}

function checkNumber(option: string, value: string | undefined, fallback: number, min: number, max: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new UsageError(`--${option} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

export function parseVerifyArgs(argv: string[]): VerifyOptions {
  let parsed: ReturnType<typeof parse>;
  const parse = (args: string[]) =>
    parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        stack: { type: 'string' },
        recorder: { type: 'string' },
        requests: { type: 'string' },
        wait: { type: 'string' },
        lb: { type: 'string' },
        prometheus: { type: 'string' },
        tempo: { type: 'string' },
        loki: { type: 'string' },
        alertmanager: { type: 'string' },
      },
    });
  try {
    parsed = parse(argv);
  } catch (error) {
    // parseArgs's messages name the option but suggest `--foo -- bar`, which means nothing here.
    const message = error instanceof Error ? error.message.split('. To specify')[0]!.replace(/\.$/, '') : String(error);
    throw new UsageError(message);
  }
  const v = parsed.values;
  if (v.help) return { help: true, stack: 'compose', urls: {}, requests: DEFAULTS.requests, waitSeconds: DEFAULTS.waitSeconds };

  const urls: Partial<Record<UrlOption, string>> = {};
  for (const option of URL_OPTIONS) {
    const value = v[option];
    if (value !== undefined) urls[option] = checkUrl(option, value);
  }
  if (v.stack !== undefined && !(STACKS as readonly string[]).includes(v.stack)) {
    throw new UsageError(`--stack must be one of ${STACKS.join(', ')}, got "${v.stack}"`);
  }
  const stack: StackKind = (v.stack as StackKind | undefined) ?? (urls.lb ? 'cluster' : 'compose');
  if (stack === 'cluster') {
    const missing = (['lb', 'prometheus'] as const).filter((o) => !urls[o]).map((o) => `--${o}`);
    if (missing.length > 0) throw new UsageError(`--stack cluster needs ${missing.join(' and ')} (the Services' URLs, e.g. from kubectl port-forward)`);
  }
  if (v.recorder !== undefined) {
    if (v.recorder.trim() === '') throw new UsageError('--recorder needs the directory the OTLP recorder writes spans.jsonl and logs.jsonl to');
    const both = (['tempo', 'loki'] as const).filter((o) => urls[o]).map((o) => `--${o}`);
    if (both.length > 0) throw new UsageError(`--recorder replaces Tempo and Loki; drop ${both.join(' and ')} or --recorder`);
  }
  return {
    help: false,
    stack,
    urls,
    ...(v.recorder === undefined ? {} : { recorder: v.recorder }),
    requests: checkNumber('requests', v.requests, DEFAULTS.requests, 1, 100, true),
    waitSeconds: checkNumber('wait', v.wait, DEFAULTS.waitSeconds, 1, 600, false),
  };
}
