// The soak phase's heap probe (bench/lib/soak.ts), loaded with --import into both soak servers:
// after every major GC (mark-compact) it appends "<epoch ms> <bytes>" to BENCH_GC_PROBE_FILE, the
// heap in use outside the young generation, which is what the mark-compact left alive (a young
// object can only reach it through a scavenge, which is an entry of its own). A GC observer costs
// one callback per GC and holds nothing; --expose-gc (forcing GCs) or the inspector would change
// what is measured, and --trace-gc lines interleave with the access log in the same stdout.
import { appendFileSync } from 'node:fs';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const file = process.env['BENCH_GC_PROBE_FILE'];
if (!file) throw new Error('gc-probe: BENCH_GC_PROBE_FILE is not set');
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
    const used = getHeapSpaceStatistics()
      .filter((space) => !space.space_name.startsWith('new_'))
      .reduce((sum, space) => sum + space.space_used_size, 0);
    appendFileSync(file, `${Math.round(performance.timeOrigin + entry.startTime + entry.duration)} ${used}\n`);
  }
}).observe({ entryTypes: ['gc'] });
