// The native stack: the same config files as docker-compose.yml, run against real binaries built
// from source (scripts/native/build-backends.sh), for machines without a Docker engine (tests,
// CI). `npm run stack` starts it and prints where to look; the e2e tests start it too.
//
// Host names and ports are the compose ones, so configs do not fork: every service gets its own
// loopback address, and every process runs in a private mount namespace where /etc/hosts maps
// the compose service names to those addresses (unshare + bind mount; needs root, as CI is).
// A dnsmasq serves the same names (scripts/native/dns.ts) and the same mount puts it in each
// process's /etc/resolv.conf, as Docker's embedded DNS is in compose: HAProxy re-resolves the
// replicas through it, so a replica that comes back on another address is found again.
// Tempo, Loki, Grafana and cAdvisor do not run natively (see README); their names point at
// addresses where nothing listens.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dnsmasqCommand, resolvConf, resolvesTo } from './dns.ts';
import { composeReplicaEnv, replicaNodeArgs } from './replica-env.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Loopback address of each compose service name. DICE_STACK_SUBNET (default 127.0.1) lets two
 * stacks run side by side on one machine, e.g. a developer's and a test's.
 */
const SUBNET = process.env.DICE_STACK_SUBNET ?? '127.0.1';
if (!/^127\.\d{1,3}\.\d{1,3}$/.test(SUBNET)) throw new Error(`DICE_STACK_SUBNET must look like 127.0.1, got "${SUBNET}"`);
export const HOSTS = {
  'load-balancer': `${SUBNET}.1`,
  'dice-api-1': `${SUBNET}.11`,
  'dice-api-2': `${SUBNET}.12`,
  'otel-collector': `${SUBNET}.20`,
  prometheus: `${SUBNET}.30`,
  alertmanager: `${SUBNET}.31`,
  'node-exporter': `${SUBNET}.32`,
  'alert-webhook': `${SUBNET}.33`,
  tempo: `${SUBNET}.40`,
  loki: `${SUBNET}.41`,
  grafana: `${SUBNET}.42`,
  cadvisor: `${SUBNET}.43`,
  traffic: `${SUBNET}.50`,
} as const;
export type Host = keyof typeof HOSTS;
/** The stack's DNS server (dnsmasq), the native 127.0.0.11; not a compose service, so not in HOSTS. */
export const DNS_ADDRESS = `${SUBNET}.53`;

export const NOT_NATIVE = {
  tempo: 'Tempo is AGPL-licensed and may not be built here; compose runs it',
  loki: 'Loki is AGPL-licensed and may not be built here; compose runs it',
  grafana: 'Grafana is AGPL-licensed and may not be built here; compose runs it',
  cadvisor: 'cAdvisor needs a Docker engine; compose runs it',
} as const;

export interface StackOptions {
  /** Run the traffic generator (scripts/traffic) as compose does. */
  traffic?: boolean;
  /** Where data and logs go; wiped at start. */
  runDir?: string;
  /** Build missing backend binaries instead of failing (`npm run stack`; never in tests). */
  build?: boolean;
  log?: (line: string) => void;
  /**
   * Run test/support/otlp-recorder.ts at tempo:4318 and loki:3100 as the service `otlp-recorder`:
   * a recording stand-in for the network edge of Tempo and Loki (not for them), so that the e2e and
   * fault suites can check what the collector delivers there. Off for `npm run stack`.
   */
  otlpRecorder?: boolean;
  /**
   * Run bench/collector/sink.ts at tempo:4318 and loki:3100 as the service `edge-sink`: a counting
   * stand-in for the network edge of Tempo and Loki that answers every export at once and decodes
   * nothing (the benchmark's stack: with no edge at all, the collector's queues fill within minutes
   * and it refuses what the app exports). Not with otlpRecorder, which listens there too.
   */
  edgeSink?: boolean;
}

export interface Endpoints {
  loadBalancer: string;
  loadBalancerMetrics: string;
  replicas: { name: string; url: string; admin: string }[];
  prometheus: string;
  alertmanager: string;
  collectorHealth: string;
  collectorMetrics: string;
  nodeExporter: string;
  /** The webhook Alertmanager notifies; GET /notifications lists what it received. */
  alertWebhook: string;
}

