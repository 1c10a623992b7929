// docker-compose.yml, run for real: on a Docker engine, with only the AGPL services stood in
// (test/compose/docker-compose.stand-ins.yml). What a user meets after `docker compose up`, and what
// an operator does next: recreate a replica, roll out a code change, restart the stack, saturate it.
// The e2e files (pipeline, dashboards) run against the same stack in this suite too.
import { connect } from 'node:net';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { describe, expect, inject, it } from 'vitest';
import { ROOT } from '../../scripts/native/stack.ts';
import { promQuery, waitFor } from '../e2e/support/poll.ts';
import { seconds } from '../faults/support/observe.ts';
import { openLoopLoad } from '../faults/support/open-loop.ts';
import { compose, containers, docker, dockerLogs, mergedConfig, memoryCgroup, run, type Inspected } from './support/compose.ts';

const targets = inject('targets');
const events = inject('composeEvents');


/**
 * Runs `work` under the fault suite's open-loop load (GET /roll at `rate` a second, every request
 * recorded, bounded in time); returns its result and every request that did not answer 200.
 */
async function underLoad<T>(rate: number, work: () => Promise<T>): Promise<{ result: T; sent: number; failed: string[] }> {
  const load = openLoopLoad(targets.loadBalancer, ['/roll?dice=1&sides=6'], rate, 600);
  let result: T;
  try {
    result = await work();
  } finally {
    await load.stop();
  }
  const failed = load.samples.filter((x) => x.status !== 200).map((x) => `${x.status || x.error} at ${new Date(x.at).toISOString()}`);
  return { result, sent: load.samples.length, failed };
}

/** Waits until the compose service's container is running and healthy; returns it. */
async function healthy(service: string, timeoutMs = 120_000): Promise<Inspected> {
  const { value } = await waitFor(`${service} healthy`, async () => {
    const c = containers().get(service);
    return c?.State.Health?.Status === 'healthy' ? c : undefined;
  }, { timeoutMs, intervalMs: 500 });
  return value;
}

describe('docker compose up --build --wait, from an empty Docker', () => {
  it('brings every service up, healthy where it has a check, each after what it depends on', async (ctx) => {
    if (events.reused) ctx.skip('DICE_COMPOSE_REUSE=1: the project was already up, so there is no first start to check');
    const config = await mergedConfig();
    const running = containers();
    const rows: string[] = [];
    const problems: string[] = [];
    for (const [name, service] of Object.entries(config.services)) {
      if (service.profiles?.length) continue; // grafana: stood out (AGPL)
      const c = running.get(name);
      if (!c) { problems.push(`${name}: no container`); continue; }
      const started = events.started[name];
      const healthyAt = events.healthy[name];
      const hasCheck = !!service.healthcheck && !service.healthcheck.disable;
      if (name === 'volume-init') {
        if (c.State.ExitCode !== 0) problems.push(`volume-init exited ${c.State.ExitCode}`);
      } else if (!c.State.Running) problems.push(`${name}: ${c.State.Status}`);
      else if (hasCheck && c.State.Health?.Status !== 'healthy') problems.push(`${name}: ${c.State.Health?.Status ?? 'no health status'}`);
      for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
        const ready = condition === 'service_healthy' ? events.healthy[dep] : condition === 'service_completed_successfully' ? events.died[dep] : events.started[dep];
        if (ready === undefined || started === undefined) problems.push(`${name} -> ${dep} (${condition}): no event for ${ready === undefined ? dep : name}`);
        else if (started < ready) problems.push(`${name} started ${seconds(ready - started)} before ${dep} was ${condition.replace('service_', '')}`);
      }
      const t = (at?: number) => (at === undefined ? '-' : seconds(at - events.t0));
      rows.push(`  ${name.padEnd(16)} started ${t(started).padStart(7)}  healthy ${t(healthyAt).padStart(7)}  ${c.State.Health?.Status ?? c.State.Status}`);
    }
    console.log(`first up from an empty project: ${inject('composeUp').first.toFixed(1)} s\n${rows.join('\n')}`);
    expect(problems).toEqual([]);
  });

  it('starts the collector without a deprecation warning (its log, as the e2e reads it)', () => {
    expect(readFileSync(targets.collectorLog!, 'utf8')).not.toMatch(/deprecat/i);
  });
});

