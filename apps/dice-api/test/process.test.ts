// The built app as a process, started the way `npm start` starts it: the instrumentation module
// loaded with --import, configured only by OTEL_* variables, exporting OTLP/HTTP to a receiver.
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startAppProcess, waitForExit, type AppProcess } from './support/app-process.js';
import { OtlpReceiver } from './support/otlp-receiver.js';

const OTEL_BASE = {
  OTEL_SERVICE_NAME: 'dice-api',
  OTEL_RESOURCE_ATTRIBUTES: 'service.version=1.2.3,deployment.environment.name=test,service.instance.id=replica-test',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
};

const traceparent = (traceId: string) => `00-${traceId}-00f067aa0ba902b7-01`;
const randomTraceId = () => crypto.randomUUID().replaceAll('-', '');

describe('the app process', () => {
  const receiver = new OtlpReceiver();
  let endpoint: string;
  let proc: AppProcess | undefined;

  beforeAll(async () => {
    endpoint = await receiver.start();
  });
  afterAll(() => receiver.stop());
  afterEach(() => {
    if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
    proc = undefined;
  });

  it('exports spans and log records over OTLP/HTTP with its resource, and on SIGTERM flushes what is pending before exiting 0', async () => {
    proc = await startAppProcess({
      ...OTEL_BASE,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      // Nothing would be exported for a minute: only the shutdown flush can deliver these.
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      OTEL_BLRP_SCHEDULE_DELAY: '60000',
    });
    const ok = randomTraceId();
    const bad = randomTraceId();
    expect((await fetch(`${proc.baseUrl}/roll?dice=2&sides=12`, { headers: { traceparent: traceparent(ok) } })).status).toBe(200);
    expect((await fetch(`${proc.baseUrl}/roll?dice=2`, { headers: { traceparent: traceparent(bad) } })).status).toBe(400);
    expect(receiver.spans.filter((s) => s.traceId === ok)).toHaveLength(0);

    proc.child.kill('SIGTERM');
    expect(await waitForExit(proc)).toBe(0);

    const okSpans = receiver.spans.filter((s) => s.traceId === ok);
    const server = okSpans.find((s) => s.kind === 2 /* SERVER */);
    expect(server, `spans of ${ok}: ${okSpans.map((s) => s.name).join(', ')}`).toBeDefined();
    expect(server!.attributes).toMatchObject({ 'http.route': '/roll', 'http.response.status_code': 200 });
    expect(server!.resource).toMatchObject({
      'service.name': 'dice-api',
      'service.version': '1.2.3',
      'deployment.environment.name': 'test',
      'service.instance.id': 'replica-test',
    });
    expect(okSpans.map((s) => s.name)).toContain('dice.roll');

    const accessLogs = receiver.logs.filter((r) => r.attributes['context'] === 'AccessLog');
    const okLog = accessLogs.find((r) => r.traceId === ok);
    expect(okLog, 'access log of the 200 over OTLP').toBeDefined();
    expect(okLog!.attributes).toMatchObject({ 'http.route': '/roll', 'http.response.status_code': 200 });
    expect(okLog!.resource['service.instance.id']).toBe('replica-test');
    expect(accessLogs.find((r) => r.traceId === bad)?.attributes['http.response.status_code']).toBe(400);
    expect(receiver.logs.some((r) => String(r.body).includes('flushing telemetry'))).toBe(true);
  });

  it('with ACCESS_LOG_STDOUT=false writes no access log line to stdout, and still sends each record over OTLP', async () => {
    proc = await startAppProcess({ ...OTEL_BASE, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BLRP_SCHEDULE_DELAY: '60000', ACCESS_LOG_STDOUT: 'false' });
    const id = randomTraceId();
    expect((await fetch(`${proc.baseUrl}/roll?dice=1&sides=6`, { headers: { traceparent: traceparent(id) } })).status).toBe(200);
    proc.child.kill('SIGTERM');
    expect(await waitForExit(proc)).toBe(0);
    expect(receiver.logs.find((r) => r.traceId === id && r.attributes['context'] === 'AccessLog'), 'access log over OTLP').toBeDefined();
    const stdout = proc.output().split('\n');
    expect(stdout.some((l) => l.includes('"dice-api listening"')), 'the other lines stay on stdout').toBe(true);
    expect(stdout.filter((l) => l.includes('"AccessLog"'))).toEqual([]);
  });

  it('keeps serving with no collector reachable, and says once that export fails', async () => {
    const closedPort = await freePort();
    proc = await startAppProcess({
      ...OTEL_BASE,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closedPort}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
      // Give up on each export quickly (retries included), so that many fail within the test.
      OTEL_EXPORTER_OTLP_TIMEOUT: '300',
    });
    // About 4 s of traffic: a dozen or more failed exports of spans and of logs.
    for (let i = 0; i < 80; i++) {
      expect((await fetch(`${proc.baseUrl}/`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const warnings = proc.output().split('\n').filter((l) => l.includes('OpenTelemetry export is failing'));
    expect(warnings, proc.output().slice(-2000)).toHaveLength(1);
    proc.child.kill('SIGTERM');
    expect(await waitForExit(proc)).toBe(0);
  });

  it('serves fault injection on the admin port only, logs each change, and applies it to public traffic', async () => {
    proc = await startAppProcess({ ...OTEL_BASE, OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' });
    expect((await fetch(`${proc.baseUrl}/faults`)).status).toBe(404);

    const put = await fetch(`${proc.adminUrl}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRatio: 1 }),
    });
    expect(await put.json()).toEqual({ errorRatio: 1, latencyMs: 0, jitterMs: 0, bias: 0 });
    const failed = await fetch(`${proc.baseUrl}/roll?dice=1&sides=6`);
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as { type: string }).type).toBe('/problems/injected-fault');
    const metrics = await (await fetch(`${proc.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^dice_faults_error_ratio(_ratio)?\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^dice_faults_active(_ratio)?\{[^}]*\} 1$/m);

    const refused = await fetch(`${proc.adminUrl}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRatio: 2, colour: 'red' }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { "invalid-params": { name: string }[] })["invalid-params"].map((p: { name: string }) => p.name).sort()).toEqual(['colour', 'errorRatio']);

    expect((await fetch(`${proc.adminUrl}/faults`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${proc.baseUrl}/roll?dice=1&sides=6`)).status).toBe(200);
    const changes = proc.output().split('\n').filter((l) => l.includes('"fault injection changed"'));
    expect(changes).toHaveLength(2);
    expect(JSON.parse(changes[0]!)).toMatchObject({ origin: 'admin-api', current: { errorRatio: 1 } });
  });

  it('reports readiness false while draining after SIGTERM', async () => {
    proc = await startAppProcess({ ...OTEL_BASE, OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', SHUTDOWN_DRAIN_MS: '1500' });
    proc.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ready = await fetch(`${proc.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await ready.json()) as { checks: Record<string, unknown> }).checks["lifecycle"]).toEqual({ status: 'down', state: 'draining' });
    expect((await fetch(`${proc.baseUrl}/health/live`)).status).toBe(200);
    expect(await waitForExit(proc)).toBe(0);
  });

  it('refuses to start with a bad setting and names it', () => {
    const result = spawnSync(
      process.execPath,
      ['--import', './dist/apps/dice-api/src/instrumentation.js', './dist/apps/dice-api/src/main.js'],
      { env: { PATH: process.env.PATH ?? '', PORT: 'eighty', OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' }, encoding: 'utf8', timeout: 15_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/PORT must be a whole number from 1 to 65535, got "eighty"/);
  });
});
