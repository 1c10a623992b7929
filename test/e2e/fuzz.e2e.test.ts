// Schema-driven fuzzing of the whole stack's front door: schemathesis (PyPI, pinned; installed into
// a cached venv outside the repository by support/venv.ts) reads /openapi.json through the load
// balancer and sends valid and invalid requests for every operation, bounded by --max-examples.
// Its checks: no 5xx, and responses (status, content type, body) as the schema documents them.
// Every exchange is recorded (HAR) and checked here too: never a 5xx, every error problem+json.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureVenv, type Venv } from './support/venv.ts';

const targets = inject('targets');
const SCHEMATHESIS_VERSION = '4.32.5';
const MAX_EXAMPLES = Number(process.env['FUZZ_MAX_EXAMPLES'] ?? 200);
/**
 * The operations' input spaces are small (only /roll has parameters): the examples run out in
 * seconds. The time budget lets fuzzing go on, repeating with new data, for this long.
 */
const MAX_SECONDS = Number(process.env['FUZZ_MAX_SECONDS'] ?? 60);
/** Fixed, so that a failure reproduces; FUZZ_SEED explores further. */
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261126);
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance'];

interface HarEntry {
  request: { method: string; url: string };
  response: { status: number; headers: { name: string; value: string }[]; content?: { text?: string } };
}

let venv: Venv;
let workDir: string;

beforeAll(async () => {
  venv = await ensureVenv('schemathesis', SCHEMATHESIS_VERSION);
  workDir = mkdtempSync(join(tmpdir(), 'dice-fuzz-'));
}, 10 * 60_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Runs `st`, killed after `timeoutMs` so that a stuck run cannot outlive the test. */
function runSchemathesis(args: string[], timeoutMs = 8 * 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // NO_COLOR keeps the captured output readable; the run prints its own progress.
    const child = spawn(venv.bin('st'), args, { env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => (clearTimeout(timer), resolve({ code, output })));
  });
}

describe('schemathesis against /openapi.json, through the load balancer', () => {
  it(`finds no 5xx and no undocumented response (${MAX_EXAMPLES} examples per operation, ${MAX_SECONDS} s); every error is problem+json`, { timeout: 10 * 60_000 }, async () => {
    const har = join(workDir, 'fuzz.har');
    const started = Date.now();
    const { code, output } = await runSchemathesis([
      'run',
      `${targets.loadBalancer}/openapi.json`,
      '--url',
      targets.loadBalancer,
      '--checks',
      CHECKS.join(','),
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      String(SEED),
      '--workers',
      '2',
      '--max-time',
      String(MAX_SECONDS),
      '--request-timeout',
      '10',
      '--report',
      'har',
      '--report-har-path',
      har,
    ]);
    const entries = (JSON.parse(readFileSync(har, 'utf8')) as { log: { entries: HarEntry[] } }).log.entries;
    const byStatus = entries.reduce<Record<number, number>>((acc, e) => ({ ...acc, [e.response.status]: (acc[e.response.status] ?? 0) + 1 }), {});
    const contentType = (e: HarEntry) => e.response.headers.find((h) => h.name.toLowerCase() === 'content-type')?.value ?? '';
    const serverErrors = entries.filter((e) => e.response.status >= 500);
    const notProblems = entries.filter((e) => e.response.status >= 400 && !/^application\/problem\+json(;|$)/.test(contentType(e)));
    console.log(
      `schemathesis ${SCHEMATHESIS_VERSION} (seed ${SEED}, max ${MAX_EXAMPLES} examples per operation, ${MAX_SECONDS} s, checks ${CHECKS.join(', ')}): ` +
        `${entries.length} requests in ${((Date.now() - started) / 1000).toFixed(0)} s, by status ${JSON.stringify(byStatus)}, exit ${code}\n` +
        `e.g. 404: ${[...new Set(entries.filter((e) => e.response.status === 404).map((e) => `${e.request.method} ${new URL(e.request.url).pathname}`))].slice(0, 3).join(', ')}\n` +
        output.split('\n').filter((l) => /passed|failed|error|Summary|operations|test cases|Seed/i.test(l)).slice(-12).join('\n'),
    );
    const show = (list: HarEntry[]) => list.slice(0, 5).map((e) => `${e.request.method} ${e.request.url} -> ${e.response.status} ${contentType(e)}`).join('\n');
    expect(entries.length, 'requests schemathesis sent').toBeGreaterThan(50);
    expect(serverErrors, `5xx responses:\n${show(serverErrors)}`).toEqual([]);
    expect(notProblems, `errors that are not problem+json:\n${show(notProblems)}`).toEqual([]);
    expect(code, `schemathesis failed:\n${output.slice(-6000)}`).toBe(0);
  });
});
