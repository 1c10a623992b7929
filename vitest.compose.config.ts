// `npm run test:compose`: docker-compose.yml on a real Docker engine, with only the AGPL services
// stood in (test/compose/docker-compose.stand-ins.yml), plus the e2e pipeline and dashboard checks
// against that stack. test/compose/support/global-setup.ts starts the engine if the machine has none.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/compose/**/*.compose.test.ts', 'test/e2e/pipeline.e2e.test.ts', 'test/e2e/dashboards.e2e.test.ts'],
    globalSetup: ['test/compose/support/global-setup.ts'],
    // One stack, shared and restarted by some tests: files run one after another.
    fileParallelism: false,
    testTimeout: 5 * 60_000,
    hookTimeout: 20 * 60_000,
  },
});
