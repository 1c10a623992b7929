// Where the instrumented server's CPU goes: both Node variants run once more with --cpu-prof under
// the same saturating load, and the samples taken under load are summed by package (self time).
import { join } from 'node:path';
import { longTasks, summarizeProfile } from './cpu-profile.ts';
import { autocannon, paced } from './load.ts';
import type { ProfileResults, Settings } from './results.ts';
import { startServer, stopServer, type RunningServer, type ServerContext } from './servers.ts';
import { LOAD_CPU, ROLL, SERVER_CPU } from './throughput.ts';

export async function runProfile(options: {
  settings: Settings;
  context: Omit<ServerContext, 'host'>;
  subnet: string;
  outDir: string;
  log: (line: string) => void;
  track: (server: RunningServer | undefined, add: boolean) => void;
  pinStack: (cpus: string) => void;
}): Promise<ProfileResults> {
  const { settings, context, subnet, outDir, log, track, pinStack } = options;
  const results: ProfileResults = { seconds: settings.profileS, variants: {}, longTasks: {} };
  pinStack(LOAD_CPU);
  try {
    for (const [i, instrumented] of [false, true].entries()) {
      const name = instrumented ? 'instrumented' : 'uninstrumented';
      const file = join(outDir, `${name}.cpuprofile`);
      const spawnedAt = performance.now();
      const server = await startServer(
        { name: `profile-${name}`, kind: 'node', instrumented, cpus: SERVER_CPU, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${name}.cpuprofile`] },
        { ...context, host: `${subnet}.${121 + i}` },
      );
      track(server, true);
      try {
        await autocannon(`${server.url}${ROLL}`, settings.warmupS, settings.connections, LOAD_CPU);
        const fromMs = performance.now() - spawnedAt;
        const r = await autocannon(`${server.url}${ROLL}`, settings.profileS, settings.connections, LOAD_CPU);
        const toMs = performance.now() - spawnedAt;
        await stopServer(server); // the profile is written as the process exits
        track(server, false);
        const summary = summarizeProfile(file, { fromMs, toMs });
        results.variants[name] = { requests: r.responses, busyMs: summary.busyMs, byPackage: summary.byPackage, byCaller: summary.byCaller, topFrames: summary.topFrames, file, window: { fromMs, toMs } };
        const top = summary.byPackage.slice(0, 5).map((p) => `${p.name} ${(p.share * 100).toFixed(0)}%`).join(', ');
        log(`  profiled ${name}: ${Math.round(r.rps)} req/s under --cpu-prof; self time: ${top}`);
      } finally {
        await stopServer(server);
        track(server, false);
      }
    }
    // The same at a moderate fixed rate, for what blocks the event loop long enough to make the
    // latency tail (a request arriving during a 20 ms task waits up to 20 ms).
    for (const [i, instrumented] of [false, true].entries()) {
      const name = instrumented ? 'instrumented' : 'uninstrumented';
      const profileName = `${name}-${settings.moderateRate}rps`;
      const file = join(outDir, `${profileName}.cpuprofile`);
      const spawnedAt = performance.now();
      const server = await startServer(
        { name: `profile-${profileName}`, kind: 'node', instrumented, cpus: SERVER_CPU, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${outDir}`, `--cpu-prof-name=${profileName}.cpuprofile`] },
        { ...context, host: `${subnet}.${123 + i}` },
      );
      track(server, true);
      try {
        await autocannon(`${server.url}${ROLL}`, settings.warmupS, settings.connections, LOAD_CPU);
        const fromMs = performance.now() - spawnedAt;
        const r = await paced(`${server.url}${ROLL}`, settings.moderateRate, settings.profileS, LOAD_CPU, { connections: settings.pacedConnections });
        const toMs = performance.now() - spawnedAt;
        await stopServer(server);
        track(server, false);
        const blocked = longTasks(file, { fromMs, toMs });
        results.longTasks[name] = { ...blocked, rate: settings.moderateRate, requests: r.responses, p99Ms: r.latencyMs.p99 };
        const top = blocked.byPackage.slice(0, 4).map((x) => `${x.name} ${(x.share * 100).toFixed(0)}%`).join(', ');
        log(`  profiled ${name} at ${settings.moderateRate} req/s: p99 ${r.latencyMs.p99} ms; ${blocked.count} event-loop blocks >= ${blocked.minMs} ms (max ${blocked.maxMs} ms): ${top}`);
      } finally {
        await stopServer(server);
        track(server, false);
      }
    }
  } finally {
    pinStack('0,1');
  }
  return results;
}
