// An open-loop load: requests leave on a fixed schedule whether or not earlier ones have
// answered (as real users do), and each one is recorded with its send time, latency and status.
// Unlike test/e2e/support/load.ts (autocannon, one histogram per run), per-request records let a
// test cut the same run into windows (baseline, outage, recovery), measure each the same way,
// and account for every request sent in a window.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';

export interface Sample {
  /** Epoch ms when the request was sent. */
  at: number;
  /**
   * The trace ID it was sent under (a sampled `traceparent`), so that its spans and log records
   * can be found wherever the collector delivered them.
   */
  traceId: string;
  /** Milliseconds until the response ended (or the error). */
  ms: number;
  /** HTTP status; 0 when no response came (connection error, timeout). */
  status: number;
  contentType?: string;
  /** The body of a failed response (>= 500), for the report. */
  body?: string;
  error?: string;
  /** Sent again after a kept-alive connection closed with no response (see `one`). */
  retried?: boolean;
}

export interface OpenLoopLoad {
  readonly samples: readonly Sample[];
  /** Stops sending, waits for the requests in flight, and returns every sample. */
  stop(): Promise<Sample[]>;
}

/**
 * Sends `rate` requests per second to `paths` (taken in turn) until stopped or `maxSeconds` pass,
 * so that a failing test cannot leave load running. Requests time out after `timeoutMs`.
 */
export function openLoopLoad(baseUrl: string, paths: string[], rate: number, maxSeconds: number, timeoutMs = 10_000): OpenLoopLoad {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  const period = 1000 / rate;
  const started = Date.now();
  let sent = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const one = (path: string) => {
    const at = Date.now();
    const t0 = process.hrtime.bigint();
    const traceId = randomBytes(16).toString('hex');
    const headers = { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
    const done = new Promise<void>((resolve) => {
      const finish = (sample: Omit<Sample, 'at' | 'ms' | 'traceId'>) => {
        samples.push({ at, traceId, ms: Number(process.hrtime.bigint() - t0) / 1e6, ...sample });
        resolve();
      };
      const attempt = (retried: boolean) => {
        const req = request({ host: url.hostname, port: url.port || 80, path, headers, agent, timeout: timeoutMs }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            finish({
              status,
              contentType: res.headers['content-type'],
              ...(status >= 500 ? { body: Buffer.concat(chunks).toString('utf8').slice(0, 300) } : {}),
              ...(retried ? { retried } : {}),
            });
          });
          res.on('error', (error) => finish({ status: 0, error: error.message }));
        });
        req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on('error', (error) => {
          // A kept-alive connection closed before any response: the request was not processed, and
          // HTTP lets a client send an idempotent request again (RFC 9112, 9.3.1), as browsers and
          // curl do. HAProxy closes that way on purpose when a reused server connection fails
          // (https://github.com/haproxy/haproxy/issues/2375). Once, and counted.
          if (req.reusedSocket && !retried) attempt(true);
          else finish({ status: 0, error: error.message, ...(retried ? { retried } : {}) });
        });
        req.end();
      };
      attempt(false);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  // Catches up after a stall of this process's event loop: the schedule, not the loop, sets the rate.
  const tick = () => {
    if (stopped) return;
    const elapsed = Date.now() - started;
    if (elapsed > maxSeconds * 1000) {
      stopped = true;
      return;
    }
    while (sent * period <= elapsed) one(paths[sent++ % paths.length]!);
    timer = setTimeout(tick, Math.max(0, sent * period - (Date.now() - started)));
  };
  tick();

  return {
    samples,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([...inFlight]);
      agent.destroy();
      return samples;
    },
  };
}

export interface WindowStats {
  requests: number;
  /** Sent twice because a kept-alive connection closed before any response. */
  retried: number;
  /** Responses other than 2xx, and requests with no response at all. */
  failed: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Samples sent in [from, to). */
export const sentBetween = (samples: readonly Sample[], from: number, to: number) => samples.filter((s) => s.at >= from && s.at < to);

export function stats(samples: readonly Sample[]): WindowStats {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  // Nearest rank: the smallest latency at or above which q of the requests lie.
  const q = (p: number) => (ms.length === 0 ? NaN : ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)]!);
  return {
    requests: samples.length,
    retried: samples.filter((s) => s.retried).length,
    failed: samples.filter((s) => s.status < 200 || s.status >= 300).length,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: ms.at(-1) ?? NaN,
  };
}

export const formatStats = (s: WindowStats) =>
  `${String(s.requests).padStart(5)} requests, ${s.failed} failed, ${s.retried} retried; latency ms p50 ${s.p50.toFixed(2)}  p90 ${s.p90.toFixed(2)}  p99 ${s.p99.toFixed(2)}  max ${s.max.toFixed(1)}`;
