// The command as a user runs it, against addresses where nothing (or only a stub balancer that
// answers 503) listens: what it prints and how it exits when the stack is down or half up. The
// runs against a real stack are in test/e2e/verify.e2e.test.ts.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('./verify.ts', import.meta.url));

function verify(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let dead: string;
let balancer503: { server: Server; url: string };
beforeAll(async () => {
  const { server, url } = await listen(() => undefined);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  dead = url;
  balancer503 = await listen((_req, res) => res.writeHead(503, { 'content-type': 'application/problem+json' }).end('{"status":503}'));
});
afterAll(() => new Promise<void>((resolve) => balancer503.server.close(() => resolve())));

describe('npm run verify', () => {
  it('says in one line that the stack is not running, without a stack trace, and exits 1', async () => {
    const r = await verify(['--lb', dead, '--prometheus', dead]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe(
      `verify: the cluster stack is not running: nothing answers at ${dead}, ${dead} (connection refused); check the URLs (are the port-forwards running?), then run this again`,
    );
    expect(r.stdout + r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr).toBe('');
  });

  it('names the balancer as the first broken hop when it answers 503, and says what to check', async () => {
    const r = await verify(['--lb', balancer503.url, '--prometheus', dead, '--wait', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ 1  balancer\s+FAIL .*HEAD \/roll\?dice=1&sides=20 answered HTTP 503 \(no replica behind it is ready/m);
    expect(r.stdout).toMatch(/^ 2  scraped metric\s+SKIP\s+not checked: no request went through the balancer$/m);
    expect(r.stdout).toMatch(/^ 6  alertmanager\s+FAIL .*does not answer: connection refused$/m);
    expect(r.stdout).toMatch(/^verify: FAILED at hop 1 \(balancer\): FAIL - /m);
    expect(r.stdout).toMatch(/^ {2}check: the edge and API pods/m);
    expect(r.stdout).not.toMatch(/^\s+at /m);
  });

  it('exits 2 with one line on a bad option', async () => {
    const r = await verify(['--stack', 'k8s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('verify: --stack must be one of compose, native, cluster, got "k8s" (npm run verify -- --help)\n');
    expect(r.stdout).toBe('');
  });

  it('documents every option in --help', async () => {
    const r = await verify(['--help']);
    expect(r.code).toBe(0);
    for (const option of ['--stack compose', '--stack native', '--stack cluster', '--lb URL', '--prometheus URL', '--tempo URL', '--loki URL', '--alertmanager URL', '--recorder DIR', '--requests N', '--wait SECONDS']) {
      expect(r.stdout).toContain(option);
    }
    expect(r.stdout).toMatch(/scraped metric\s+up to 11 s: the collector's dice-api scrape_interval 10s/);
  });
});
