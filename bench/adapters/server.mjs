// One benchmark server, run by run.mjs as a forked child (IPC), or by hand:
//   node bench/adapters/server.mjs --adapter=fastify|express [--otel [--lean] [--no-hook]] [--port=N]
//        [--otlp=http://127.0.0.1:4318/v1/traces] [--service-name=NAME]
// Nothing from Nest or OpenTelemetry is imported statically: the ESM loader hook (Express only)
// and the SDK must be in place before Nest and the adapter are loaded.
import { createRequire, register } from 'node:module';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'fastify' },
    otel: { type: 'boolean', default: false },
    lean: { type: 'boolean', default: false }, // fewer framework spans, see otel.mjs
    'no-hook': { type: 'boolean', default: false },
    port: { type: 'string', default: '0' },
    otlp: { type: 'string', default: 'http://127.0.0.1:4318/v1/traces' },
    'service-name': { type: 'string', default: 'bench-adapters' },
    // Diagnostics only (run.mjs does not use them): drop spans in-process / HTTP instrumentation only.
    exporter: { type: 'string', default: 'otlp' },
    'no-route-instrumentation': { type: 'boolean', default: false },
  },
});

let hookUrl = null;
if (opts.otel && opts.adapter === 'express' && !opts['no-hook']) {
  // Resolved from @opentelemetry/instrumentation-express, i.e. the @opentelemetry/instrumentation
  // copy that ExpressInstrumentation itself uses (0.300.0, nested); it re-exports
  // import-in-the-middle/hook.mjs. Registered without options, it wraps every ESM module.
  const parent = import.meta.resolve('@opentelemetry/instrumentation-express');
  hookUrl = createRequire(parent).resolve('@opentelemetry/instrumentation/hook.mjs');
  register('@opentelemetry/instrumentation/hook.mjs', parent);
}

const otel = opts.otel
  ? await (await import('./otel.mjs')).startOtel({
      adapter: opts.adapter,
      otlpUrl: opts.otlp,
      serviceName: opts['service-name'],
      exporter: opts.exporter,
      routeInstrumentation: !opts['no-route-instrumentation'],
      lean: opts.lean,
    })
  : null;

const { createApp } = await import('./app.mjs');
const app = await createApp(opts.adapter);
await app.listen(Number(opts.port), '127.0.0.1');
const { port } = app.getHttpServer().address();

const ready = { type: 'ready', port, adapter: opts.adapter, otel: opts.otel, hook: hookUrl };
if (process.send) process.send(ready);
else console.log(JSON.stringify(ready));

process.on('message', async (message) => {
  if (message?.type === 'scrape') process.send({ type: 'scrape', text: otel ? await otel.scrape() : '' });
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await app.close();
  await otel?.shutdown().catch((error) => console.error(`telemetry shutdown: ${error.message}`)); // flushes the last spans
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
