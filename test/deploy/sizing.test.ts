// docs/scaling.md's sizing table is generated from the measured figures (docs/benchmarks.json,
// docs/collector-throughput.json) and the values files' retention: it must be up to date, and the
// arithmetic must follow the inputs (a changed input changes the table where it should).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BEGIN, END, loadInputs, MIN_REPLICAS, renderTable, sizingRow, TARGET_UTILISATION, withTable } from '../../scripts/deploy/sizing.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('sizing table (scripts/deploy/sizing.ts)', () => {
  it('docs/scaling.md holds the table the current measurements give (else: node scripts/deploy/sizing.ts)', () => {
    const doc = readFileSync(join(ROOT, 'docs/scaling.md'), 'utf8');
    expect(doc.slice(doc.indexOf(BEGIN), doc.indexOf(END) + END.length)).toBe(renderTable(loadInputs()));
    // and the script's own --check agrees
    execFileSync(process.execPath, [join(ROOT, 'scripts/deploy/sizing.ts'), '--check'], { stdio: 'pipe' });
  });

  it('reads every figure from the measurement files: a re-measured replica changes the replicas', () => {
    const inputs = loadInputs();
    const before = sizingRow(inputs, 100_000);
    const halved = sizingRow({ ...inputs, app: { ...inputs.app, rpsPerCore: inputs.app.rpsPerCore / 2 } }, 100_000);
    expect(before.apiReplicas).toBe(Math.max(MIN_REPLICAS, Math.ceil(100_000 / (inputs.app.rpsPerCore * TARGET_UTILISATION))));
    expect(halved.apiReplicas).toBeGreaterThan(before.apiReplicas * 1.9);
    const slowCollector = sizingRow({ ...inputs, collector: { ...inputs.collector, requestsPerCore: inputs.collector.requestsPerCore / 4 } }, 100_000);
    expect(slowCollector.collectorCores).toBeCloseTo(before.collectorCores * 4, 6);
  });

  it('storage and series scale with the request rate and the replicas', () => {
    const inputs = loadInputs();
    const [a, b] = [sizingRow(inputs, 10_000), sizingRow(inputs, 100_000)];
    expect(b.tempoRawPerDay / a.tempoRawPerDay).toBeCloseTo(10, 6);
    expect(b.tempoRawPerDay).toBeCloseTo(100_000 * inputs.shape.spansPerRequest * inputs.shape.bytesPerSpan * 86400, 0);
    expect(b.lokiGzipPerDay).toBeLessThan(b.lokiRawPerDay);
    expect(b.activeSeries).toBe(b.apiReplicas * (inputs.app.exposedSeries + inputs.shape.spanMetricSeries + 1));
  });

  it('refuses a document without its markers', () => {
    expect(() => withTable('# no markers\n', 'x')).toThrow(/markers missing/);
  });
});
