// Summarises a V8 .cpuprofile (node --cpu-prof) by self time: per package and the top frames.
// Native code with no script (JSON.stringify, writev, crypto) is charged to the package of its
// nearest JavaScript caller, so "winston" includes the JSON it serialises.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Wall time covered by the samples, ms. */
  wallMs: number;
  /** Self time of everything but (idle), ms. */
  busyMs: number;
  byPackage: { name: string; ms: number; share: number }[];
  /** The same samples, Node's own code charged to the package that called it (the writes of winston, the sockets of the OTLP exporter, ...). */
  byCaller: { name: string; ms: number; share: number }[];
  topFrames: { frame: string; package: string; ms: number; share: number }[];
}

const SPECIAL: Record<string, string> = {
  '(garbage collector)': 'V8 garbage collector',
  '(program)': 'V8/native (program)',
  '(idle)': '(idle)',
  '(root)': '(root)',
};

export function packageOf(url: string): string | undefined {
  if (!url) return undefined;
  if (url.startsWith('node:')) return 'node core';
  const index = url.lastIndexOf('/node_modules/');
  if (index !== -1) {
    const parts = url.slice(index + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.includes('/dist/libs/telemetry/')) return 'app: @app/telemetry';
  if (url.includes('/dist/apps/')) return 'app: dice-api';
  return 'other';
}

/**
 * `window` (ms since the profile started, which is the process's start) keeps only the samples
 * taken under load, leaving out start-up and shutdown.
 */
function load(file: string) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const packageCache = new Map<number, string>();
  const chargedTo = (id: number): string => {
    const cached = packageCache.get(id);
    if (cached) return cached;
    const node = byId.get(id)!;
    const special = SPECIAL[node.callFrame.functionName];
    let name: string;
    if (special && !node.callFrame.url) name = special;
    else name = packageOf(node.callFrame.url) ?? (parent.has(id) ? chargedTo(parent.get(id)!) : 'V8/native (program)');
    if (name === '(root)') name = 'V8/native (program)';
    packageCache.set(id, name);
    return name;
  };
  const frameOf = (id: number) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url ? `${url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${lineNumber + 1}` : '(native)';
    return `${functionName || '(anonymous)'} ${where}`;
  };
  const callerCache = new Map<number, string>();
  const chargedToCaller = (id: number): string => {
    const cached = callerCache.get(id);
    if (cached) return cached;
    const own = chargedTo(id);
    let name = own;
    if (own === 'node core') name = parent.has(id) ? chargedToCaller(parent.get(id)!) : 'node core';
    // Reached the root: nothing but Node itself on the stack (the event loop, the HTTP parser).
    if (name === 'V8/native (program)' && own === 'node core') name = 'node core';
    callerCache.set(id, name);
    return name;
  };
  return { profile, byId, chargedTo, chargedToCaller, frameOf };
}

export interface LongTasks {
  /** Stretches of at least `minMs` with no idle sample: the event loop was blocked that long. */
  count: number;
  minMs: number;
  maxMs: number;
  totalMs: number;
  wallMs: number;
  byPackage: { name: string; ms: number; share: number }[];
  topFrames: { frame: string; package: string; ms: number; share: number }[];
}

/**
 * What blocks the event loop for `minMs` or more at a time, which is what a request that arrives
 * meanwhile waits for: the tail latency at a moderate rate.
 */
export function longTasks(file: string, window: { fromMs: number; toMs: number }, minMs = 5, top = 8): LongTasks {
  const { profile, byId, chargedTo, frameOf } = load(file);
  const packages = new Map<string, number>();
  const frames = new Map<string, { package: string; us: number }>();
  let count = 0;
  let maxUs = 0;
  let totalUs = 0;
  let wallUs = 0;
  let stretch: { id: number; us: number }[] = [];
  const close = () => {
    const us = stretch.reduce((a, x) => a + x.us, 0);
    if (us >= minMs * 1000) {
      count += 1;
      maxUs = Math.max(maxUs, us);
      totalUs += us;
      for (const { id, us: sampleUs } of stretch) {
        const name = chargedTo(id);
        packages.set(name, (packages.get(name) ?? 0) + sampleUs);
        const frame = frames.get(frameOf(id)) ?? { package: name, us: 0 };
        frame.us += sampleUs;
        frames.set(frameOf(id), frame);
      }
    }
    stretch = [];
  };
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    const sinceStartMs = (at - profile.startTime) / 1000;
    if (sinceStartMs < window.fromMs || sinceStartMs > window.toMs) continue;
    const id = profile.samples[i]!;
    const us = Math.max(0, profile.timeDeltas[i + 1] ?? 0);
    wallUs += us;
    if (byId.get(id)!.callFrame.functionName === '(idle)') close();
    else stretch.push({ id, us });
  }
  close();
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    count,
    minMs,
    maxMs: round(maxUs / 1000),
    totalMs: round(totalUs / 1000),
    wallMs: round(wallUs / 1000),
    byPackage: [...packages].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: round(us / 1000), share: us / totalUs })),
    topFrames: [...frames]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([frame, f]) => ({ frame, package: f.package, ms: round(f.us / 1000), share: f.us / totalUs })),
  };
}

export function summarizeProfile(file: string, window?: { fromMs: number; toMs: number }, top = 12): ProfileSummary {
  const { profile, chargedTo, chargedToCaller, frameOf } = load(file);

  // Self time per node from the sample stream: each sample lasts until the next one.
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    const sinceStartMs = (at - profile.startTime) / 1000;
    if (window && (sinceStartMs < window.fromMs || sinceStartMs > window.toMs)) continue;
    const duration = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + Math.max(0, duration));
  }

  const packages = new Map<string, number>();
  const callers = new Map<string, number>();
  const frames = new Map<string, { package: string; us: number }>();
  let busyUs = 0;
  let wallUs = 0;
  for (const [id, us] of selfUs) {
    wallUs += us;
    const name = chargedTo(id);
    if (name === '(idle)') continue;
    busyUs += us;
    packages.set(name, (packages.get(name) ?? 0) + us);
    const caller = chargedToCaller(id);
    callers.set(caller, (callers.get(caller) ?? 0) + us);
    const key = frameOf(id);
    const frame = frames.get(key) ?? { package: name, us: 0 };
    frame.us += us;
    frames.set(key, frame);
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    file,
    wallMs: round(wallUs / 1000),
    busyMs: round(busyUs / 1000),
    byPackage: [...packages]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: round(us / 1000), share: us / busyUs })),
    byCaller: [...callers]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: round(us / 1000), share: us / busyUs })),
    topFrames: [...frames]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([frame, f]) => ({ frame, package: f.package, ms: round(f.us / 1000), share: f.us / busyUs })),
  };
}
