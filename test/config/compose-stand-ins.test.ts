// test/compose/docker-compose.stand-ins.yml may change only what it says it changes: `tempo` and
// `loki` become the OTLP recorder, `grafana` gets a profile nobody enables. Everything else of the
// project `npm run test:compose` runs must be docker-compose.yml as users run it. Both are read as
// `docker compose config` reads them (compose-go, scripts/compose-check).
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/tools.ts';

type Project = { services: Record<string, Record<string, unknown>>; [key: string]: unknown };

function load(files: string[]): Project {
  const result = spawnSync('bash', ['scripts/compose-check/check.sh', ...files.slice(1).flatMap((f) => ['-f', f])], {
    cwd: ROOT,
    encoding: 'utf8',
    // The override needs the directory the recorder writes to; any path does for reading the config.
    // COMPOSE_PROFILES: so that the project includes grafana, which the override puts in a profile.
    env: { ...process.env, DICE_RECORDER_DIR: '/tmp/dice-recorder', COMPOSE_PROFILES: 'grafana-agpl' },
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`compose-check failed:\n${result.stderr}`);
  return parse(result.stdout) as Project;
}

/** The keys of the stand-in services the override may set, and why each. */
const RECORDER_KEYS = ['image', 'command', 'working_dir', 'user', 'environment', 'volumes', 'healthcheck'];

describe('the stand-ins override (test/compose/docker-compose.stand-ins.yml)', () => {
  const base = load(['docker-compose.yml']);
  const merged = load(['docker-compose.yml', 'test/compose/docker-compose.stand-ins.yml']);

  it('leaves every service but tempo, loki and grafana exactly as docker-compose.yml has it', () => {
    const others = Object.keys(base.services).filter((s) => !['tempo', 'loki', 'grafana'].includes(s));
    expect(others.length).toBeGreaterThan(8);
    for (const name of others) expect(merged.services[name], name).toEqual(base.services[name]);
    expect(Object.keys(merged.services).sort()).toEqual(Object.keys(base.services).sort());
    // Networks, volumes, name: equal. Extension keys (x-*) are the files' own anchors, not the project.
    const project = ({ services: _, ...rest }: Project) => Object.fromEntries(Object.entries(rest).filter(([k]) => !k.startsWith('x-')));
    expect(project(merged)).toEqual(project(base));
  });

  it('changes tempo and loki only in what runs the recorder', () => {
    for (const name of ['tempo', 'loki']) {
      const changed = Object.keys({ ...base.services[name], ...merged.services[name] })
        .filter((k) => JSON.stringify(base.services[name]![k]) !== JSON.stringify(merged.services[name]![k]))
        .sort();
      expect(changed.filter((k) => !RECORDER_KEYS.includes(k)), `${name}: keys changed beyond the recorder's`).toEqual([]);
      expect(merged.services[name]!['command']).toEqual(['node', 'test/support/otlp-recorder.ts']);
      // Same networks, limits, hardening and dependencies as the real service: the collector meets
      // the recorder where it would meet Tempo and Loki.
      for (const kept of ['networks', 'mem_limit', 'read_only', 'depends_on', 'pids_limit', 'security_opt', 'expose']) {
        expect(merged.services[name]![kept], `${name}.${kept}`).toEqual(base.services[name]![kept]);
      }
    }
  });

  it('leaves grafana defined but out of `up` (a profile), nothing else changed', () => {
    const { profiles, ...rest } = merged.services['grafana']!;
    expect(profiles).toEqual(['grafana-agpl']);
    expect(rest).toEqual(base.services['grafana']);
  });
});
