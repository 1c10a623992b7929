import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built logger (`npm test` builds first), in a process of its own: what matters is what
// reaches the real stdout, a pipe here as under Docker, when that process ends.
const LOGGER = fileURLToPath(new URL('../../../../dist/libs/telemetry/src/logging/winston.logger.js', import.meta.url));
const LINES = 20_000;

function run(ending: 'drain' | 'exit' | 'crash') {
  const script = `
    const { createJsonLogger } = await import(${JSON.stringify(LOGGER)});
    const log = createJsonLogger();
    for (let i = 0; i < ${LINES}; i++) log.info('line', { i });
    if (${JSON.stringify(ending)} === 'exit') process.exit(0);
    if (${JSON.stringify(ending)} === 'crash') throw new Error('crashed');
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = child.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { i: number });
  return { status: child.status, stderr: child.stderr, indexes: lines.map((l) => l.i) };
}

describe('JSON lines on stdout', () => {
  it.each(['drain', 'exit', 'crash'] as const)('are all written, whole and in order, when the process ends by %s', (ending) => {
    const { status, stderr, indexes } = run(ending);
    expect(status, stderr).toBe(ending === 'crash' ? 1 : 0);
    if (ending === 'crash') expect(stderr).toContain('crashed');
    expect(indexes).toEqual(Array.from({ length: LINES }, (_, i) => i));
  });
});
