// The real haproxy.cfg in a real haproxy, with a real dnsmasq as its DNS (scripts/native/dns.ts,
// as 127.0.0.11 is in compose) and small HTTP servers standing in for the replicas, on loopback
// addresses of their own (DICE_STACK_SUBNET .2xx: never the native stack's). It proves that the
// balancer finds replicas by DNS at run time and that every error it answers by itself is
// problem+json. Twice: in the native stack's HAProxy (HAPROXY_NATIVE_VERSION, Debian 12's) and in
// Debian's of compose's branch (HAPROXY_VERSION's; scripts/native/haproxy-debian.sh), since the two
// answer a malformed, oversized or slow request head differently. Needs root (a private mount
// namespace for /etc/hosts and /etc/resolv.conf).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsmasqCommand, resolvConf, resolvesTo } from '../../scripts/native/dns.ts';
import { ROOT, run } from './support/tools.ts';

const SUBNET = process.env.DICE_STACK_SUBNET ?? '127.0.1';
const CONFIG = join(ROOT, 'observability/haproxy/haproxy.cfg');
const ERRORS = join(ROOT, 'observability/haproxy/errors');
const dotenv = Object.fromEntries([...readFileSync(join(ROOT, '.env'), 'utf8').matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));

/**
 * Every status HAProxy can answer by itself, which `errorfile` accepts: http_err_codes[] in its
 * src/http.c (2.6.0 and 3.2.0 read), 200 (monitor-uri) aside. 414 and 431 came in 3.1.
 */
const statusesOf = (version: string) => [400, 401, 403, 404, 405, 407, 408, 410, 413, ...(atLeast(version, '3.1.0') ? [414] : []), 421, 422, 425, 429, ...(atLeast(version, '3.1.0') ? [431] : []), 500, 501, 502, 503, 504];

function atLeast(version: string, than: string): boolean {
  const [a, b] = [version, than].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (a![i] !== b![i]) return a![i]! > b![i]!;
  return true;
}

const isRoot = process.getuid?.() === 0;
const versionOf = (command: string) => /HAProxy version (\d+\.\d+\.\d+)/.exec(spawnSync(command, ['-v'], { encoding: 'utf8' }).stdout ?? '')?.[1];

/** The HAProxy of compose's branch, from Debian (unpacked by scripts/native/haproxy-debian.sh, which `npm run setup` runs). */
function debianHaproxy(): string {
  const found = run('bash', ['scripts/native/haproxy-debian.sh', '--print-path']);
  if (found.status !== 0) throw new Error(`no HAProxy of compose's branch here:\n${found.output.trim()}`);
  return found.output.trim();
}

