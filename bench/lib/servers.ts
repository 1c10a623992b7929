// The servers under test, each started pinned with taskset (the pid is the server's: taskset
// execs it), with its output in a log file, and stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeReplicaEnv, replicaMemLimitBytes, replicaNodeArgs } from '../../scripts/native/replica-env.ts';
import { FLASK_DIR, type FlaskVenv } from './flask-venv.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
const NODE = process.execPath;

export interface ServerSpec {
  /** Variant name, also the log file's name and the span resource's service.instance.id. */
  name: string;
  kind: 'node' | 'flask';
  /** Node: load the SDK with --import instrumentation.js. */
  instrumented?: boolean;
  /** Node: OTEL_TRACES_SAMPLER_ARG for parentbased_traceidratio; unset samples every request. */
  sampleRatio?: number;
  /** Flask: gunicorn workers. */
  workers?: number;
  /** Flask: gunicorn threads per worker; set, it uses the gthread worker (keeps connections alive). */
  threads?: number;
  /** taskset CPU list. */
  cpus: string;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Node: the checkout whose dist/ and node_modules/ it runs (--baseline); this one by default. */
  root?: string;
  /** Node, instrumented: this module instead of the Dockerfile's instrumentation module (--import). */
  importModule?: string;
  /**
   * Node: OpenTelemetry's zero-code set-up instead of ours: `--require
   * @opentelemetry/auto-instrumentations-node/register` with its defaults; of the OTEL_* variables
   * only OTEL_SERVICE_NAME (`serviceName`) and OTEL_EXPORTER_OTLP_ENDPOINT are set.
   */
  zeroCode?: { serviceName: string };
  /** Node: changes to the replica's environment, applied last; null removes a variable. */
  env?: Record<string, string | null>;
}

export interface RunningServer {
  spec: ServerSpec;
  pid: number;
  /** Base URL, e.g. http://127.0.4.101:8000 */
  url: string;
  child: ChildProcess;
  logFile: string;
}

export interface ServerContext {
  host: string;
  logDir: string;
  /** OTLP/HTTP endpoint of the collector the instrumented servers export to. */
  otlpEndpoint: string;
  flask?: FlaskVenv;
}