describe('npm run verify, as a user runs it right after up', () => {
  it('proves every hop (Tempo and Loki at the recorder that stands in for them), exit 0', async () => {
    const r = await run(process.execPath, [join(ROOT, 'scripts/verify/verify.ts'), '--stack', 'compose', '--recorder', targets.otlpRecorderDir!], { prefix: 'verify' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/recorder/i);
  });
});

describe('every container', () => {
  it('has a read-only root filesystem where compose asks for one, and rotated logs', async () => {
    const config = await mergedConfig();
    const rows: string[] = [];
    for (const [name, c] of containers()) {
      const want = config.services[name]?.read_only ?? false;
      expect(c.HostConfig.ReadonlyRootfs, `${name} read_only`).toBe(want);
      const { Type, Config } = c.HostConfig.LogConfig;
      rows.push(`  ${name.padEnd(16)} read-only ${String(c.HostConfig.ReadonlyRootfs).padEnd(5)} log ${Type} ${JSON.stringify(Config)}`);
      expect(Type, `${name} log driver`).toBe('local');
      expect(Config['max-size'], `${name} log max-size`).toMatch(/^\d+m$/);
      expect(Number(Config['max-file']), `${name} log max-file`).toBeGreaterThan(1);
    }
    console.log(rows.join('\n'));
  });

  it('holds under traffic: no restart, no write refused by a read-only filesystem', async () => {
    const problems: string[] = [];
    for (const [name, c] of containers()) {
      if (c.RestartCount > 0) problems.push(`${name} restarted ${c.RestartCount} times`);
      // strerror(EROFS); not the word "erofs", a filesystem node-exporter lists at start.
      const refused = dockerLogs(c.Id).split('\n').filter((l) => /read-only file system/i.test(l));
      if (refused.length) problems.push(`${name}: ${refused[0]}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('HAProxy answers its own errors in problem+json', () => {
  /** Sends raw bytes to the balancer and returns its answer's status line and headers. */
  function raw(bytes: string, { waitMs = 15_000 } = {}): Promise<{ status: number; contentType: string; body: string }> {
    const url = new URL(targets.loadBalancer);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port || 80), url.hostname);
      let data = '';
      socket.setTimeout(waitMs, () => { socket.destroy(); reject(new Error(`no answer in ${waitMs} ms`)); });
      socket.on('data', (c) => { data += c.toString('latin1'); });
      socket.on('error', reject);
      socket.on('close', () => {
        const [head = '', body = ''] = data.split('\r\n\r\n');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
        resolve({ status, contentType: /^content-type: *(.*)$/im.exec(head)?.[1]?.trim() ?? '', body });
      });
      socket.write(bytes);
    });
  }
  const version = () => docker(['exec', containers().get('load-balancer')!.Id, 'haproxy', '-v']).split('\n')[0]!;
  const atLeast31 = () => { const [maj, min] = (/version (\d+)\.(\d+)/.exec(version()) ?? []).slice(1).map(Number); return maj! > 3 || (maj === 3 && min! >= 1); };

  it('a malformed request: 400', async () => {
    const r = await raw('GET /roll HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    console.log(`${version()}: malformed -> ${r.status} ${r.contentType}`);
    expect(r.status).toBe(400);
    expect(r.contentType).toBe('application/problem+json');
    expect(JSON.parse(r.body)).toMatchObject({ status: 400 });
  });

  it('a head not sent in time: 408', async () => {
    const r = await raw('GET /roll HTTP/1.1\r\nHost: x\r\n', { waitMs: 20_000 });
    expect(r.status).toBe(408);
    expect(r.contentType).toBe('application/problem+json');
  });

  it('an oversized URI: 414 (HAProxy 3.1+) or 400, and oversized headers: 431 or 400', async () => {
    const newer = atLeast31();
    const uri = await raw(`GET /roll?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const headers = await raw(`GET /roll HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    console.log(`${version()}: long URI -> ${uri.status} ${uri.contentType}; long header -> ${headers.status} ${headers.contentType}`);
    expect(uri.status).toBe(newer ? 414 : 400);
    expect(headers.status).toBe(newer ? 431 : 400);
    expect(uri.contentType).toBe('application/problem+json');
    expect(headers.contentType).toBe('application/problem+json');
  });
});

describe('operating it', () => {
  it('a replica recreated takes traffic again through the same HAProxy process, via Docker DNS, with no failed request at 20 req/s', async () => {
    const lb = containers().get('load-balancer')!;
    const before = containers().get('dice-api-1')!;
    const { result: after, sent, failed } = await underLoad(20, async () => {
      await compose(['up', '-d', '--force-recreate', '--no-deps', 'dice-api-1']);
      const fresh = await healthy('dice-api-1');
      // Served again: the new container's own access log has /roll requests, which only the
      // balancer sends it (the loop here and the traffic service).
      await waitFor('the recreated dice-api-1 serving requests', async () => (/"http\.route":"\/roll"/.test(dockerLogs(fresh.Id)) ? true : undefined), { timeoutMs: 60_000 });
      return fresh;
    });
    const lbNow = containers().get('load-balancer')!;
    console.log(`recreate dice-api-1: ${sent} requests, ${failed.length} failed; new container ${after.Id.slice(0, 12)} (was ${before.Id.slice(0, 12)})`);
    expect(after.Id).not.toBe(before.Id);
    expect(lbNow.Id).toBe(lb.Id);
    expect(lbNow.State.StartedAt).toBe(lb.State.StartedAt);
    expect(failed).toEqual([]);
  });

  it('a rollout of a code change (scripts/compose/rollout.sh) fails no request at 20 req/s', async () => {
    // A change to the code: a module the build compiles into dist/ (so the runtime image changes),
    // which nothing imports; removed afterwards.
    const marker = join(ROOT, 'apps/dice-api/src/compose-test-change.ts');
    writeFileSync(marker, `export const changedAt = '${new Date().toISOString()}';\n`);
    const imagesBefore = ['dice-api-1', 'dice-api-2'].map((n) => containers().get(n)!.Image);
    try {
      const { result, sent, failed } = await underLoad(20, () => run('bash', [join(ROOT, 'scripts/compose/rollout.sh')], { prefix: 'rollout' }));
      console.log(`rollout: ${sent} requests, ${failed.length} failed, ${result.seconds.toFixed(0)} s`);
      expect(result.code).toBe(0);
      expect(failed).toEqual([]);
    } finally {
      rmSync(marker, { force: true });
    }
    // Both replicas run the new image, the same one.
    const after = ['dice-api-1', 'dice-api-2'].map((n) => containers().get(n)!.Image);
    expect(after[0]).not.toBe(imagesBefore[0]);
    expect(after[1]).toBe(after[0]);
  });

  it('a replica at saturation for 60 s stays inside its mem_limit, not OOM-killed', async () => {
    const replicas = ['dice-api-1', 'dice-api-2'].map((n) => containers().get(n)!);
    for (const r of replicas) writeFileSync(join(memoryCgroup(r.Id), 'memory.max_usage_in_bytes'), '0');
    const result = await autocannon({ url: `${targets.loadBalancer}/roll?dice=3&sides=6`, connections: 64, duration: 60 });
    const rows = replicas.map((r) => {
      const peak = Number(readFileSync(join(memoryCgroup(r.Id), 'memory.max_usage_in_bytes'), 'utf8'));
      const now = containers().get(r.Config.Labels['com.docker.compose.service']!)!;
      return { name: now.Config.Labels['com.docker.compose.service']!, peakMiB: peak / 2 ** 20, limitMiB: now.HostConfig.Memory / 2 ** 20, oom: now.State.OOMKilled, restarts: now.RestartCount - r.RestartCount, sameContainer: now.Id === r.Id };
    });
    console.log(`saturation 60 s through the balancer: ${Math.round(result.requests.average)} req/s, ${result.non2xx} non-2xx, ${result.errors} errors\n` +
      rows.map((r) => `  ${r.name}: peak ${r.peakMiB.toFixed(1)} MiB of ${r.limitMiB} MiB, OOMKilled ${r.oom}, restarts ${r.restarts}`).join('\n'));
    for (const r of rows) {
      expect(r.oom, `${r.name} OOMKilled`).toBe(false);
      expect(r.restarts, `${r.name} restarts`).toBe(0);
      expect(r.sameContainer, `${r.name} same container`).toBe(true);
      expect(r.peakMiB).toBeLessThan(r.limitMiB);
    }
  });

  it('docker compose down, then up: Prometheus keeps its series (named volume), every service healthy again', async () => {
    const query = 'count_over_time(up{job="prometheus"}[1h])';
    const before = Number((await promQuery(targets.prometheus, query))[0]?.value[1] ?? 0);
    expect(before).toBeGreaterThan(0);
    await compose(['down', '--timeout', '30']);
    const up = await compose(['up', '--wait', '--wait-timeout', '600']);
    console.log(`warm up (images built, volumes kept): ${up.seconds.toFixed(1)} s`);
    const after = Number((await promQuery(targets.prometheus, query))[0]?.value[1] ?? 0);
    console.log(`up{job="prometheus"} samples in the last hour: ${before} before down, ${after} after up`);
    expect(after).toBeGreaterThanOrEqual(before);
  });
});
