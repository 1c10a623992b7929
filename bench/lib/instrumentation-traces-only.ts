// The price list's "traces only" step (bench/lib/throughput.ts, PRICE_LIST): loaded with --import
// instead of the app's instrumentation module, it starts the app's own SDK set-up with no
// MeterProvider at all. A bench-only entry, not a setting: users keep metrics, which the SLO rules
// and dashboards are built on (libs/telemetry/src/sdk/telemetry.sdk.ts, TelemetryOverrides.metrics).
// It imports the built library by path, the very module main.js imports, so that main.js finds it started.
const library = new URL('../../dist/libs/telemetry/src/index.js', import.meta.url).href;
const { startTelemetry } = (await import(library)) as { startTelemetry(overrides: { metrics: false }): unknown };
startTelemetry({ metrics: false });
