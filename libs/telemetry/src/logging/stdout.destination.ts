import { createRequire } from 'node:module';
// CommonJS: its class is a property of module.exports (Node cannot see it as a named export).
import sonicBoom, { type SonicBoom } from 'sonic-boom';
import type TransportStream from 'winston-transport';

/**
 * Where the JSON lines go in production: stdout through sonic-boom (pino's destination), written
 * asynchronously. On Linux, Node writes to a file or a pipe (what Docker gives a container)
 * synchronously, one syscall per line on the event loop, and winston's Console transport goes
 * through `console` too: 19% of the instrumented server's CPU at saturation (docs/benchmarks.md,
 * writeUtf8String and consoleCall). Here a line is queued and written by the thread pool; lines
 * that arrive while a write is in flight go out together in the next one. Nothing waits for a
 * timer or a minimum size, so a line at low traffic is written at once.
 *
 * What is still queued when the process exits (process.exit after the graceful stop, a crash on an
 * uncaught exception, a bad setting at boot) is written synchronously in the 'exit' event, so the
 * last lines, the ones that say why it stopped, are not lost.
 */
let destination: SonicBoom | undefined;

export function stdoutDestination(): SonicBoom {
  if (destination) return destination;
  const created = new sonicBoom.SonicBoom({ fd: 1, sync: false });
  process.once('exit', () => {
    try {
      created.flushSync();
    } catch {
      // stdout is gone (a closed pipe): nothing left to write to
    }
  });
  destination = created;
  return created;
}

type TransportClass = typeof TransportStream;
// winston-transport is loaded with winston (lazily, after the SDK; see winston.logger.ts).
const requireFromHere = createRequire(import.meta.url);

/** A winston transport that writes each formatted record, one line, to the destination. */
export function destinationTransport(target: SonicBoom): TransportStream {
  const Transport = requireFromHere('winston-transport') as TransportClass;
  // triple-beam's MESSAGE: the record as the logger's format rendered it (here, the JSON line).
  const MESSAGE = Symbol.for('message');
  class DestinationTransport extends Transport {
    override log(info: Record<symbol, unknown>, callback: () => void): void {
      target.write(`${String(info[MESSAGE])}\n`);
      callback();
    }
  }
  return new DestinationTransport();
}
