// `npm test`: unit specs beside the code and the service-level tests of apps/*/test, no external
// service needed. SWC compiles TypeScript here because Nest's DI needs decorator metadata,
// which Vite's default transform does not emit. Each file runs in its own process: the
// OpenTelemetry SDK registers process-wide globals once.
import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [swc.vite()],
  resolve: {
    alias: { '@app/telemetry': fileURLToPath(new URL('./libs/telemetry/src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['apps/**/*.{spec,test}.ts', 'libs/**/*.spec.ts', 'scripts/**/*.spec.ts', 'test/support/**/*.spec.ts', 'bench/**/*.spec.ts'],
    pool: 'forks',
    isolate: true,
    setupFiles: ['apps/dice-api/test/support/telemetry-harness.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { OTEL_SERVICE_NAME: 'dice-api-test', OTEL_METRICS_EXPORTER: 'none' },
  },
});
