// `npm run test:compose`: docker-compose.yml on a real Docker engine, with only the AGPL services
// stood in (test/compose/docker-compose.stand-ins.yml), plus the e2e pipeline and dashboard checks
// against that stack. test/compose/support/global-setup.ts starts the engine if the machine has none.
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

const ORDER = ['test/e2e/pipeline.e2e.test.ts', 'test/e2e/dashboards.e2e.test.ts', 'test/compose/'];

/** The e2e files first, on the stack as the first `up` left it; then the tests that recreate and restart services. */
class InOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    const rank = (f: TestSpecification) => ORDER.findIndex((p) => f.moduleId.includes(p));
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/compose/**/*.compose.test.ts', 'test/e2e/pipeline.e2e.test.ts', 'test/e2e/dashboards.e2e.test.ts'],
    globalSetup: ['test/compose/support/global-setup.ts'],
    // One stack, shared and restarted by some tests: files run one after another, in ORDER.
    fileParallelism: false,
    sequence: { sequencer: InOrder },
    testTimeout: 5 * 60_000,
    hookTimeout: 20 * 60_000,
  },
});
