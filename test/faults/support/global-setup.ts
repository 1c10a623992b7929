// Starts the native stack for the fault tests (scripts/native/stack.ts, the same configs as
// compose) and a loopback control endpoint through which the tests, which run in worker
// processes, break and mend it. DICE_STACK_SUBNET (read by stack.ts) picks the loopback subnet.
// The stack runs the recording stand-in for Tempo's and Loki's network edge (`otlp-recorder`), so
// that what the collector delivers there can be counted by trace ID, and that edge taken down.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { endpoints, startStack, type Endpoints, type Stack } from '../../../scripts/native/stack.ts';

export interface FaultTargets {
  endpoints: Endpoints;
  /** The control endpoint; see startControl. */
  control: string;
  /** Where the stack keeps its data, logs (logs/<service>.log) and pids. */
  runDir: string;
  /** What the recording stand-in for Tempo's and Loki's network edge received (readRecorded). */
  otlpRecorderDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    faults: FaultTargets;
  }
}

const SIGNALS = new Set<NodeJS.Signals>(['SIGTERM', 'SIGKILL', 'SIGSTOP', 'SIGCONT', 'SIGINT']);

let stack: Stack | undefined;
let control: Server | undefined;

/** The pid of each service as last launched (stack.ts writes `<pid> <name>` lines to runDir/pids). */
function pidOf(runDir: string, service: string): number | undefined {
  const line = readFileSync(join(runDir, 'pids'), 'utf8')
    .split('\n')
    .find((l) => l.endsWith(` ${service}`));
  return line ? Number(line.split(' ')[0]) : undefined;
}

/**
 * Loopback only, never published: the fault tests' admin API over the stack.
 *   POST /stop/<service>            as compose stops it (SIGTERM, SIGKILL after 15 s); waits for the exit
 *   POST /start/<service>           starts it again and waits until it is ready
 *   POST /signal/<service>/<SIG>    sends SIGTERM, SIGKILL, SIGSTOP, SIGCONT or SIGINT and returns at once
 *   POST /move/<service>/<address>  restarts a replica on another loopback address, renamed in the DNS
 *   GET  /pid/<service>             its pid, for /proc/<pid>/status
 */
async function startControl(s: Stack): Promise<string> {
  control = createServer((req, res) => {
    const [, action, service, signal] = (req.url ?? '').split('/');
    const fail = (error: unknown) => res.writeHead(500).end(error instanceof Error ? error.message : String(error));
    try {
      if (req.method === 'POST' && (action === 'stop' || action === 'start') && service) {
        const started = Date.now();
        (action === 'stop' ? s.stopService(service) : s.startService(service)).then(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ms: Date.now() - started })),
          fail,
        );
        return;
      }
      if (req.method === 'POST' && action === 'move' && service && /^127\.\d+\.\d+\.\d+$/.test(signal ?? '')) {
        const started = Date.now();
        s.moveService(service, signal!).then(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ms: Date.now() - started })),
          fail,
        );
        return;
      }
      if (req.method === 'POST' && action === 'signal' && service && SIGNALS.has(signal as NodeJS.Signals)) {
        s.signal(service, signal as NodeJS.Signals);
        res.writeHead(204).end();
        return;
      }
      if (req.method === 'GET' && action === 'pid' && service) {
        const pid = pidOf(s.runDir, service);
        if (pid === undefined) res.writeHead(404).end(`no service ${service}`);
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pid }));
        return;
      }
      res.writeHead(404).end('POST /stop/<svc>, /start/<svc>, /signal/<svc>/<SIG>, /move/<svc>/<address>; GET /pid/<svc>');
    } catch (error) {
      fail(error);
    }
  });
  await new Promise<void>((resolve) => control!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
}

export async function setup(project: TestProject) {
  const started = Date.now();
  // No traffic generator: the tests send every request themselves, so that they can account for each.
  stack = await startStack({ otlpRecorder: true, log: (line) => console.log(`[stack] ${line}`) });
  console.log(`[stack] native stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (${stack.runDir})`);
  project.provide('faults', { endpoints, control: await startControl(stack), runDir: stack.runDir, otlpRecorderDir: stack.otlpRecorderDir! });
}

export async function teardown() {
  control?.close();
  // A test that failed midway may leave a service stopped (SIGSTOP): stop() sends SIGCONT first.
  await stack?.stop();
}