const HAPROXIES = [
  { role: 'the native stack\'s (HAPROXY_NATIVE_VERSION)', command: 'haproxy', host: 201 },
  { role: `Debian's of compose's branch (HAPROXY_VERSION=${dotenv.HAPROXY_VERSION})`, command: isRoot ? debianHaproxy() : 'haproxy-of-compose-branch', host: 202 },
];

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `bytes` as they are to host:port and reads the answer until HAProxy closes or the body is complete. */
function raw(host: string, port: number, bytes: string | Buffer, timeoutMs = 40_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
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

function expectProblem(reply: Reply, status: number) {
  expect(reply.status, JSON.stringify(reply)).toBe(status);
  expect(reply.headers['content-type'], JSON.stringify(reply)).toBe('application/problem+json');
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

/** An errorfile: a whole HTTP response, as HAProxy reads it (CRLF lines, a Content-Length that fits the body). */
function parseErrorfile(text: string) {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, Math.max(end, 0)).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { statusLine: statusLine ?? '', headers, body: text.slice(end + 4), end };
}

describe('the problem+json errorfiles (observability/haproxy/errors)', () => {
  const config = readFileSync(CONFIG, 'utf8');
  const lines = [...config.matchAll(/^\s*errorfile (\d+) (\S+)$/gm)].map((m) => [Number(m[1]), m[2]] as const);
  const files = readdirSync(ERRORS).filter((f) => f.endsWith('.http')).sort();

  it('one `errorfile` line per status HAProxy can send by itself, each naming errors/<status>.http; no `http-error` string', () => {
    expect(lines.map(([status]) => status).sort()).toEqual(statusesOf('3.2.0'));
    for (const [status, path] of lines) expect(path).toBe(`errors/${status}.http`);
    expect(files).toEqual(statusesOf('3.2.0').map((s) => `${s}.http`));
    // An `http-error ... string` page is never sent for a malformed or slow head (see haproxy.cfg).
    expect(config).not.toMatch(/^\s*http-error /m);
    // 2.6 refuses `errorfile 414`/`431`: they are inside the 3.1+ block, and only they.
    const guarded = /^\.if version_atleast\(3\.1\)\n((?:.*\n)*?)\.endif$/m.exec(config)?.[1] ?? '';
    expect([...guarded.matchAll(/errorfile (\d+)/g)].map((m) => Number(m[1]))).toEqual([414, 431]);
    expect(config).toMatch(/^\s*default-path config$/m);
  });

  it.each(statusesOf('3.2.0'))('errors/%i.http is a whole problem+json response of that status', (status) => {
    const text = readFileSync(join(ERRORS, `${status}.http`), 'latin1');
    const { statusLine, headers, body, end } = parseErrorfile(text);
    expect(end, 'the head ends with an empty CRLF line').toBeGreaterThan(0);
    expect(text.slice(0, end)).not.toMatch(/(?<!\r)\n/);
    expect(statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} [A-Z]`));
    expect(headers).toMatchObject({ 'content-type': 'application/problem+json', connection: 'close', 'cache-control': 'no-cache' });
    expect(Number(headers['content-length']), 'Content-Length is the body\'s length in bytes').toBe(Buffer.byteLength(body, 'latin1'));
    const problem = JSON.parse(body) as Record<string, unknown>;
    expect(problem).toEqual({ type: 'about:blank', title: statusLine.replace(/^HTTP\/1\.1 \d+ /, ''), status, detail: expect.any(String) });
  });
});

describe.each(HAPROXIES)('HAProxy: $role', ({ command, host }) => {
  const version = isRoot ? versionOf(command) : undefined;
  const LB = `${SUBNET}.${host}`;
  const DNS = `${SUBNET}.${host + 52}`; // .253, .254
  const HOME = { 'dice-api-1': `${SUBNET}.${host + 10}`, 'dice-api-2': `${SUBNET}.${host + 12}` }; // .211 .213, .212 .214
  const MOVED = `${SUBNET}.${host + 14}`; // .215, .216
  const get = (path: string, port = 80) => raw(LB, port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  const serverUp = async (server: string) => {
    const text = (await get('/metrics', 8405)).body;
    return new RegExp(`^haproxy_server_status\\{proxy="dice-api",server="${server}",state="UP"\\} 1$`, 'm').test(text);
  };

  describe.skipIf(!isRoot)(`${version ?? ''} with haproxy.cfg, a real DNS and stand-in replicas (skipped unless root: needs a mount namespace)`, () => {
    const statuses = statusesOf(version ?? '0.0.0');
    // Read in their source: from 3.2.4 on, mux_h1.c's h1_send_error() sends the frontend's errorfile
    // (haproxy commit d252ec2, haproxy/haproxy#3032); 2.6.12's and 3.0.11's always send their built-in
    // http_err_msgs[] HTML page, whatever the config says.
    const muxUsesErrorfiles = atLeast(version ?? '0.0.0', '3.2.4');
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
      expect(version, `${command} -v names no version`).toBeDefined();
      writeHosts();
      writeFileSync(join(dir, 'resolv.conf'), resolvConf(DNS));
      // Test-only: a frontend under the same `defaults` as the public one (a second -f file is read
      // after haproxy.cfg), answering each status that HAProxy can send by itself on request.
      writeFileSync(
        join(dir, 'status-probe.cfg'),
        `frontend status-probe\n    bind "\${LISTEN_HOST}:8406"\n${statuses.map((s) => `    http-request deny deny_status ${s} if { path /${s} }\n`).join('')}`,
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
          hostsFile, join(dir, 'resolv.conf'), command, '-db', '-f', CONFIG, '-f', join(dir, 'status-probe.cfg')],
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

    it('answers every status it can send by itself with its problem+json errorfile', async () => {
      for (const status of statuses) {
        const reply = await get(`/${status}`, 8406);
        expectProblem(reply, status);
        expect(reply.body).toBe(parseErrorfile(readFileSync(join(ERRORS, `${status}.http`), 'latin1')).body);
      }
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

    // The errors HAProxy's H1 multiplexer sends before a request exists: see muxUsesErrorfiles. An
    // oversized head is 414 (a long URI) or 431 (large header fields) from 3.1 on, 400 before.
    const from31 = atLeast(version ?? '0.0.0', '3.1.0');
    const beforeARequest: [string, string, number][] = [
      ['not HTTP at all', 'GARBAGE\r\n\r\n', 400],
      ['a NUL in the path', 'GET /\0 HTTP/1.1\r\nHost: localhost\r\n\r\n', 400],
      ['a Transfer-Encoding other than chunked', 'POST /roll HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
      ['a request target over the 16 KiB buffer', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`, from31 ? 414 : 400],
      ['header fields over the 16 KiB buffer', `GET /roll HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, from31 ? 431 : 400],
      ['a head not finished within `timeout http-request` (10 s)', 'GET /roll HTTP/1.1\r\nHost: localhost\r\n', 408],
    ];
    it.runIf(muxUsesErrorfiles).each(beforeARequest)('answers problem+json to %s (HAProxy 3.2.4 and later)', { timeout: 30_000 }, async (_, bytes, status) => {
      expectProblem(await raw(LB, 80, bytes), status);
    });
    it.runIf(!muxUsesErrorfiles).each(beforeARequest)(
      'answers %s with its status, its built-in HTML page and a close: no config changes this before HAProxy 3.2.4 (haproxy/haproxy#3032)',
      { timeout: 30_000 },
      async (_, bytes, status) => {
        const reply = await raw(LB, 80, bytes);
        expect(reply.status).toBe(status);
        expect(reply.headers['content-type']).toBe('text/html');
        expect(reply.headers['connection']?.toLowerCase()).toBe('close');
      },
    );
    // A request smuggling attempt: 2.6 answers its built-in 400; 3.2 closes the connection without a
    // word (its log says 400), whatever the errorfiles (seen on 3.2.26, with and without them).
    const twoLengths = 'POST /roll HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n';
    it.runIf(from31)('closes the connection without an answer to two different Content-Length headers', async () => {
      await expect(raw(LB, 80, twoLengths)).rejects.toThrow(/incomplete answer: ""/);
      await until(() => `haproxy logging the 400 (log:\n${haproxyLog})`, async () => (/ 400 0 - - PR-- .*"<BADREQ>"/.test(haproxyLog) ? true : undefined), 5000);
    });
    it.runIf(!from31)('answers two different Content-Length headers with its built-in 400 HTML page', async () => {
      const reply = await raw(LB, 80, twoLengths);
      expect(reply.status).toBe(400);
      expect(reply.headers['content-type']).toBe('text/html');
    });
  });
});
