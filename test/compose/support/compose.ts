// Runs `docker compose` on docker-compose.yml with the stand-ins override, as `npm run test:compose`
// does, and reads what the engine says of the containers (`docker inspect`). Every command's output
// is streamed with a prefix, so a long build or a slow health check shows progress on the terminal.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../../scripts/native/stack.ts';

export const PROJECT = 'dice-stack-test';
export const COMPOSE_FILES = [join(ROOT, 'docker-compose.yml'), join(ROOT, 'test/compose/docker-compose.stand-ins.yml')];

/** Where the stack publishes its ports in the tests: loopback only. */
export const PUBLISH_ADDRESS = '127.0.0.1';
export const LB_PORT = Number(process.env['DICE_COMPOSE_LB_PORT'] ?? 80);

/** The environment every docker and docker compose command of the suite runs with. */
export function composeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    COMPOSE_PROJECT_NAME: PROJECT,
    // For scripts the tests run (scripts/compose/rollout.sh): the same files as compose() passes.
    COMPOSE_FILE: COMPOSE_FILES.join(':'),
    PUBLISH_ADDRESS,
    LB_ADDRESS: PUBLISH_ADDRESS,
    LB_PORT: String(LB_PORT),
    // The stand-ins override needs it; set by the global set-up.
    DICE_RECORDER_DIR: process.env['DICE_RECORDER_DIR'] ?? '',
    ...extra,
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command to its end, streaming its lines with `prefix` unless quiet. */
export function run(cmd: string, args: string[], { quiet = false, prefix = cmd, env = composeEnv() } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const echo = (chunk: Buffer) => {
      if (quiet) return;
      for (const line of chunk.toString().split('\n')) if (line.trim()) process.stderr.write(`[${prefix}] ${line}\n`);
    };
    child.stdout.on('data', (c: Buffer) => { stdout += c; echo(c); });
    child.stderr.on('data', (c: Buffer) => { stderr += c; echo(c); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}

/** `docker compose -f docker-compose.yml -f stand-ins ARGS`; fails naming the command. */
export async function compose(args: string[], opts: { quiet?: boolean; allowFailure?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const files = COMPOSE_FILES.flatMap((f) => ['-f', f]);
  const result = await run('docker', ['compose', ...files, ...args], { quiet: opts.quiet, prefix: `compose ${args[0]}`, env: opts.env ?? composeEnv() });
  if (result.code !== 0 && !opts.allowFailure) {
    throw new Error(`docker compose ${args.join(' ')} exited ${result.code} after ${result.seconds.toFixed(0)} s:\n${result.stderr.slice(-3000)}`);
  }
  return result;
}

export function docker(args: string[]): string {
  const r = spawnSync('docker', args, { env: composeEnv(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A container's log as `docker logs` prints it: its stdout and stderr, interleaved by stream. */
export function dockerLogs(id: string): string {
  const r = spawnSync('docker', ['logs', id], { env: composeEnv(), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`docker logs ${id}: ${r.stderr.trim()}`);
  return r.stdout + r.stderr;
}

/** What `docker inspect` says of a container, reduced to what the tests read. */
export interface Inspected {
  Id: string;
  Name: string;
  RestartCount: number;
  State: {
    Status: string;
    Running: boolean;
    OOMKilled: boolean;
    ExitCode: number;
    StartedAt: string;
    Health?: { Status: string; Log: { Start: string; End: string; ExitCode: number }[] };
  };
  HostConfig: { ReadonlyRootfs: boolean; Memory: number; LogConfig: { Type: string; Config: Record<string, string> }; Privileged: boolean };
  Config: { Labels: Record<string, string>; Image: string };
  Image: string;
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

/** The containers of the project, by compose service name (one each; none is scaled). */
export function containers(): Map<string, Inspected> {
  const ids = docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}`]).split('\n').filter(Boolean);
  const out = new Map<string, Inspected>();
  if (ids.length === 0) return out;
  for (const c of JSON.parse(docker(['inspect', ...ids])) as Inspected[]) {
    out.set(c.Config.Labels['com.docker.compose.service']!, c);
  }
  return out;
}

/** Every service of the merged config with what it depends on (`docker compose config`). */
export interface ServiceConfig {
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  healthcheck?: { test: string[]; disable?: boolean };
  read_only?: boolean;
  image?: string;
}
export async function mergedConfig(env?: NodeJS.ProcessEnv, files = COMPOSE_FILES): Promise<{ services: Record<string, ServiceConfig>; [key: string]: unknown }> {
  const args = ['compose', ...files.flatMap((f) => ['-f', f]), 'config', '--format', 'json'];
  const r = await run('docker', args, { quiet: true, env: env ?? composeEnv() });
  if (r.code !== 0) throw new Error(`docker compose config: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** cgroup v1 memory of a container: its peak since the last reset, and a reset. */
export function memoryCgroup(id: string): string {
  const parent = process.env['DICE_DOCKER_CGROUP_PARENT'] ?? 'docker';
  return `/sys/fs/cgroup/memory/${parent}/${id}`;
}
