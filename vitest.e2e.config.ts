// `npm run test:e2e`: the stack end to end, through the load balancer, against real backends.
// By default it starts the native stack (scripts/native/stack.ts); with E2E_STACK=external it
// targets a running stack (e.g. `docker compose up`) at the URLs of test/e2e/support/targets.ts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    globalSetup: ['test/e2e/support/global-setup.ts'],
    // One stack, shared: files run one after another, never in parallel against it.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});
