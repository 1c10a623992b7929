// Where `npm run verify` looks, per stack: docker compose's published ports (from .env, as compose
// reads it), the native stack's loopback addresses (scripts/native/stack.ts), or the URLs given for a
// cluster; and, per stack, what to check when a hop is broken.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StackKind, VerifyOptions } from './args.ts';

export type HopKey = 'balancer' | 'metric' | 'exemplar' | 'trace' | 'logs' | 'alertmanager';

export interface VerifyTargets {
  stack: StackKind;
  /** One line on where the addresses came from. */
  origin: string;
  lb: string;
  prometheus: string;
  tempo?: string;
  loki?: string;
  alertmanager?: string;
  /** Compose publishes no Alertmanager port: then the hop asks Prometheus about it. */
  alertmanagerViaPrometheus: boolean;
  recorder?: string;
  /** Why a backend has no URL (its hop is skipped with this reason). */
  absent: Partial<Record<'tempo' | 'loki' | 'alertmanager', string>>;
  hints: Record<HopKey, string>;
  /** What to do when nothing answers at all. */
  notRunning: string;
}

/** KEY=VALUE lines of a dotenv file, as docker compose reads .env (no quoting in this project's). */
export function readDotenv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#') && line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** The address to connect to for a port published on `address` (compose's `ADDRESS:PORT:PORT`). */
export function connectHost(address: string): string {
  if (address === '' || address === '0.0.0.0') return '127.0.0.1';
  if (address === '::' || address === '[::]') return '[::1]';
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

function composeTargets(root: string, env: NodeJS.ProcessEnv): Omit<VerifyTargets, 'recorder' | 'stack'> {
  // Compose takes a variable from the shell before .env.
  const fromShell = env['PUBLISH_ADDRESS'] !== undefined;
  const dotenv = readDotenv(join(root, '.env'));
  const publish = env['PUBLISH_ADDRESS'] ?? dotenv['PUBLISH_ADDRESS'] ?? '127.0.0.1';
  const host = connectHost(publish);
  // The balancer's own address and port (LB_ADDRESS, LB_PORT: port 8000 under rootless Docker).
  const lbAddress = env['LB_ADDRESS'] ?? dotenv['LB_ADDRESS'] ?? '0.0.0.0';
  const lbPort = env['LB_PORT'] ?? dotenv['LB_PORT'] ?? '80';
  const logs = (...services: string[]) => `docker compose logs --tail 50 ${services.join(' ')}`;
  return {
    origin: `compose's published ports (PUBLISH_ADDRESS=${publish} from ${fromShell ? 'the environment' : '.env'}; the balancer on ${lbAddress}:${lbPort})`,
    lb: `http://${connectHost(lbAddress)}:${lbPort}`,
    prometheus: `http://${host}:9090`,
    tempo: `http://${host}:3200`,
    loki: `http://${host}:3100`,
    alertmanagerViaPrometheus: true,
    absent: {},
    hints: {
      balancer: `\`docker compose ps\` (load-balancer, dice-api-1 and dice-api-2 should be healthy), then \`${logs('load-balancer', 'dice-api-1', 'dice-api-2')}\``,
      metric: `the collector scrapes the replicas and pushes to Prometheus over OTLP: \`${logs('otel-collector')}\` (scrape or export errors), \`${logs('prometheus')}\``,
      exemplar: `spans reach the collector's span_metrics connector, then Prometheus (--enable-feature=exemplar-storage): \`${logs('otel-collector', 'dice-api-1')}\``,
      trace: `the collector exports spans to Tempo: \`${logs('otel-collector', 'tempo')}\``,
      logs: `the collector exports logs to Loki: \`${logs('otel-collector', 'loki')}\``,
      alertmanager: `\`docker compose ps alertmanager\` and \`${logs('alertmanager')}\``,
    },
    notRunning: 'start it with `docker compose up -d` (or see `docker compose ps`), then run this again',
  };
}

async function nativeTargets(env: NodeJS.ProcessEnv): Promise<Omit<VerifyTargets, 'recorder' | 'stack'>> {
  // Imported only here: it validates DICE_STACK_SUBNET when loaded.
  const { endpoints, HOSTS, NOT_NATIVE } = await import('../native/stack.ts');
  const subnet = HOSTS['load-balancer'].replace(/\.\d+$/, '');
  // As scripts/native/stack.ts's startStack() picks its run directory.
  const runDir = env['DICE_STACK_RUN'] ?? `/tmp/dice-stack-run-${subnet}`;
  const log = (...services: string[]) => services.map((name) => `${runDir}/logs/${name}.log`).join(', ');
  return {
    origin: `the native stack's addresses (scripts/native/stack.ts, subnet ${subnet})`,
    lb: endpoints.loadBalancer,
    prometheus: endpoints.prometheus,
    alertmanager: endpoints.alertmanager,
    alertmanagerViaPrometheus: false,
    absent: { tempo: NOT_NATIVE.tempo, loki: NOT_NATIVE.loki },
    hints: {
      balancer: `the native stack's logs: ${log('load-balancer', 'dice-api-1', 'dice-api-2')}`,
      metric: `the collector scrapes the replicas and pushes to Prometheus over OTLP: ${log('otel-collector', 'prometheus')}`,
      exemplar: `spans reach the collector's span_metrics connector, then Prometheus: ${log('otel-collector', 'dice-api-1')}`,
      trace: `the collector exports spans toward Tempo: ${log('otel-collector')}`,
      logs: `the collector exports logs toward Loki: ${log('otel-collector')}`,
      alertmanager: `is Alertmanager up at that address? its log: ${log('alertmanager')}`,
    },
    notRunning: 'start it with `npm run stack` (as root), then run this again',
  };
}

function clusterTargets(): Omit<VerifyTargets, 'recorder' | 'stack' | 'lb' | 'prometheus'> {
  const agent = 'the collector agent on the node of the replica that answered (`kubectl logs` of the chart\'s <release>-otel-agent DaemonSet pods)';
  return {
    origin: 'the URLs given',
    alertmanagerViaPrometheus: false,
    absent: { tempo: 'no --tempo URL given', loki: 'no --loki URL given', alertmanager: 'no --alertmanager URL given' },
    hints: {
      balancer: 'the edge and API pods: `kubectl get pods` in the chart\'s namespace (ready?), and the --lb URL (a port-forward still running?)',
      metric: `${agent}: scrape or export errors`,
      exemplar: `${agent}: span export errors; and Prometheus's exemplar storage (kube-prometheus-stack values)`,
      trace: `${agent}: export errors toward Tempo's distributor; then Tempo's distributor and live-store logs`,
      logs: `${agent}: export errors toward Loki; then Loki's distributor logs`,
      alertmanager: "Alertmanager's pods and Prometheus's alerting config (Prometheus > Status > Runtime & Build Information)",
    },
    notRunning: 'check the URLs (are the port-forwards running?), then run this again',
  };
}

export async function resolveTargets(options: VerifyOptions, root: string, env: NodeJS.ProcessEnv = process.env): Promise<VerifyTargets> {
  const base =
    options.stack === 'compose'
      ? composeTargets(root, env)
      : options.stack === 'native'
        ? await nativeTargets(env)
        : { ...clusterTargets(), lb: options.urls.lb!, prometheus: options.urls.prometheus! };
  const t: VerifyTargets = { ...base, stack: options.stack, absent: { ...base.absent }, hints: { ...base.hints } };
  const u = options.urls;
  if (u.lb) t.lb = u.lb;
  if (u.prometheus) t.prometheus = u.prometheus;
  for (const key of ['tempo', 'loki', 'alertmanager'] as const) {
    if (u[key]) {
      t[key] = u[key];
      delete t.absent[key];
    }
  }
  if (u.alertmanager) t.alertmanagerViaPrometheus = false;
  if (options.recorder) {
    t.recorder = options.recorder;
    delete t.tempo;
    delete t.loki;
    delete t.absent.tempo;
    delete t.absent.loki;
    const where = `the recorder's output in ${options.recorder} (is it running, and is that its OTLP_RECORDER_DIR?) and the collector's log`;
    t.hints.trace = `the collector's otlp_http/tempo exporter delivers to the OTLP recorder standing in for Tempo: ${where}`;
    t.hints.logs = `the collector's otlp_http/loki exporter delivers to the OTLP recorder standing in for Loki: ${where}`;
  } else if (options.stack === 'native') {
    const how = 'pass --recorder DIR to check what the collector delivers to the OTLP recorder in its place';
    if (t.absent.tempo) t.absent.tempo += `; ${how}`;
    if (t.absent.loki) t.absent.loki += `; ${how}`;
  }
  return t;
}