export interface Stack {
  endpoints: Endpoints;
  runDir: string;
  /** Where the OTLP recorder appends what it received (readRecorded), when it runs. */
  otlpRecorderDir?: string;
  logOf(service: string): string;
  /** Sends a signal to one service (e.g. SIGTERM a replica, SIGSTOP the collector). */
  signal(service: string, signal: NodeJS.Signals): void;
  /** Stops one service as compose would (SIGTERM, then SIGKILL after 15 s). */
  stopService(service: string): Promise<void>;
  /** Starts a stopped service again with the same command, and waits until it is ready. */
  startService(service: string): Promise<void>;
  /**
   * Stops a replica, points its name at `address` in the stack's hosts file and DNS (as compose
   * does when it recreates a container), and starts it there. `endpoints` keep the first address:
   * move it back when done.
   */
  moveService(service: string, address: string): Promise<void>;
  stop(): Promise<void>;
}

interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  ready: string;
}

const readEnvFile = (): Record<string, string> =>
  Object.fromEntries(
    readFileSync(join(ROOT, '.env'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#') && line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

export const endpoints: Endpoints = {
  loadBalancer: `http://${HOSTS['load-balancer']}:80`,
  loadBalancerMetrics: `http://${HOSTS['load-balancer']}:8405/metrics`,
  replicas: (['dice-api-1', 'dice-api-2'] as const).map((name) => ({
    name,
    url: `http://${HOSTS[name]}:8000`,
    admin: `http://${HOSTS[name]}:9000`,
  })),
  prometheus: `http://${HOSTS.prometheus}:9090`,
  alertmanager: `http://${HOSTS.alertmanager}:9093`,
  collectorHealth: `http://${HOSTS['otel-collector']}:13133/`,
  collectorMetrics: `http://${HOSTS['otel-collector']}:8888/metrics`,
  nodeExporter: `http://${HOSTS['node-exporter']}:9100/metrics`,
  alertWebhook: `http://${HOSTS['alert-webhook']}:9094`,
};

/**
 * The backend binaries at the .env versions. `npm run stack` builds what is missing, with
 * build-backends.sh's progress on the terminal; the test suites never do (a cold build takes about
 * 13 minutes, which is `npm run setup`'s visible step), so from them a missing binary fails at once.
 */
function binaries(build: boolean, log: (line: string) => void): Record<string, string> {
  const script = join(ROOT, 'scripts/native/build-backends.sh');
  const check = spawnSync('bash', [script, '--check'], { encoding: 'utf8' });
  if (check.status !== 0) {
    if (!build) throw new Error(`the backends are not built:\n${check.stderr.trim()}`);
    log('building the backend binaries (scripts/native/build-backends.sh)');
    const built = spawnSync('bash', [script], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (built.status !== 0) throw new Error('building the backends failed (see above); re-run scripts/native/build-backends.sh --verbose');
  }
  const paths = spawnSync('bash', [script, '--print-paths'], { encoding: 'utf8' });
  return Object.fromEntries(paths.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
}

function requireHaproxy(): string {
  // Not HAPROXY_VERSION, the compose image's tag: see .env.example.
  const expected = readEnvFile()['HAPROXY_NATIVE_VERSION'] ?? '';
  const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (probe.error) throw new Error('haproxy is not installed: apt-get install -y haproxy (Debian 12 ships the version .env pins)');
  const version = /HAProxy version (\d+\.\d+\.\d+)/.exec(probe.stdout)?.[1] ?? 'unknown';
  if (!version.startsWith(expected)) throw new Error(`haproxy ${version} does not match HAPROXY_NATIVE_VERSION=${expected} in .env`);
  return 'haproxy';
}

function services(bin: Record<string, string>, runDir: string, traffic: boolean): ServiceSpec[] {
  const node = process.execPath;
  const replica = (name: 'dice-api-1' | 'dice-api-2'): ServiceSpec => ({
    name,
    command: node,
    args: replicaNodeArgs(),
    // The replica's environment in docker-compose.yml, on this stack's addresses; batches are
    // sent every second instead of every 5 s so that tests see traces and logs sooner.
    env: {
      ...composeReplicaEnv(),
      HOST: HOSTS[name],
      ADMIN_HOST: HOSTS[name],
      SHUTDOWN_DRAIN_MS: '3000',
      OTEL_RESOURCE_ATTRIBUTES: `service.version=1.0.0,deployment.environment.name=native,service.instance.id=${name}`,
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_BLRP_SCHEDULE_DELAY: '1000',
    },
    ready: `http://${HOSTS[name]}:8000/health/ready`,
  });
  const specs: ServiceSpec[] = [
    {
      name: 'node-exporter',
      command: bin['node_exporter']!,
      args: [`--web.listen-address=${HOSTS['node-exporter']}:9100`],
      ready: endpoints.nodeExporter,
    },
    {
      name: 'prometheus',
      command: bin['prometheus']!,
      args: [
        `--config.file=${join(ROOT, 'observability/prometheus/prometheus.yml')}`,
        `--storage.tsdb.path=${join(runDir, 'prometheus')}`,
        `--web.listen-address=${HOSTS.prometheus}:9090`,
        ...readFileSync(join(ROOT, 'observability/prometheus/flags.txt'), 'utf8').split('\n').filter((l) => l.startsWith('--')),
      ],
      ready: `${endpoints.prometheus}/-/ready`,
    },
    {
      name: 'alertmanager',
      command: bin['alertmanager']!,
      args: [
        `--config.file=${join(ROOT, 'observability/alertmanager/alertmanager.yml')}`,
        `--storage.path=${join(runDir, 'alertmanager')}`,
        `--web.listen-address=${HOSTS.alertmanager}:9093`,
        '--cluster.listen-address=',
      ],
      ready: `${endpoints.alertmanager}/-/ready`,
    },
    {
      name: 'alert-webhook',
      command: node,
      args: [join(ROOT, 'scripts/alert-webhook/server.mjs')],
      env: { LISTEN_HOST: HOSTS['alert-webhook'], PORT: '9094' },
      ready: `http://${HOSTS['alert-webhook']}:9094/health`,
    },
    {
      name: 'otel-collector',
      command: bin['otelcol-dice']!,
      args: [`--config=${join(ROOT, 'otel-collector/config.yaml')}`],
      env: { LISTEN_HOST: HOSTS['otel-collector'], OTELCOL_STORAGE_DIR: join(runDir, 'otelcol/queues') },
      ready: endpoints.collectorHealth,
    },
    replica('dice-api-1'),
    replica('dice-api-2'),
    {
      name: 'load-balancer',
      command: requireHaproxy(),
      args: ['-db', '-f', join(ROOT, 'observability/haproxy/haproxy.cfg')],
      env: { LISTEN_HOST: HOSTS['load-balancer'] },
      ready: `${endpoints.loadBalancer}/health/ready`,
    },
  ];
  if (traffic) {
    specs.push({
      name: 'traffic',
      command: node,
      args: [join(ROOT, 'scripts/traffic/traffic.mjs')],
      env: { TARGET_URL: 'http://load-balancer', TRAFFIC_RATE: readEnvFile()['TRAFFIC_RATE'] ?? '20' },
      ready: '',
    });
  }
  return specs;
}

/** The recording stand-in for Tempo's and Loki's network edge (StackOptions.otlpRecorder). */
function otlpRecorderService(runDir: string): ServiceSpec {
  return {
    name: 'otlp-recorder',
    command: process.execPath,
    args: [join(ROOT, 'test/support/otlp-recorder.ts')],
    env: { OTLP_RECORDER_DIR: join(runDir, 'otlp-recorder'), TEMPO_HOST: HOSTS.tempo, LOKI_HOST: HOSTS.loki },
    ready: `http://${HOSTS.loki}:3100/ready`,
  };
}

/** The counting stand-in for Tempo's and Loki's network edge (StackOptions.edgeSink). */
function edgeSinkService(): ServiceSpec {
  const control = `${HOSTS.tempo}:7000`;
  return {
    name: 'edge-sink',
    command: process.execPath,
    args: [join(ROOT, 'bench/collector/sink.ts')],
    env: { TEMPO_ADDR: HOSTS.tempo, LOKI_ADDR: HOSTS.loki, CONTROL: control },
    ready: `http://${control}/stats`,
  };
}

async function waitUntilReady(url: string, name: string, child: ChildProcess, logFile: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${name} exited with code ${child.exitCode} while starting; its log (${logFile}):\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} was not ready at ${url} after ${timeoutMs / 1000} s; its log (${logFile}):\n${tail(logFile)}`);
}

/** A stack whose runner died without stopping it (killed, crashed) is stopped before starting anew. */
async function stopStale(runDir: string, log: (line: string) => void) {
  const pidFile = join(runDir, 'pids');
  if (!existsSync(pidFile)) return;
  for (const line of readFileSync(pidFile, 'utf8').split('\n').filter(Boolean)) {
    const [pid, name] = line.split(' ');
    try {
      process.kill(Number(pid), 0);
    } catch {
      continue; // already gone
    }
    log(`  stopping ${name} (pid ${pid}) left running by an earlier stack`);
    process.kill(Number(pid), 'SIGKILL');
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}

/** Fails early, naming the address, when something else already listens where a service will. */
async function assertAddressesFree() {
  const { createConnection } = await import('node:net');
  const taken = async (host: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
  const planned: [string, number][] = [
    [HOSTS['load-balancer'], 80],
    [HOSTS['load-balancer'], 8405],
    [HOSTS['dice-api-1'], 8000],
    [HOSTS['dice-api-2'], 8000],
    [HOSTS['otel-collector'], 4318],
    [HOSTS['otel-collector'], 8888],
    [HOSTS.prometheus, 9090],
    [HOSTS.alertmanager, 9093],
    [HOSTS['node-exporter'], 9100],
    [HOSTS['alert-webhook'], 9094],
  ];
  for (const [host, port] of planned) {
    if (await taken(host, port)) {
      throw new Error(`something already listens on ${host}:${port}; another stack or server is running there (stop it, then retry)`);
    }
  }
}

function tail(file: string, lines = 30): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '(no log)';
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const runDir = options.runDir ?? process.env.DICE_STACK_RUN ?? `/tmp/dice-stack-run-${SUBNET}`;
  if (process.getuid?.() !== 0) throw new Error('the native stack needs root (private mount namespaces for /etc/hosts, port 80)');
  if (!existsSync(join(ROOT, 'dist/apps/dice-api/src/main.js'))) throw new Error('dice-api is not built: run `npm run build` first');

  await stopStale(runDir, log);
  await assertAddressesFree();
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(join(runDir, 'logs'), { recursive: true });
  const hostsFile = join(runDir, 'hosts');
  const addresses: Record<string, string> = { ...HOSTS };
  // Rewritten in place, never replaced: every namespace's /etc/hosts is a bind mount of this inode.
  const writeHosts = () =>
    writeFileSync(hostsFile, ['127.0.0.1 localhost', ...Object.entries(addresses).map(([name, ip]) => `${ip} ${name}`)].join('\n') + '\n');
  writeHosts();
  const resolvFile = join(runDir, 'resolv.conf');
  writeFileSync(resolvFile, resolvConf(DNS_ADDRESS));

  const bin = binaries(options.build ?? false, log);
  const specs = services(bin, runDir, options.traffic ?? false);
  // Before the collector, so that its first exports find the edge up.
  if (options.otlpRecorder && options.edgeSink) throw new Error('otlpRecorder and edgeSink both listen at tempo and loki: choose one');
  if (options.otlpRecorder) specs.unshift(otlpRecorderService(runDir));
  if (options.edgeSink) specs.unshift(edgeSinkService());
  const running = new Map<string, { spec: ServiceSpec; child: ChildProcess }>();
  const logOf = (name: string) => join(runDir, 'logs', `${name}.log`);

  const launch = async (spec: ServiceSpec) => {
    const started = Date.now();
    const out = createWriteStream(logOf(spec.name), { flags: 'a' });
    // unshare execs the service itself (no --fork), so signals reach it directly.
    const child = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf && shift && exec "$@"`, hostsFile, resolvFile, spec.command, ...spec.args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    running.set(spec.name, { spec, child });
    writeFileSync(join(runDir, 'pids'), [...running.values()].map((r) => `${r.child.pid} ${r.spec.name}`).join('\n'));
    if (spec.ready) await waitUntilReady(spec.ready, spec.name, child, logOf(spec.name));
    log(`  ${spec.name.padEnd(15)} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };

  const stopOne = async (name: string, timeoutMs = 15_000) => {
    const entry = running.get(name);
    if (!entry || entry.child.exitCode !== null || entry.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => entry.child.once('exit', () => resolve()));
    entry.child.kill('SIGCONT');
    entry.child.kill('SIGTERM');
    const timer = setTimeout(() => entry.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };

  const stack: Stack = {
    endpoints,
    runDir,
    ...(options.otlpRecorder ? { otlpRecorderDir: join(runDir, 'otlp-recorder') } : {}),
    logOf,
    signal: (name, signal) => {
      const entry = running.get(name);
      if (!entry) throw new Error(`no service ${name}`);
      entry.child.kill(signal);
    },
    stopService: (name) => {
      if (!running.has(name)) throw new Error(`no service ${name}`);
      return stopOne(name);
    },
    startService: async (name) => {
      const entry = running.get(name);
      if (!entry) throw new Error(`no service ${name}`);
      await stopOne(name);
      await launch(entry.spec);
    },
    moveService: async (name, address) => {
      const entry = running.get(name);
      const from = addresses[name];
      if (!entry || !from || !/^dice-api-\d$/.test(name)) throw new Error(`only a replica can move, not ${name}`);
      await stopOne(name);
      addresses[name] = address;
      writeHosts();
      running.get('dns')!.child.kill('SIGHUP');
      await waitForDns(name, address);
      // The replica's settings name its own address (HOST, ADMIN_HOST) and so does its readiness URL.
      const env = Object.fromEntries(Object.entries(entry.spec.env ?? {}).map(([k, v]) => [k, v === from ? address : v]));
      await launch({ ...entry.spec, env, ready: entry.spec.ready.replace(`//${from}:`, `//${address}:`) });
    },
    stop: async () => {
      for (const name of [...running.keys()].reverse()) await stopOne(name);
    },
  };

  const waitForDns = async (name: string, address: string) => {
    const dns = running.get('dns')!.child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      // Waits first: dnsmasq exits at once when its address is taken, perhaps by another dnsmasq that answers.
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (dns.exitCode === null && (await resolvesTo(DNS_ADDRESS, name, address))) return;
      if (dns.exitCode !== null || Date.now() > deadline) {
        throw new Error(`dnsmasq on ${DNS_ADDRESS}:53 does not answer ${name} -> ${address}; its log (${logOf('dns')}):\n${tail(logOf('dns'))}`);
      }
    }
  };

  log(`starting the native stack in ${runDir}`);
  try {
    await launch({ name: 'dns', ...dnsmasqCommand(DNS_ADDRESS, hostsFile), ready: '' });
    await waitForDns('load-balancer', HOSTS['load-balancer']);
    for (const spec of specs) await launch(spec);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}

export function describeEndpoints(): string {
  const e = endpoints;
  return [
    `  load balancer   ${e.loadBalancer}/            (the API: /, /roll, /docs, /metrics)`,
    `  replicas        ${e.replicas.map((r) => r.url).join('  ')}   admin: ${e.replicas.map((r) => r.admin).join('  ')}`,
    `  prometheus      ${e.prometheus}/`,
    `  alertmanager    ${e.alertmanager}/`,
    `  collector       ${e.collectorHealth} (health)  ${e.collectorMetrics}`,
    `  node-exporter   ${e.nodeExporter}`,
    `  alert webhook   ${e.alertWebhook}/notifications`,
    `  HAProxy metrics ${e.loadBalancerMetrics}`,
    `  DNS             ${DNS_ADDRESS}:53 (dnsmasq: the stack's names, as Docker's 127.0.0.11 in compose)`,
    ...Object.entries(NOT_NATIVE).map(([name, why]) => `  ${name.padEnd(15)} not run natively: ${why}`),
  ].join('\n');
}

async function main() {
  const started = Date.now();
  const stack = await startStack({ traffic: process.env.TRAFFIC_RATE !== '0', build: true });
  console.log(`\nnative stack up in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${stack.runDir}/logs\n${describeEndpoints()}\n\nCtrl-C stops everything.`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the native stack...');
    await stack.stop();
    console.log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(`\nthe native stack failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
