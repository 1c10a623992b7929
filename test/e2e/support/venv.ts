// Python tools the e2e tests run (schemathesis), each pinned and installed from PyPI into its own
// virtualenv OUTSIDE the repository, cached by version:
//   ${DICE_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dice-stack}/venv/<package>-<version>
// (the same cache root as scripts/native/build-backends.sh, so one variable empties or moves both).
// A venv is used only once its install completed (a marker file); a half-made one is rebuilt.
// DICE_PYTHON picks the interpreter; otherwise the first of python3.12, python3.11, python3 that runs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Venv {
  dir: string;
  /** Path of an executable the venv installed (e.g. `st`). */
  bin(name: string): string;
}

const cacheRoot = () => join(process.env['DICE_STACK_CACHE'] || join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'dice-stack'), 'venv');

function findPython(): string {
  const candidates = process.env['DICE_PYTHON'] ? [process.env['DICE_PYTHON']] : ['python3.12', 'python3.11', 'python3'];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (probe.status === 0 && Number(probe.stdout.trim().split('.')[1]) >= 10) return candidate;
  }
  throw new Error(`no Python 3.10+ with the venv module among ${candidates.join(', ')}; install one (Debian: apt-get install python3-venv) or set DICE_PYTHON`);
}

/** Runs a command, printing each output line with a prefix as it comes (installs take a while). */
function run(command: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-2000);
      for (const line of text.split('\n')) if (line.trim()) log(line.trimEnd());
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${tail}`))));
  });
}

/** The venv holding `pkg==version`, created (with progress on `log`) if it is not cached yet. */
export async function ensureVenv(pkg: string, version: string, log: (line: string) => void = (l) => console.log(`[venv] ${l}`)): Promise<Venv> {
  const dir = join(cacheRoot(), `${pkg}-${version}`);
  const marker = join(dir, '.dice-stack-complete');
  const venv: Venv = { dir, bin: (name) => join(dir, 'bin', name) };
  if (existsSync(marker)) {
    log(`${pkg} ${version}: cached in ${dir}`);
    return venv;
  }
  const started = Date.now();
  const python = findPython();
  log(`${pkg} ${version}: creating ${dir} with ${python}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(cacheRoot(), { recursive: true });
  try {
    await run(python, ['-m', 'venv', dir], log);
    log(`${pkg} ${version}: pip install ${pkg}==${version} (from PyPI)`);
    await run(venv.bin('pip'), ['install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', `${pkg}==${version}`], (line) =>
      // pip's per-file lines are many; its own summaries are enough for progress.
      /^(Collecting|Successfully|ERROR|WARNING)/.test(line) ? log(`  ${line}`) : undefined,
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`installing ${pkg}==${version} into ${dir} failed (PyPI reachable? pip proxy settings?): ${error instanceof Error ? error.message : String(error)}`);
  }
  writeFileSync(marker, `${pkg}==${version}\n`);
  log(`${pkg} ${version}: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return venv;
}
