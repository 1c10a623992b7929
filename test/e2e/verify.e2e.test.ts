// `npm run verify` as a user runs it, against the native stack this suite started: every hop passes
// with the OTLP recorder in place of Tempo and Loki (and the output says so); the trace IDs it
// reports are really at the recorder; and when a hop is broken (the recorder stopped, a dead URL)
// it exits 1 naming that hop. Natively only: it needs the recorder and the control endpoint.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { readRecorded } from '../support/otlp-recorder.ts';

const targets = inject('targets');
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const notNative =
  targets.mode === 'native' && targets.otlpRecorderDir && targets.control
    ? ''
    : ' (skipped: needs the native stack with its OTLP recorder and control endpoint; against compose, test:compose runs it)';

/** `npm run verify -- ARGS`, its output echoed so that a red run shows what the user would see. */
function verify(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'verify', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stdout += d));
    child.on('close', (code) => {
      console.log(`$ npm run verify -- ${args.join(' ')}\n${stdout}(exit ${code})`);
      resolve({ code, stdout });
    });
  });
}

const row = (stdout: string, n: number) => stdout.split('\n').find((line) => line.startsWith(`${String(n).padStart(2)}  `)) ?? `(no row ${n})`;

async function control(action: 'stop' | 'start', service: string) {
  const res = await fetch(`${targets.control}/${action}/${service}`, { method: 'POST' });
  expect(res.status, `${action} ${service}: ${await res.text()}`).toBe(204);
}

describe.skipIf(notNative !== '')(`npm run verify against the native stack${notNative}`, () => {
  const recorder = ['--stack', 'native', '--recorder', targets.otlpRecorderDir ?? ''];

  it('passes every hop, checking the recorder in place of Tempo and Loki and saying so', async () => {
    const { code, stdout } = await verify(recorder);
    expect(stdout).toContain(`(the OTLP recorder in ${targets.otlpRecorderDir} stands in for Tempo and Loki)`);
    expect(row(stdout, 1)).toMatch(/^ 1  balancer\s+OK .*5 HEAD \/roll answered 200 through http:\/\/127\.\d+\.\d+\.1:80, trace IDs [0-9a-f]{32}, /);
    expect(row(stdout, 2)).toMatch(/^ 2  scraped metric\s+(OK|SLOW) .*http_server_request_duration_count.* went from \d+ to \d+/);
    expect(row(stdout, 3)).toMatch(/^ 3  span-metrics exemplar\s+(OK|SLOW) .*exemplar with trace [0-9a-f]{32} on traces_span_metrics_duration_seconds_bucket\{http_route="\/roll"/);
    expect(row(stdout, 4)).toMatch(/^ 4  trace at the recorder\s+(OK|SLOW) .*SERVER span of all 5 traces delivered to the OTLP recorder/);
    expect(row(stdout, 5)).toMatch(/^ 5  logs at the recorder\s+(OK|SLOW) .*log records of all 5 traces delivered to the OTLP recorder/);
    expect(row(stdout, 6)).toMatch(/^ 6  alertmanager\s+OK .*ready, version .*; Prometheus sends alerts to http:\/\/alertmanager:9093/);
    expect(stdout).toMatch(/^verify: 6 of 6 hops OK in [\d.]+ s$/m);
    expect(code).toBe(0);

    // Cross-checked from outside the tool: the trace IDs it printed are the ones the recorder holds.
    const printed = [...row(stdout, 1).matchAll(/[0-9a-f]{32}/g)].map((m) => m[0]);
    const servers = new Set(readRecorded(targets.otlpRecorderDir!).spans.filter((s) => s.kind === 2).map((s) => s.traceId));
    expect(printed.length).toBeGreaterThan(0);
    for (const id of printed) expect(servers.has(id), `SERVER span of ${id} at the recorder`).toBe(true);
  });

  it('skips Tempo and Loki without the recorder, saying why, and still passes', async () => {
    const { code, stdout } = await verify(['--stack', 'native', '--requests', '2']);
    expect(row(stdout, 4)).toMatch(/^ 4  trace in Tempo\s+SKIP\s+skipped: Tempo is AGPL-licensed .*; pass --recorder DIR/);
    expect(row(stdout, 5)).toMatch(/^ 5  logs in Loki\s+SKIP\s+skipped: Loki is AGPL-licensed/);
    expect(stdout).toMatch(/^verify: 4 of 6 hops OK in [\d.]+ s \(2 skipped, see above\)$/m);
    expect(code).toBe(0);
  });

  it('exits 1 naming the trace hop when the recorder (Tempo\'s stand-in) is stopped, with how long it waited and what is normal', async () => {
    await control('stop', 'otlp-recorder');
    let result: { code: number | null; stdout: string };
    try {
      result = await verify([...recorder, '--requests', '2', '--wait', '15']);
    } finally {
      await control('start', 'otlp-recorder');
    }
    const { code, stdout } = result;
    expect(row(stdout, 1)).toMatch(/\bOK\b/);
    expect(row(stdout, 4)).toMatch(/^ 4  trace at the recorder\s+MISSING .*the SERVER span of 0 of 2 traces in .*spans\.jsonl after waiting [\d.]+ s \(normally up to 2 s: .*OTEL_BSP_SCHEDULE_DELAY=1000/);
    expect(stdout).toMatch(/^verify: FAILED at hop 4 \(trace at the recorder\): MISSING/m);
    expect(stdout).toMatch(/^ {2}check: the collector's otlp_http\/tempo exporter delivers to the OTLP recorder standing in for Tempo/m);
    expect(stdout).toMatch(/^normal delays of this stack, from its configs:$/m);
    expect(code).toBe(1);
  });

  it('exits 1 naming the Alertmanager hop when its URL is dead, in one line', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { code, stdout } = await verify([...recorder, '--requests', '1', '--alertmanager', `http://127.0.0.1:${port}`]);
    expect(row(stdout, 6)).toMatch(new RegExp(`^ 6  alertmanager\\s+FAIL .*http://127\\.0\\.0\\.1:${port} does not answer: connection refused$`));
    expect(stdout).toMatch(/^verify: FAILED at hop 6 \(alertmanager\): FAIL/m);
    expect(stdout).not.toMatch(/^\s+at /m);
    expect(code).toBe(1);
  });
});
