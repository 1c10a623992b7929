import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startStack, type Stack } from '../../../scripts/native/stack.ts';
import { externalTargets, nativeTargets, type Targets } from './targets.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    targets: Targets;
  }
}

let stack: Stack | undefined;
let control: Server | undefined;

/**
 * The stack lives in this (the main) process; tests run in workers. This loopback endpoint lets
 * them stop and start services: POST /stop/<service>, POST /start/<service>.
 */
async function startControl(s: Stack): Promise<string> {
  control = createServer((req, res) => {
    const [, action, service] = (req.url ?? '').split('/');
    const act = action === 'stop' ? s.stopService : action === 'start' ? s.startService : undefined;
    if (req.method !== 'POST' || !act || !service) {
      res.writeHead(404).end();
      return;
    }
    act(service).then(
      () => res.writeHead(204).end(),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve) => control!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
}

export async function setup(project: TestProject) {
  if (process.env['E2E_STACK'] === 'external') {
    project.provide('targets', externalTargets());
    return;
  }
  const started = Date.now();
  stack = await startStack({ otlpRecorder: true, log: (line) => console.log(`[stack] ${line}`) });
  console.log(`[stack] native stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('targets', { ...nativeTargets(stack.logOf('otel-collector'), stack.otlpRecorderDir), control: await startControl(stack) });
}

export async function teardown() {
  control?.close();
  await stack?.stop();
}
