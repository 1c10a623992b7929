// The real haproxy.cfg in a real haproxy, with a real dnsmasq as its DNS (scripts/native/dns.ts,
// as 127.0.0.11 is in compose) and small HTTP servers standing in for the replicas, on loopback
// addresses of their own (DICE_STACK_SUBNET .2xx: never the native stack's). It proves that the
// balancer finds replicas by DNS at run time and that every error it answers by itself is
// problem+json. Needs root (a private mount namespace for /etc/hosts and /etc/resolv.conf).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsmasqCommand, resolvConf, resolvesTo } from '../../scripts/native/dns.ts';
import { ROOT } from './support/tools.ts';

const SUBNET = process.env.DICE_STACK_SUBNET ?? '127.0.1';
const LB = `${SUBNET}.201`;
const DNS = `${SUBNET}.253`;
const HOME = { 'dice-api-1': `${SUBNET}.211`, 'dice-api-2': `${SUBNET}.212` };
const MOVED = `${SUBNET}.213`;
const CONFIG = join(ROOT, 'observability/haproxy/haproxy.cfg');

/** Every status `http-error` accepts besides 200 (HAProxy 2.6 configuration.txt, "http-error"). */
const STATUSES = [400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504];

const isRoot = process.getuid?.() === 0;
const version = /HAProxy version (\d+\.\d+\.\d+)/.exec(spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 'none';
// Read in their source: mux_h1.c's h1_send_error() writes the built-in http_err_msgs[] page,
// whatever errorfile or http-error says, in 2.6.12 and 3.0.11 (haproxy/haproxy#3032).
const muxErrorsBuiltIn = /^(2\.|3\.0\.)/.test(version);

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `bytes` as they are and reads the answer until HAProxy closes or the body is complete. */
function raw(port: number, bytes: string | Buffer, timeoutMs = 40_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: LB, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no complete answer in ${timeoutMs} ms: ${Buffer.concat(chunks).toString()}`))), timeoutMs);
    const parse = (): Reply | undefined => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const body = text.slice(end + 4);
      const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
      if (length !== undefined && Buffer.byteLength(body, 'latin1') < length) return undefined;
      return { status: Number(statusLine!.split(' ')[1]), headers, body };
    };
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const reply = parse();
      if (reply) resolve(reply);
      else reject(new Error(`incomplete answer: ${JSON.stringify(Buffer.concat(chunks).toString())}`));
    };
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (parse()) finish();
    });
    socket.on('close', finish);
    socket.on('error', finish);
  });
}

const get = (path: string, port = 80) => raw(port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);

function expectProblem(reply: Reply, status: number) {
  expect(reply.status, JSON.stringify(reply)).toBe(status);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  const problem = JSON.parse(reply.body) as Record<string, unknown>;
  expect(problem).toMatchObject({ type: 'about:blank', status });
  expect(problem['title']).toEqual(expect.any(String));
  expect(problem['detail']).toEqual(expect.any(String));
}

/** A stand-in replica: ready, and misbehaving on request (an invalid answer, no answer at all). */
function replica(name: string, address: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/garbage') return void res.socket?.end('this is not HTTP\r\n\r\n');
    if (req.url === '/hang') return; // never answers; closed with the server
    const body = JSON.stringify({ servedBy: name, address });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  return new Promise((resolve, reject) => server.once('error', reject).listen(8000, address, () => resolve(server)));
}

async function until<T>(what: string | (() => string), probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const serverUp = async (server: string) => {
  const text = (await get('/metrics', 8405)).body;
  return new RegExp(`^haproxy_server_status\\{proxy="dice-api",server="${server}",state="UP"\\} 1$`, 'm').test(text);
};

describe.skipIf(!isRoot)(`HAProxy ${version} with haproxy.cfg, a real DNS and stand-in replicas (skipped unless root: needs a mount namespace)`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'haproxy-test-'));
  // dnsmasq re-reads the hosts file as `nobody` (it drops root after start).
  chmodSync(dir, 0o755);
  const hostsFile = join(dir, 'hosts');
  const hosts: Record<string, string> = { 'dice-api-1': HOME['dice-api-1'] }; // dice-api-2 unknown at start
  const writeHosts = () => writeFileSync(hostsFile, Object.entries(hosts).map(([n, a]) => `${a} ${n}\n`).join(''));
  const replicas = new Map<string, Server>();
  let dns: ChildProcess;
  let haproxy: ChildProcess;
  let haproxyLog = '';
  let dnsLog = '';

  const stopReplica = async (name: string) => {
    const server = replicas.get(name);
    replicas.delete(name);
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  };
  const renamed = async (name: string, address: string) => {
    hosts[name] = address;
    writeHosts();
    dns.kill('SIGHUP');
    await until(() => `dnsmasq answering ${name} -> ${address} (its log: ${dnsLog})`, async () => ((await resolvesTo(DNS, name, address)) ? true : undefined), 5000);
  };

  beforeAll(async () => {
    writeHosts();
    writeFileSync(join(dir, 'resolv.conf'), resolvConf(DNS));
    // Test-only: a frontend under the same `defaults` as the public one (a second -f file is read
    // after haproxy.cfg), answering each status that HAProxy can send by itself on request.
    writeFileSync(
      join(dir, 'status-probe.cfg'),
      `frontend status-probe\n    bind "\${LISTEN_HOST}:8406"\n${STATUSES.map((s) => `    http-request deny deny_status ${s} if { path /${s} }\n`).join('')}`,
    );
    const d = dnsmasqCommand(DNS, hostsFile);
    dns = spawn(d.command, d.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [dns.stdout!, dns.stderr!]) stream.on('data', (c: Buffer) => (dnsLog += c.toString()));
    await until('dnsmasq to answer', async () => ((await resolvesTo(DNS, 'dice-api-1')) ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 200));
    if (dns.exitCode !== null) throw new Error(`dnsmasq exited (another DNS answers on ${DNS}?): ${dnsLog}`);
    haproxy = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf && shift && exec "$@"',
        hostsFile, join(dir, 'resolv.conf'), 'haproxy', '-db', '-f', CONFIG, '-f', join(dir, 'status-probe.cfg')],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LISTEN_HOST: LB }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const stream of [haproxy.stdout!, haproxy.stderr!]) stream.on('data', (c: Buffer) => (haproxyLog += c.toString()));
    await until(() => `haproxy to listen on ${LB}:8405 (log: ${haproxyLog})`, async () => ((await get('/metrics', 8405)).status === 200 ? true : undefined), 10_000);
  }, 30_000);

  afterAll(async () => {
    haproxy?.kill('SIGKILL');
    dns?.kill('SIGKILL');
    for (const name of [...replicas.keys()]) await stopReplica(name);
    rmSync(dir, { recursive: true, force: true });
  });

  it('defines a problem+json answer for every status HAProxy can send by itself, and serves it', async () => {
    const defined = [...readFileSync(CONFIG, 'utf8').matchAll(/^\s*http-error status (\d+) content-type application\/problem\+json string /gm)].map((m) => Number(m[1]));
    expect(defined).toEqual(STATUSES);
    for (const status of STATUSES) expectProblem(await get(`/${status}`, 8406), status);
  });

  it('answers 503 problem+json when no replica is up', async () => {
    expectProblem(await get('/roll'), 503);
  });

  it('a replica whose name does not resolve at start joins once the DNS knows it, without a restart', async () => {
    for (const [name, address] of Object.entries(HOME)) replicas.set(name, await replica(name, address));
    await until('dice-api-1 UP', async () => ((await serverUp('dice-api-1')) ? true : undefined));
    expect(await serverUp('dice-api-2'), 'dice-api-2 cannot be UP while its name does not resolve').toBe(false);
    await renamed('dice-api-2', HOME['dice-api-2']);
    await until(() => `dice-api-2 UP once resolvable (haproxy log:\n${haproxyLog})`, async () => ((await serverUp('dice-api-2')) ? true : undefined));
  });

  it('a replica that comes back on another address takes traffic again, without a restart', async () => {
    await stopReplica('dice-api-2');
    replicas.set('dice-api-2', await replica('dice-api-2', MOVED));
    await renamed('dice-api-2', MOVED);
    const served = await until(() => `a request served by dice-api-2 at ${MOVED} (haproxy log:\n${haproxyLog})`, async () => {
      const reply = await get('/roll');
      return reply.status === 200 && JSON.parse(reply.body).address === MOVED ? reply : undefined;
    });
    expect(JSON.parse(served.body)).toEqual({ servedBy: 'dice-api-2', address: MOVED });
  });

  it('answers 502 problem+json when a replica answers with something that is not HTTP', async () => {
    expectProblem(await get('/garbage'), 502);
  });

  it('answers 504 problem+json when a replica does not answer within `timeout server` (30 s)', { timeout: 60_000 }, async () => {
    expectProblem(await get('/hang'), 504);
  });

  // The errors HAProxy's H1 multiplexer sends before a request exists: see muxErrorsBuiltIn.
  const beforeARequest: [string, string, number][] = [
    ['not HTTP at all', 'GARBAGE\r\n\r\n', 400],
    ['a NUL in the path', 'GET /\0 HTTP/1.1\r\nHost: localhost\r\n\r\n', 400],
    ['two different Content-Length headers', 'POST /roll HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
    ['a Transfer-Encoding other than chunked', 'POST /roll HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
    ['a head over the 16 KiB buffer', `GET /roll HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 400],
    ['a head not finished within `timeout http-request` (10 s)', 'GET /roll HTTP/1.1\r\nHost: localhost\r\n', 408],
  ];
  it.skipIf(muxErrorsBuiltIn).each(beforeARequest)(
    `answers problem+json to %s (skipped on HAProxy 2.x and 3.0, whose H1 multiplexer sends its built-in HTML page here: haproxy/haproxy#3032)`,
    { timeout: 30_000 },
    async (_, bytes, status) => {
      expectProblem(await raw(80, bytes), status);
    },
  );
  it.runIf(muxErrorsBuiltIn).each(beforeARequest)('answers %s with its status and closes the connection', { timeout: 30_000 }, async (_, bytes, status) => {
    const reply = await raw(80, bytes);
    expect(reply.status).toBe(status);
    expect(reply.headers['connection']?.toLowerCase()).toBe('close');
  });
});
