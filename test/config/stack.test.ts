import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binary, run } from './support/tools.ts';

describe('the stack configs, checked by the programs that load them', () => {
  it('the collector validates its config, with the custom build (so the manifest covers every component used)', () => {
    const result = run(binary('otelcol-dice'), ['validate', '--config=otel-collector/config.yaml'], {
      OTELCOL_STORAGE_DIR: mkdtempSync(join(tmpdir(), 'otelcol-')),
    });
    expect(result.status, result.output).toBe(0);
  });

  it('HAProxy accepts its config, in compose (all interfaces) and native (one address) form', () => {
    for (const env of [{}, { LISTEN_HOST: '127.0.1.1' }] as Record<string, string>[]) {
      const result = run('haproxy', ['-c', '-f', 'observability/haproxy/haproxy.cfg'], env);
      expect(result.status, result.output).toBe(0);
    }
  });

  it('docker compose would accept the compose file (compose-go, as `docker compose config`), and Tempo and Loki configs are strict YAML', () => {
    const result = run('bash', ['scripts/compose-check/check.sh', '-q']);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(/docker-compose\.yml: valid/);
  });
});
