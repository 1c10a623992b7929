// `npm run test:config`: every config file checked by the real tool that loads it, with no stack
// running: promtool (rules, unit tests, config), amtool (config, routing tree), haproxy -c, the
// collector's own validation, the compose validator, and "generated files are up to date".
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/config/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
