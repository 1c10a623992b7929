// docker-compose.yml as Docker would run it, without a Docker engine: the project normalized by
// compose-go (scripts/compose-check, the loader `docker compose config` uses, .env interpolated),
// read here for what a syntax check cannot see: hosts where `up` fails, healthchecks that cost
// more than they prove, ports left unpublished, limits below what Tempo and Loki start.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeHealthcheck } from '../support/healthcheck-probe.ts';
import { ROOT } from './support/tools.ts';

interface Mount {
  type: string;
  source?: string;
  target: string;
  read_only?: boolean;
  bind?: { propagation?: string; selinux?: string };
}
interface Port {
  host_ip?: string;
  target: number;
  published?: string;
}
interface Service {
  image?: string;
  build?: { context: string; dockerfile_inline?: string };
  command?: string[];
  healthcheck?: { test?: string[] };
  mem_limit?: string;
  pids_limit?: number;
  stop_grace_period?: string;
  networks?: Record<string, unknown>;
  ports?: Port[];
  volumes?: Mount[];
  profiles?: string[];
}
interface Project {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
}

/** The normalized project, as `docker compose config` prints it; `env` overrides .env. */
function loadCompose(env: Record<string, string> = {}): Project {
  const result = spawnSync('bash', ['scripts/compose-check/check.sh'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`compose-check failed:\n${result.stderr}`);
  return parse(result.stdout) as Project;
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const yamlFile = (path: string) => parse(read(path)) as Record<string, any>;

/** Go duration strings as Tempo, Loki and compose-go write them ("1m0s", "5s", "500ms"). */
function seconds(duration: string | undefined): number | undefined {
  if (duration === undefined) return undefined;
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  const rest = duration.replace(/(\d+(?:\.\d+)?)(ms|h|m|s)/g, (_, n: string, unit: string) => {
    total += Number(n) * units[unit]!;
    return '';
  });
  if (rest !== '' || duration === '') throw new Error(`not a duration: "${duration}"`);
  return total;
}

const bytes = (limit: string | undefined) => (limit === undefined ? Infinity : Number(limit));

let project: Project;
beforeAll(() => {
  project = loadCompose();
});

describe('docker compose up starts on Docker Desktop (macOS, Windows), rootless, snap and plain Linux Docker', () => {
  // Paths present on every Docker host, or on the Linux VM that Docker Desktop resolves them in.
  const HOST_PATHS_EVERYWHERE = ['/', '/sys', '/var/run'];

  it('no bind mount asks for mount propagation (Docker refuses rslave where / is not shared: node_exporter#2742)', () => {
    const propagated = Object.entries(project.services).flatMap(([name, s]) =>
      (s.volumes ?? []).filter((v) => v.bind?.propagation).map((v) => `${name}: ${v.source}:${v.target} (${v.bind!.propagation})`),
    );
    expect(propagated).toEqual([]);
  });

  it('host paths mounted are ones every Docker host has (no /var/lib/docker, missing on snap and rootless Docker)', () => {
    const outside = Object.entries(project.services).flatMap(([name, s]) =>
      (s.volumes ?? [])
        .filter((v) => v.type === 'bind' && !v.source!.startsWith(`${ROOT}/`))
        .filter((v) => !HOST_PATHS_EVERYWHERE.includes(v.source!.replace(/(.)\/$/, '$1')))
        .map((v) => `${name}: ${v.source}`),
    );
    expect(outside).toEqual([]);
  });

  it('every service starts by default: none hides behind a profile', () => {
    expect(Object.keys(project.services).sort()).toEqual(
      Object.keys(parse(read('docker-compose.yml')).services as Record<string, unknown>).sort(),
    );
  });

  it('SELinux hosts: each file of the repository is mounted with :z, and no host system path is relabelled', () => {
    const wrong = Object.entries(project.services).flatMap(([name, s]) =>
      (s.volumes ?? [])
        .filter((v) => v.type === 'bind')
        .filter((v) => (v.source!.startsWith(`${ROOT}/`) ? v.bind?.selinux !== 'z' : v.bind?.selinux !== undefined))
        .map((v) => `${name}: ${relative(ROOT, v.source!) || v.source} selinux=${v.bind?.selinux}`),
    );
    expect(wrong).toEqual([]);
  });

  it('the README states the Docker Engine and Compose versions the file needs', () => {
    const readme = read('README.md');
    const engine = Number(/Docker Engine (\d+)(?:\.\d+)? or later/.exec(readme)?.[1]);
    const compose = /Docker Compose 2\.(\d+)(?:\.\d+)? or later/.exec(readme)?.[1];
    expect(engine, 'README: "Docker Engine NN or later"').toBeGreaterThan(0);
    expect(compose, 'README: "Docker Compose 2.NN or later"').toBeDefined();
    const used = read('docker-compose.yml');
    // Engine 25.0 added the healthcheck start interval; Compose passes start_interval on from
    // 2.24.0 (docker/compose fb3868ffa) and builds dockerfile_inline from 2.17.0.
    if (/^\s+start_interval:/m.test(used)) {
      expect(engine).toBeGreaterThanOrEqual(25);
      expect(Number(compose)).toBeGreaterThanOrEqual(24);
    }
    if (/^\s+dockerfile_inline:/m.test(used)) expect(Number(compose)).toBeGreaterThanOrEqual(17);
  });
});

describe('healthchecks prove the service answers, at no cost to it', () => {
  it('no healthcheck starts a second Node process (in a small cgroup each took longer than its timeout)', () => {
    const nodeChecks = Object.entries(project.services)
      .filter(([, s]) => {
        const test = s.healthcheck?.test ?? [];
        const command = test[0] === 'CMD-SHELL' ? (test[1] ?? '').trim().split(/\s+/)[0] : test[1];
        return command !== undefined && /(^|\/)node$/.test(command);
      })
      .map(([name]) => name);
    expect(nodeChecks).toEqual([]);
  });

  it('every Node service has room for Node and its work (128 MiB or more)', () => {
    const small = Object.entries(project.services)
      .filter(([, s]) => /^node:|^dice-(api|traffic):/.test(s.image ?? ''))
      .filter(([, s]) => bytes(s.mem_limit) < 128 * 1024 * 1024)
      .map(([name, s]) => `${name}: ${s.mem_limit}`);
    expect(small).toEqual([]);
  });

  describe('each bash /dev/tcp check passes on a 200 and fails on a 503 or a closed port', () => {
    let status = 200;
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer((_req, res) => res.writeHead(status).end('x'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => server.close());

    const bashChecks = () =>
      Object.entries(project.services)
        .filter(([, s]) => s.healthcheck?.test?.[1] === 'bash')
        .map(([name, s]) => ({ name, script: s.healthcheck!.test![3]! }));

    it('alert-webhook and both replicas use one', () => {
      expect(bashChecks().map((c) => c.name)).toEqual(expect.arrayContaining(['alert-webhook', 'dice-api-1', 'dice-api-2']));
    });

    it('200: healthy; 503: unhealthy; nothing listening: unhealthy', async () => {
      const closed = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      for (const { name, script } of bashChecks()) {
        status = 200;
        expect(await probeHealthcheck(script, port), `${name} on a 200`).toBe(0);
        status = 503;
        expect(await probeHealthcheck(script, port), `${name} on a 503`).not.toBe(0);
        expect(await probeHealthcheck(script, closed), `${name} with nothing listening`).not.toBe(0);
      }
    });
  });
});

describe('ports without authentication are published on PUBLISH_ADDRESS only', () => {
  const ALWAYS_PUBLIC: Record<string, number[]> = { 'load-balancer': [80], grafana: [3000] };

  it('every other published port binds PUBLISH_ADDRESS (set here to 192.0.2.7)', () => {
    const elsewhere = loadCompose({ PUBLISH_ADDRESS: '192.0.2.7' });
    const wrong = Object.entries(elsewhere.services).flatMap(([name, s]) =>
      (s.ports ?? [])
        .filter((p) => !(ALWAYS_PUBLIC[name] ?? []).includes(p.target))
        .filter((p) => p.host_ip !== '192.0.2.7')
        .map((p) => `${name}: ${p.host_ip ?? '0.0.0.0'}:${p.published}->${p.target}`),
    );
    expect(wrong).toEqual([]);
  });

  it('Tempo (3200) and Loki (3100) are reachable from the host, for E2E_STACK=external', () => {
    const published = (name: string) => (project.services[name]!.ports ?? []).map((p) => `${p.host_ip}:${p.published}->${p.target}`);
    expect(published('tempo')).toEqual(['127.0.0.1:3200->3200']);
    expect(published('loki')).toEqual(['127.0.0.1:3100->3100']);
  });

  it('a service that publishes a port is on a network that is not internal (Docker publishes nothing from an internal one)', () => {
    const unreachable = Object.entries(project.services)
      .filter(([, s]) => (s.ports ?? []).length > 0)
      .filter(([, s]) => Object.keys(s.networks ?? {}).every((n) => project.networks[n]?.internal))
      .map(([name]) => name);
    expect(unreachable).toEqual([]);
  });
});

describe('Tempo 3.0.3 and Loki 3.7.6 inside their limits', () => {
  const tempo = () => yamlFile('observability/tempo/tempo.yaml');
  const loki = () => yamlFile('observability/loki/loki.yaml');
  // Threads Go needs besides the pools below (runtime, GC, gRPC and HTTP servers): a margin, not a measurement.
  const RUNTIME_THREADS = 128;

  it('Tempo answers searches up to a few seconds ago (query_frontend.query_end_cutoff, 30s by default)', () => {
    // modules/frontend/config.go at v3.0.3: `query_end_cutoff` in query_frontend, default 30s,
    // which must stay below search.query_backend_after (15m).
    const cutoff = seconds(tempo()['query_frontend']?.['query_end_cutoff']) ?? 30;
    expect(cutoff).toBeGreaterThan(0);
    expect(cutoff).toBeLessThanOrEqual(10);
  });

  it("Tempo's stop grace period covers its HTTP drain and the live-store's cut to the WAL", () => {
    // cmd/tempo/app/app.go at v3.0.3: on SIGTERM, shutdown_delay (default 0), then every module
    // stops: the HTTP server drains for server.graceful_shutdown_timeout (dskit default 30s),
    // the live-store writes its in-memory traces to the WAL. Docker's default is 10s.
    const config = tempo();
    const drain = seconds(config['server']?.['graceful_shutdown_timeout']) ?? 30;
    const delay = seconds(config['shutdown_delay']) ?? 0;
    const grace = seconds(project.services['tempo']!.stop_grace_period) ?? 10;
    expect(grace).toBeGreaterThanOrEqual(delay + drain + 15);
  });

  it("each service's pids_limit holds its worker pools' threads (a thread limit hit aborts a Go process)", () => {
    const pools: Record<string, { what: string; threads: number }[]> = {
      tempo: [
        // modules/storage/config.go at v3.0.3: storage.trace.pool.max_workers, default 400.
        { what: 'storage.trace.pool.max_workers', threads: tempo()['storage']?.['trace']?.['pool']?.['max_workers'] ?? 400 },
      ],
      loki: [
        // pkg/compactor/config.go at v3.7.6: compactor.retention_delete_worker_count, default 150.
        { what: 'compactor.retention_delete_worker_count', threads: loki()['compactor']?.['retention_delete_worker_count'] ?? 150 },
        // pkg/storage/factory.go at v3.7.6: storage_config.max_parallel_get_chunk, default 150.
        { what: 'storage_config.max_parallel_get_chunk', threads: loki()['storage_config']?.['max_parallel_get_chunk'] ?? 150 },
        // pkg/ingester/ingester.go at v3.7.6: ingester.concurrent_flushes, default 32.
        { what: 'ingester.concurrent_flushes', threads: loki()['ingester']?.['concurrent_flushes'] ?? 32 },
      ],
    };
    for (const [service, list] of Object.entries(pools)) {
      const needed = list.reduce((sum, p) => sum + p.threads, RUNTIME_THREADS);
      const limit = project.services[service]!.pids_limit ?? Infinity;
      expect(limit, `${service}: ${list.map((p) => `${p.what}=${p.threads}`).join(' + ')} + ${RUNTIME_THREADS}`).toBeGreaterThanOrEqual(needed);
    }
  });

  it("Loki's results cache is used: query_range.cache_results is on wherever results_cache is configured", () => {
    // pkg/querier/queryrange/queryrangebase/roundtrip.go at v3.7.6: cache_results defaults to
    // false, and the results_cache block is then ignored.
    const queryRange = loki()['query_range'] ?? {};
    expect(queryRange['cache_results'] ?? false).toBe(queryRange['results_cache'] !== undefined);
  });
});

describe('the traffic image holds what traffic.mjs imports, and nothing else', () => {
  it('builds from scripts/traffic, whose own package.json and lockfile pin only autocannon, at the root version', () => {
    const traffic = project.services['traffic']!;
    expect(relative(ROOT, traffic.build!.context)).toBe('scripts/traffic');
    // A Dockerfile, not dockerfile_inline: the classic builder (no buildx) cannot read an inline one.
    expect(traffic.build!.dockerfile_inline).toBeUndefined();
    expect(read('scripts/traffic/Dockerfile')).toMatch(/^COPY package\.json package-lock\.json \.\/$/m);

    const root = JSON.parse(read('package.json')) as { devDependencies: Record<string, string> };
    const own = JSON.parse(read('scripts/traffic/package.json')) as { dependencies: Record<string, string> };
    const lock = JSON.parse(read('scripts/traffic/package-lock.json')) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
    expect(own.dependencies).toEqual({ autocannon: root.devDependencies['autocannon'] });
    expect(lock.packages['']!.dependencies).toEqual(own.dependencies);
    expect(lock.packages['node_modules/autocannon']!.version).toBe(root.devDependencies['autocannon']);

    const imported = [...read('scripts/traffic/traffic.mjs').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]!);
    expect(imported.filter((name) => !name.startsWith('node:'))).toEqual(Object.keys(own.dependencies));
  });
});
