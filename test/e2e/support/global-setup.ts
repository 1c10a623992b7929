import type { TestProject } from 'vitest/node';
import { startStack, type Stack } from '../../../scripts/native/stack.ts';
import { externalTargets, nativeTargets, type Targets } from './targets.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    targets: Targets;
  }
}

let stack: Stack | undefined;

export async function setup(project: TestProject) {
  if (process.env['E2E_STACK'] === 'external') {
    project.provide('targets', externalTargets());
    return;
  }
  const started = Date.now();
  stack = await startStack({ log: (line) => console.log(`[stack] ${line}`) });
  console.log(`[stack] native stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('targets', nativeTargets(stack.logOf('otel-collector')));
}

export async function teardown() {
  await stack?.stop();
}
