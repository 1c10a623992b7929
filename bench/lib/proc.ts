// What the kernel says about a process (tree): CPU time from /proc/<pid>/stat (utime + stime) and
// memory from /proc/<pid>/status (VmRSS now, VmHWM the peak). Linux only, as the stack is.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface Stat {
  ppid: number;
  /** utime + stime, in seconds. */
  cpuSeconds: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state) of proc(5): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
  } catch {
    return undefined; // exited
  }
}

function readStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** The process and all its descendants alive now (gunicorn's master and workers, for example). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (!readStat(pid)) continue;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

export interface Usage {
  cpuSeconds: number;
  rssBytes: number;
  /** Sum over the processes of each one's peak RSS (an upper bound of the tree's peak). */
  peakRssBytes: number;
  processes: number;
}

/** CPU seconds so far and memory of a process tree. */
export function usageOf(root: number): Usage {
  const pids = processTree(root);
  let cpuSeconds = 0;
  let rssKb = 0;
  let peakKb = 0;
  for (const pid of pids) {
    cpuSeconds += readStat(pid)?.cpuSeconds ?? 0;
    rssKb += readStatusKb(pid, 'VmRSS');
    peakKb += readStatusKb(pid, 'VmHWM');
  }
  return { cpuSeconds, rssBytes: rssKb * 1024, peakRssBytes: peakKb * 1024, processes: pids.length };
}

/** Pins every thread of every process of a tree to `cpus` (taskset syntax: "0", "1", "0,1"). */
export function pinTree(root: number, cpus: string): void {
  for (const pid of processTree(root)) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    } catch {
      // exited meanwhile
    }
  }
}

export const MiB = 1024 * 1024;
