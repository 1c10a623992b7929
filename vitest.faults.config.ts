// `npm run test:faults`: faults injected into the native stack under load (collector stopped or
// killed, Prometheus stopped, Tempo and Loki's edge down, a replica drained, both replicas killed),
// each bounded in time and printing its figures. test/faults/support/global-setup.ts starts the
// stack (scripts/native/stack.ts) once, on DICE_STACK_SUBNET (default 127.0.1).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.test.ts'],
    globalSetup: ['test/faults/support/global-setup.ts'],
    // One stack, broken on purpose: files run one after another, never in parallel; each starts by
    // waiting for the whole stack to be healthy, so that their order does not matter.
    fileParallelism: false,
    testTimeout: 6 * 60_000,
    hookTimeout: 5 * 60_000,
  },
});
