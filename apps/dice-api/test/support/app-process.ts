import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

/** A free loopback port (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface AppProcess {
  child: ChildProcess;
  baseUrl: string;
  adminUrl: string;
  output(): string;
  exit: Promise<number | null>;
}

/**
 * Runs the built app exactly as `npm start` does (node --import instrumentation.js main.js), on
 * this Node (24, from the `node` devDependency), with the given environment.
 */
export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', './dist/apps/dice-api/src/instrumentation.js', './dist/apps/dice-api/src/main.js'],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ADMIN_PORT: String(adminPort), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc: AppProcess = {
    child,
    baseUrl: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    output: () => out,
    exit,
  };
  await waitForReady(proc);
  return proc;
}

export async function waitForExit(proc: AppProcess, timeoutMs = 15_000): Promise<number | null> {
  return Promise.race([
    proc.exit,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`app did not exit within ${timeoutMs} ms:\n${proc.output()}`)), timeoutMs)),
  ]);
}

async function waitForReady(proc: AppProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exit.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${proc.baseUrl}/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`app did not become ready (${exited ? 'it exited' : 'timed out'}); its output:\n${proc.output()}`);
}
