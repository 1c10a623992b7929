import { endpoints as native, HOSTS, NOT_NATIVE } from '../../../scripts/native/stack.ts';

/** Where the e2e tests send traffic and what they query. */
export interface Targets {
  mode: 'native' | 'external' | 'compose';
  loadBalancer: string;
  loadBalancerMetrics?: string;
  /** Fault-injection admin API of each replica (never published in compose: reach it from inside). */
  admins: string[];
  prometheus: string;
  alertmanager?: string;
  /** Absent where the backend cannot run (natively: Tempo and Loki). */
  tempo?: string;
  loki?: string;
  /** Alertmanager's webhook receiver (GET /notifications lists what it received). */
  alertWebhook?: string;
  /** Natively: stops and starts services (test/e2e/support/global-setup.ts). */
  control?: string;
  /** The collector's log, to check it started without deprecation warnings. */
  collectorLog?: string;
  /**
   * Natively: the directory where the recording stand-in for Tempo's and Loki's network edge
   * (test/support/otlp-recorder.ts) appends what the collector delivered to them.
   */
  otlpRecorderDir?: string;
  /** The collector's OTLP/HTTP receiver, to send it spans that no request of the app could make. */
  collectorOtlp?: string;
  /** The collector's own metrics (/metrics on :8888); natively the stack's endpoint. */
  collectorMetrics?: string;
  /** Why a backend is absent, by name. */
  absent: Record<string, string>;
}

export function nativeTargets(collectorLog: string, otlpRecorderDir?: string): Targets {
  return {
    mode: 'native',
    loadBalancer: native.loadBalancer,
    loadBalancerMetrics: native.loadBalancerMetrics,
    admins: native.replicas.map((r) => r.admin),
    prometheus: native.prometheus,
    alertmanager: native.alertmanager,
    alertWebhook: native.alertWebhook,
    collectorLog,
    otlpRecorderDir,
    collectorOtlp: `http://${HOSTS['otel-collector']}:4318`,
    absent: { tempo: NOT_NATIVE.tempo, loki: NOT_NATIVE.loki },
  };
}

/** A running stack elsewhere (compose): URLs from E2E_* variables. */
export function externalTargets(env: NodeJS.ProcessEnv = process.env): Targets {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`E2E_STACK=external needs ${name}`);
    return value;
  };
  const absent: Record<string, string> = {};
  if (!env['E2E_TEMPO_URL']) absent['tempo'] = 'E2E_TEMPO_URL is not set';
  if (!env['E2E_LOKI_URL']) absent['loki'] = 'E2E_LOKI_URL is not set';
  return {
    mode: 'external',
    loadBalancer: env['E2E_LB_URL'] ?? 'http://localhost:80',
    admins: (env['E2E_ADMIN_URLS'] ?? '').split(',').filter(Boolean),
    prometheus: required('E2E_PROMETHEUS_URL'),
    alertmanager: env['E2E_ALERTMANAGER_URL'],
    alertWebhook: env['E2E_ALERT_WEBHOOK_URL'],
    tempo: env['E2E_TEMPO_URL'],
    loki: env['E2E_LOKI_URL'],
    collectorLog: env['E2E_COLLECTOR_LOG'],
    absent,
  };
}
