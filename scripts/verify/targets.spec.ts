import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseVerifyArgs } from './args.ts';
import { connectHost, resolveTargets } from './targets.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const resolve = (argv: string[], env: NodeJS.ProcessEnv = {}) => resolveTargets(parseVerifyArgs(argv), ROOT, env);

describe('connectHost', () => {
  it('connects to loopback for a port published on every interface', () => {
    expect(connectHost('0.0.0.0')).toBe('127.0.0.1');
    expect(connectHost('')).toBe('127.0.0.1');
    expect(connectHost('::')).toBe('[::1]');
    expect(connectHost('192.168.1.5')).toBe('192.168.1.5');
    expect(connectHost('fd00::5')).toBe('[fd00::5]');
  });
});

describe('resolveTargets', () => {
  it("uses compose's published ports, PUBLISH_ADDRESS from .env, and Alertmanager through Prometheus", async () => {
    const t = await resolve([]);
    expect(t).toMatchObject({
      lb: 'http://127.0.0.1:80',
      prometheus: 'http://127.0.0.1:9090',
      tempo: 'http://127.0.0.1:3200',
      loki: 'http://127.0.0.1:3100',
      alertmanagerViaPrometheus: true,
    });
    expect(t.alertmanager).toBeUndefined();
    expect(t.origin).toMatch(/PUBLISH_ADDRESS=127\.0\.0\.1 from \.env/);
    expect(t.hints.trace).toBe('the collector exports spans to Tempo: `docker compose logs --tail 50 otel-collector tempo`');
  });

  it("takes the balancer's LB_ADDRESS and LB_PORT from the environment first (rootless Docker: port 8000)", async () => {
    const t = await resolve([], { LB_PORT: '8000', LB_ADDRESS: '127.0.0.2' });
    expect(t.lb).toBe('http://127.0.0.2:8000');
    expect(t.origin).toMatch(/the balancer on 127\.0\.0\.2:8000/);
  });

  it('takes PUBLISH_ADDRESS from the environment first, as compose does', async () => {
    const t = await resolve([], { PUBLISH_ADDRESS: '10.0.0.7' });
    expect(t.prometheus).toBe('http://10.0.0.7:9090');
    expect(t.origin).toMatch(/from the environment/);
  });

  it('puts the OTLP recorder in place of Tempo and Loki and says so in the hints', async () => {
    const t = await resolve(['--recorder', '/tmp/rec']);
    expect(t.tempo).toBeUndefined();
    expect(t.loki).toBeUndefined();
    expect(t.recorder).toBe('/tmp/rec');
    expect(t.hints.trace).toMatch(/OTLP recorder standing in for Tempo: the recorder's output in \/tmp\/rec/);
  });

  it("uses the native stack's addresses and says why Tempo and Loki are absent there", async () => {
    const t = await resolve(['--stack', 'native']);
    expect(t.lb).toMatch(/^http:\/\/127\.\d+\.\d+\.1:80$/);
    expect(t.alertmanager).toMatch(/:9093$/);
    expect(t.alertmanagerViaPrometheus).toBe(false);
    expect(t.absent.tempo).toMatch(/AGPL.*pass --recorder DIR/);
    expect(t.hints.balancer).toMatch(/\/logs\/load-balancer\.log/);
  });

  it('uses only the given URLs for a cluster, and says which are missing', async () => {
    const t = await resolve(['--lb', 'http://lb', '--prometheus', 'http://prom', '--loki', 'http://loki']);
    expect(t).toMatchObject({ stack: 'cluster', lb: 'http://lb', prometheus: 'http://prom', loki: 'http://loki', alertmanagerViaPrometheus: false });
    expect(t.absent).toEqual({ tempo: 'no --tempo URL given', alertmanager: 'no --alertmanager URL given' });
  });

  it('lets a given Alertmanager URL replace the check through Prometheus', async () => {
    const t = await resolve(['--alertmanager', 'http://127.0.0.1:9093']);
    expect(t.alertmanagerViaPrometheus).toBe(false);
    expect(t.alertmanager).toBe('http://127.0.0.1:9093');
  });
});
