// The alert webhook as compose runs it: its healthcheck (the exact command in docker-compose.yml)
// against the real server, and what it keeps under a flood of large notifications, which must stay
// far below the container's memory limit.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeHealthcheck } from '../../test/support/healthcheck-probe.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEEP_BYTES = 8 * 1024 * 1024;

let server: ChildProcess;
let base: string;
let port: number;

beforeAll(async () => {
  server = spawn(process.execPath, ['scripts/alert-webhook/server.mjs'], {
    cwd: ROOT,
    env: { ...process.env, LISTEN_HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: server.stdout! });
  port = await new Promise<number>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`server.mjs exited (${code}) before listening`)));
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { message: string; port?: number };
      if (event.message === 'alert-webhook listening') resolve(event.port!);
    });
  });
  base = `http://127.0.0.1:${port}`;
});

afterAll(() => {
  server?.kill('SIGTERM');
});

/** The healthcheck compose gives alert-webhook, as the shell in the container would run it. */
function composeHealthcheck(): string {
  const compose = parse(readFileSync(`${ROOT}/docker-compose.yml`, 'utf8')) as {
    services: Record<string, { healthcheck?: { test?: string[] } }>;
  };
  const test = compose.services['alert-webhook']!.healthcheck!.test!;
  expect(test.slice(0, 3), 'a bash check, not a second node process').toEqual(['CMD', 'bash', '-c']);
  // `$$` is compose's escape for a literal `$`.
  return test[3]!.replaceAll('$$', '$');
}

describe('alert-webhook', () => {
  it("compose's healthcheck passes against the running server, and fails where nothing listens", async () => {
    const check = composeHealthcheck();
    expect(check).toMatch(/\/dev\/tcp\/127\.0\.0\.1\/9094\b/);
    expect(await probeHealthcheck(check, port)).toBe(0);
    expect(await probeHealthcheck(check, 1)).not.toBe(0);
  });

  it('keeps the newest notifications, at most 500 and about 8 MiB, however many and large they come', async () => {
    const filler = 'x'.repeat(50_000);
    for (let i = 0; i < 600; i++) {
      const body = JSON.stringify({
        status: 'firing',
        alerts: [{ status: 'firing', labels: { alertname: `Flood${i}` }, annotations: { description: filler } }],
      });
      const res = await fetch(`${base}/${i % 2 ? 'ticket' : 'page'}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(200);
    }
    const res = await fetch(`${base}/notifications`);
    const text = await res.text();
    const kept = JSON.parse(text) as { alerts: { labels: { alertname: string } }[] }[];
    console.log(`alert-webhook kept ${kept.length} of 600 notifications of ~50 KB: ${(text.length / 1024 / 1024).toFixed(1)} MiB`);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThanOrEqual(500);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(KEEP_BYTES + 60_000);
    expect(kept.at(-1)!.alerts[0]!.labels.alertname).toBe('Flood599');
  });
});
