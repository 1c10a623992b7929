// `npm run test:compose` set-up: an engine (the machine's, or ours: scripts/compose/engine.sh), the
// images compose pulls (scripts/compose/images.sh builds stand-ins where no registry answers), then
// `docker compose up --build --wait` from an empty project: no container, network, volume or built
// image of it left from an earlier run. Teardown removes the project and stops our engine.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ROOT } from '../../../scripts/native/stack.ts';
import type { Targets } from '../../e2e/support/targets.ts';
import { compose, composeEnv, containers, docker, dockerLogs, LB_PORT, PROJECT, PUBLISH_ADDRESS, run } from './compose.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    targets: Targets;
    /** Seconds each `up` took, by when it ran. */
    composeUp: { first: number };
    /** Epoch ms of each service's first start, healthy and exit (die) event during the first up. */
    composeEvents: { t0: number; started: Record<string, number>; healthy: Record<string, number>; died: Record<string, number>; reused?: boolean };
  }
}

let startedEngine = false;
let recorderDir = '';

function log(line: string) {
  process.stderr.write(`[compose] ${line}\n`);
}

/** Runs engine.sh start and takes the environment it prints (DOCKER_HOST, DOCKER_CONFIG). */
function startEngine() {
  const r = spawnSync('bash', [join(ROOT, 'scripts/compose/engine.sh'), 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('scripts/compose/engine.sh start failed (its output is above)');
  for (const line of r.stdout.split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m) process.env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  }
  startedEngine = (process.env['DOCKER_HOST'] ?? '').includes('/run/dice-engine/');
}

export async function setup(project: TestProject) {
  const t0 = Date.now();
  startEngine();
  const images = await run('bash', [join(ROOT, 'scripts/compose/images.sh')], { prefix: 'images' });
  if (images.code !== 0) throw new Error('scripts/compose/images.sh failed (its output is above)');

  // DICE_COMPOSE_REUSE=1 (while working on a test): the project left running by DICE_COMPOSE_KEEP=1
  // and its recorder directory, instead of a first run from nothing; the start-order test skips.
  const reuse = process.env['DICE_COMPOSE_REUSE'] === '1' && !!process.env['DICE_RECORDER_DIR'];
  recorderDir = reuse ? process.env['DICE_RECORDER_DIR']! : mkdtempSync(join(tmpdir(), 'dice-compose-recorder-'));
  process.env['DICE_RECORDER_DIR'] = recorderDir;
  if (reuse) {
    const up = await compose(['up', '--wait', '--wait-timeout', '600']);
    project.provide('composeEvents', { t0: Date.now(), started: {}, healthy: {}, died: {}, reused: true });
    provideTargets(project, up.seconds);
    return;
  }

  log(`removing what an earlier run of project ${PROJECT} left (containers, networks, volumes, built images)`);
  await compose(['down', '--volumes', '--remove-orphans', '--rmi', 'local', '--timeout', '5'], { quiet: true });
  // Build caches of both builders: BuildKit's, and the classic builder's, which is its dangling
  // intermediate images. The stand-in images are tagged, so they stay, as pulled images would.
  docker(['builder', 'prune', '--all', '--force']);
  docker(['image', 'prune', '--force']);

  log('docker compose up --build --wait (first run: builds dice-api and traffic)');
  // The engine's own record of when each container started, turned healthy and exited: the
  // order the tests check, not what compose printed.
  const watch = spawn('docker', ['events', '--format', '{{json .}}', '--filter', 'type=container', '--filter', `label=com.docker.compose.project=${PROJECT}`], { env: composeEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  let eventLines = '';
  watch.stdout.on('data', (c: Buffer) => { eventLines += c; });
  const t0Up = Date.now();
  const up = await compose(['up', '--build', '--wait', '--wait-timeout', '900', '--quiet-pull']);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  watch.kill();
  const composeEvents = { t0: t0Up, started: {} as Record<string, number>, healthy: {} as Record<string, number>, died: {} as Record<string, number> };
  for (const line of eventLines.split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as { Action: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
    const service = e.Actor.Attributes['com.docker.compose.service'];
    const at = Math.floor(e.timeNano / 1e6);
    const bucket = e.Action === 'start' ? composeEvents.started : e.Action === 'health_status: healthy' ? composeEvents.healthy : e.Action === 'die' ? composeEvents.died : undefined;
    if (service && bucket && bucket[service] === undefined) bucket[service] = at;
  }
  project.provide('composeEvents', composeEvents);
  log(`first up --build --wait: ${up.seconds.toFixed(1)} s`);

  provideTargets(project, up.seconds);
  log(`set-up done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

function provideTargets(project: TestProject, firstUpSeconds: number) {
  const running = containers();
  const collectorLog = join(recorderDir, 'otel-collector.log');
  writeFileSync(collectorLog, dockerLogs(running.get('otel-collector')!.Id));

  const base = `http://${PUBLISH_ADDRESS}`;
  // What compose does not publish is reached at the container's address on the project's network:
  // the host has an address on each bridge, internal ones included.
  const at = (service: string, port: number, path = '') => {
    const c = running.get(service);
    const ip = Object.values(c?.NetworkSettings.Networks ?? {}).map((n) => n.IPAddress).find(Boolean);
    if (!ip) throw new Error(`${service} has no address on the project's networks`);
    return `http://${ip}:${port}${path}`;
  };
  project.provide('composeUp', { first: firstUpSeconds });
  project.provide('targets', {
    mode: 'compose',
    loadBalancer: `${base}:${LB_PORT}`,
    loadBalancerMetrics: at('load-balancer', 8405, '/metrics'),
    admins: [at('dice-api-1', 9000), at('dice-api-2', 9000)],
    prometheus: `${base}:9090`,
    alertmanager: at('alertmanager', 9093),
    alertWebhook: at('alert-webhook', 9094),
    collectorOtlp: at('otel-collector', 4318),
    collectorMetrics: at('otel-collector', 8888, '/metrics'),
    otlpRecorderDir: recorderDir,
    collectorLog,
    absent: {
      tempo: 'stood in by the OTLP recorder (test/compose/docker-compose.stand-ins.yml): Tempo is AGPL and may not run here',
      loki: 'stood in by the OTLP recorder (test/compose/docker-compose.stand-ins.yml): Loki is AGPL and may not run here',
    },
  });
}

export async function teardown() {
  if (process.env['DICE_COMPOSE_KEEP'] === '1') {
    log(`DICE_COMPOSE_KEEP=1: leaving project ${PROJECT} running (docker compose -p ${PROJECT} down -v to remove it)`);
    return;
  }
  await compose(['down', '--volumes', '--remove-orphans', '--timeout', '10'], { quiet: true, allowFailure: true });
  if (recorderDir) rmSync(recorderDir, { recursive: true, force: true });
  if (startedEngine) spawnSync('bash', [join(ROOT, 'scripts/compose/engine.sh'), 'stop'], { stdio: 'inherit' });
}
