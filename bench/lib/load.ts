// The two load generators, each its own process pinned with taskset: autocannon (closed loop,
// saturation) and paced-load.ts (open loop at a fixed rate, microsecond latencies).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const PACED = join(import.meta.dirname, 'paced-load.ts');

function runJson(cpus: string, args: string[], boundS: number, what: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    // Above normal priority, so that the generator's timing does not suffer from whatever else
    // shares its core (the native stack, other people's work): latency must be the server's.
    const child = spawn('nice', ['-n', '-10', 'taskset', '-c', cpus, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), boundS * 1000);
    child.on('close', (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`${what} exited ${code}: ${err.slice(0, 500)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>);
      } catch {
        reject(new Error(`${what} printed no JSON: ${out.slice(0, 300)} ${err.slice(0, 300)}`));
      }
    });
  });
}

export interface AutocannonResult {
  rps: number;
  responses: number;
  p50Ms: number;
  p99Ms: number;
  bad: number;
}

export async function autocannon(url: string, seconds: number, connections: number, cpus: string): Promise<AutocannonResult> {
  const r = (await runJson(cpus, [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '-j', url], seconds + 30, 'autocannon')) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  return {
    rps: r.requests.average,
    responses: r.requests.total,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    bad: r.errors + r.timeouts + r.non2xx,
  };
}

export interface PacedResult {
  target: number;
  sent: number;
  responses: number;
  /** Answered during the generator's unrecorded warm-up (at the same rate). */
  warmupResponses: number;
  achievedRate: number;
  statuses: Record<string, number>;
  errors: number;
  firstError?: string;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  generatorLagMs: { p99: number; max: number };
}

export async function paced(
  url: string,
  rate: number,
  seconds: number,
  cpus: string,
  options: { connections?: number; paths?: 'fixed' | 'unknown-and-valid'; warmupS?: number } = {},
): Promise<PacedResult> {
  const args = [PACED, '--url', url, '--rate', String(rate), '--duration', String(seconds), '--connections', String(options.connections ?? 16), '--paths', options.paths ?? 'fixed', '--warmup', String(options.warmupS ?? 1)];
  return (await runJson(cpus, args, seconds + 30, 'paced-load')) as unknown as PacedResult;
}