export async function startServer(spec: ServerSpec, context: ServerContext): Promise<RunningServer> {
  mkdirSync(context.logDir, { recursive: true });
  const logFile = join(context.logDir, `${spec.name}.log`);
  const out = openSync(logFile, 'w');
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
  let command: string;
  let args: string[];
  let env: Record<string, string>;
  let ready: string;
  const port = 8000;
  if (spec.kind === 'node') {
    // The replica's environment in docker-compose.yml (x-dice-api-env: Node flags, OTEL_* settings)
    // of the checkout that runs, on a bench address. Uninstrumented, the OTEL_* ones are inert.
    env = {
      ...base,
      ...composeReplicaEnv(spec.root),
      PORT: String(port),
      HOST: context.host,
      ADMIN_HOST: context.host,
      SHUTDOWN_DRAIN_MS: '0',
      OTEL_RESOURCE_ATTRIBUTES: `service.version=1.0.0,deployment.environment.name=bench,service.instance.id=${spec.name}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: context.otlpEndpoint,
    };
    if (spec.sampleRatio !== undefined) {
      Object.assign(env, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(spec.sampleRatio) });
    }
    if (spec.zeroCode) {
      for (const name of Object.keys(env)) if (name.startsWith('OTEL_')) delete env[name];
      Object.assign(env, { OTEL_SERVICE_NAME: spec.zeroCode.serviceName, OTEL_EXPORTER_OTLP_ENDPOINT: context.otlpEndpoint });
    }
    for (const [name, value] of Object.entries(spec.env ?? {})) {
      if (value === null) delete env[name];
      else env[name] = value;
    }
    // The image's command line (the Dockerfile's CMD) of the checkout that runs: its Node flags
    // apply to both variants; uninstrumented drops the --import of the instrumentation module.
    const nodeArgs = replicaNodeArgs(spec.root);
    const importAt = nodeArgs.indexOf('--import');
    if (importAt === -1) throw new Error(`the Dockerfile's CMD of ${spec.root ?? ROOT} has no --import of the instrumentation module`);
    const bare = nodeArgs.filter((_, i) => i !== importAt && i !== importAt + 1);
    const mainAt = bare.length - 1;
    command = 'taskset';
    args = [
      '-c',
      spec.cpus,
      NODE,
      ...(spec.nodeFlags ?? []),
      ...(spec.zeroCode
        ? [...bare.slice(0, mainAt), '--require', '@opentelemetry/auto-instrumentations-node/register', bare[mainAt]!]
        : spec.instrumented && spec.importModule
          ? nodeArgs.map((arg, i) => (i === importAt + 1 ? spec.importModule! : arg))
          : spec.instrumented
            ? nodeArgs
            : bare),
    ];
    ready = `http://${context.host}:${port}/health/ready`;
  } else {
    if (!context.flask) throw new Error('the Flask venv is not set up');
    const workers = spec.workers ?? 1;
    env = { ...base, PYTHONDONTWRITEBYTECODE: '1' };
    if (workers > 1) {
      const multiproc = join(context.logDir, `${spec.name}.prometheus-multiproc`);
      mkdirSync(multiproc, { recursive: true });
      env['PROMETHEUS_MULTIPROC_DIR'] = multiproc;
    }
    command = 'taskset';
    args = [
      '-c',
      spec.cpus,
      context.flask.gunicorn,
      '--config',
      join(FLASK_DIR, 'gunicorn.conf.py'),
      '--chdir',
      FLASK_DIR,
      '--workers',
      String(workers),
      ...(spec.threads ? ['--worker-class', 'gthread', '--threads', String(spec.threads)] : []),
      // Otherwise every gunicorn of the machine shares ~/.gunicorn/gunicorn.ctl.
      '--no-control-socket',
      '--bind',
      `${context.host}:${port}`,
      'app:app',
    ];
    ready = `http://${context.host}:${port}/`;
  }
  // A Node server runs in a memory cgroup of compose's mem_limit, as in its container: V8 sizes its
  // heap from the cgroup (and the image's --max-old-space-size applies), so the report's RSS is the
  // container's. The shell joins the cgroup, then execs taskset, which execs the server: one pid.
  const cgroup = spec.kind === 'node' ? memoryCgroup(spec.name, replicaMemLimitBytes(spec.root)) : undefined;
  if (cgroup) {
    args = ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`, 'sh', command, ...args];
    command = 'sh';
  }
  const child = spawn(command, args, { cwd: spec.root ?? ROOT, env, stdio: ['ignore', out, out] });
  if (cgroup) child.once('exit', () => setTimeout(() => removeCgroup(cgroup), 100));
  closeSync(out);
  const started = Date.now();
  while (Date.now() - started < 60_000) {
    if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode} while starting; its log (${logFile}):\n${tail(logFile)}`);
    try {
      const res = await fetch(ready, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return { spec, pid: child.pid!, url: `http://${context.host}:${port}`, child, logFile };
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`${spec.name} was not ready at ${ready} after 60 s; its log (${logFile}):\n${tail(logFile)}`);
}

export async function stopServer(server: RunningServer): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A cgroup v1 memory cgroup limited to `bytes` (the machines this runs on have v1: see the README's
 * machine notes); undefined, with the server then unlimited, where there is none to create.
 */
function memoryCgroup(name: string, bytes: number): string | undefined {
  const dir = `/sys/fs/cgroup/memory/dice-bench-${name.replace(/[^\w.-]/g, '_')}-${process.pid}`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
    return dir;
  } catch {
    return undefined;
  }
}

function removeCgroup(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // still has a process (a grandchild); the next run's name differs by pid
  }
}

export function tail(file: string, lines = 20): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '(no log)';
}
