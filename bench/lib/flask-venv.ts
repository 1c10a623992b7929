// The reference architecture's Flask app needs Flask, prometheus-flask-exporter and gunicorn from
// PyPI. They go into a venv outside the repository, named by the pinned versions and the Python
// version, so that a second run (or another checkout) reuses it; a changed pin makes a new one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const FLASK_DIR = join(import.meta.dirname, '..', 'reference-flask');
const REQUIREMENTS = join(FLASK_DIR, 'requirements.txt');

export interface FlaskVenv {
  dir: string;
  python: string;
  gunicorn: string;
  /** name==version of every pinned package, as installed. */
  pins: string[];
  pythonVersion: string;
}

function pinsOf(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
}

export function ensureFlaskVenv(log: (line: string) => void): FlaskVenv {
  const python = process.env.BENCH_PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${python} is not usable (${probe.stderr || probe.error}); install Python 3 with venv, or set BENCH_PYTHON`);
  const pythonVersion = probe.stdout.trim();
  const requirements = readFileSync(REQUIREMENTS, 'utf8');
  const pins = pinsOf(requirements);
  const version = (name: string) => pins.find((p) => p.startsWith(`${name}==`))?.split('==')[1] ?? 'unpinned';
  const name = `flask-${version('flask')}-pfe-${version('prometheus-flask-exporter')}-gunicorn-${version('gunicorn')}-py${pythonVersion}`;
  const dir = join(process.env.DICE_STACK_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dice-stack'), 'venv', name);
  const stamp = join(dir, 'requirements.txt');
  const venv = { dir, python: join(dir, 'bin', 'python'), gunicorn: join(dir, 'bin', 'gunicorn'), pins, pythonVersion };
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === requirements) {
    log(`  flask venv: cached at ${dir}`);
    return venv;
  }
  const started = Date.now();
  log(`  flask venv: creating ${dir} (Python ${pythonVersion}; ${pins.length} pinned packages from PyPI)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const run = (what: string, command: string, args: string[]) => {
    log(`  flask venv: ${what}`);
    const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`flask venv: ${what} failed (exit ${result.status}); check that PyPI is reachable and ${REQUIREMENTS} pins exist`);
    }
  };
  run('python -m venv', python, ['-m', 'venv', dir]);
  // --no-deps: every dependency is pinned in the file, so nothing unpinned slips in; pip check
  // then proves the pins are consistent.
  run(`pip install ${pins.join(' ')}`, venv.python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', '--no-deps', '-r', REQUIREMENTS]);
  run('pip check', venv.python, ['-m', 'pip', 'check', '--disable-pip-version-check']);
  writeFileSync(stamp, requirements);
  log(`  flask venv: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return venv;
}
