// Verdicts of `npm run verify`: what each hop's outcome means for the person at the terminal, and
// the exit code. No I/O here: scripts/verify/hops.ts observes, this judges, verify.ts prints.
import type { Normal } from './pipeline-delays.ts';

export type Status = 'OK' | 'SLOW' | 'NOT YET' | 'MISSING' | 'FAIL' | 'SKIP';

/** What a hop's check saw. */
export type Outcome =
  /** Seen, `afterMs` after the last request was answered (the balancer: after the first was sent). */
  | { kind: 'ok'; afterMs: number; detail: string }
  /** Broken: unreachable, refused, an HTTP error, an answer that cannot be right. */
  | { kind: 'error'; afterMs: number; reason: string }
  /** Reachable, but what was sent had not shown up when the wait ran out; `seen` says how far it got. */
  | { kind: 'timeout'; waitedMs: number; seen: string }
  | { kind: 'skip'; reason: string };

export interface HopResult {
  n: number;
  title: string;
  outcome: Outcome;
  /** The pipeline's normal upper bound for this hop (scripts/verify/pipeline-delays.ts). */
  normal?: Normal;
  /** What to check when it is broken, for this stack. */
  hint: string;
}

export interface Verdict {
  status: Status;
  seconds?: number;
  /** The row's text: what was seen, and for a late or missing hop the normal delay and why. */
  text: string;
  /** The closing line's text: what was seen, without the normal delay (listed above it then). */
  short: string;
}

/** Later than this many times the normal bound (plus a second of slack) counts as slow. */
export const SLOW_FACTOR = 2;

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const normally = (n: Normal) => `normally up to ${n.seconds.toFixed(0)} s: ${n.because}`;

export function judge(hop: HopResult): Verdict {
  const o = hop.outcome;
  switch (o.kind) {
    case 'ok':
      if (hop.normal && o.afterMs > (SLOW_FACTOR * hop.normal.seconds + 1) * 1000) {
        return { status: 'SLOW', seconds: o.afterMs / 1000, text: `${o.detail}; slower than usual (${normally(hop.normal)})`, short: o.detail };
      }
      return { status: 'OK', seconds: o.afterMs / 1000, text: o.detail, short: o.detail };
    case 'error':
      return { status: 'FAIL', seconds: o.afterMs / 1000, text: o.reason, short: o.reason };
    case 'timeout': {
      if (hop.normal && o.waitedMs < hop.normal.seconds * 1000) {
        const enough = Math.ceil(SLOW_FACTOR * hop.normal.seconds) + 5;
        return {
          status: 'NOT YET',
          seconds: o.waitedMs / 1000,
          text: `${o.seen}; waited only ${s(o.waitedMs)}, ${normally(hop.normal)}. Run again with --wait ${enough}`,
          short: `${o.seen}; waited only ${s(o.waitedMs)}: run again with --wait ${enough}`,
        };
      }
      return {
        status: 'MISSING',
        seconds: o.waitedMs / 1000,
        text: `${o.seen} after waiting ${s(o.waitedMs)}${hop.normal ? ` (${normally(hop.normal)})` : ''}`,
        short: `${o.seen} after waiting ${s(o.waitedMs)}${hop.normal ? ` (normally up to ${hop.normal.seconds.toFixed(0)} s)` : ''}`,
      };
    }
    case 'skip':
      return { status: 'SKIP', text: o.reason, short: o.reason };
  }
}

export const passes = (status: Status) => status === 'OK' || status === 'SLOW' || status === 'SKIP';

/** The table row of a hop: number, title, verdict, time, what was seen. */
export function formatRow(hop: HopResult, v: Verdict, titleWidth = 24): string {
  const time = v.seconds === undefined ? '' : `${v.seconds.toFixed(1)} s`;
  return `${String(hop.n).padStart(2)}  ${hop.title.padEnd(titleWidth)} ${v.status.padEnd(7)} ${time.padStart(7)}  ${v.text}`;
}

/** The closing lines and the exit code: 0 when every hop passes, 1 naming the first that does not. */
export function conclude(hops: HopResult[], elapsedMs: number): { exitCode: 0 | 1; lines: string[] } {
  const judged = hops.map((hop) => ({ hop, v: judge(hop) }));
  const broken = judged.find(({ v }) => !passes(v.status));
  const skipped = judged.filter(({ v }) => v.status === 'SKIP').length;
  if (!broken) {
    const ran = hops.length - skipped;
    return { exitCode: 0, lines: [`verify: ${ran} of ${hops.length} hops OK in ${s(elapsedMs)}${skipped ? ` (${skipped} skipped, see above)` : ''}`] };
  }
  const { hop, v } = broken;
  return {
    exitCode: 1,
    lines: [`verify: FAILED at hop ${hop.n} (${hop.title}): ${v.status} - ${v.short}`, `  check: ${hop.hint}`],
  };
}
