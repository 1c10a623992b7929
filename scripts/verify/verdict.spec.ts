import { describe, expect, it } from 'vitest';
import { conclude, formatRow, judge, passes, type HopResult, type Outcome } from './verdict.ts';

const normal = { seconds: 7, because: 'OTEL_BSP_SCHEDULE_DELAY 5000 ms + flush 1s + flush 1s' };
const hop = (n: number, outcome: Outcome, withNormal = true): HopResult => ({
  n,
  title: `hop ${n}`,
  outcome,
  ...(withNormal ? { normal } : {}),
  hint: `look at hop ${n}'s logs`,
});

describe('judge', () => {
  it('passes a hop seen within twice its normal delay', () => {
    expect(judge(hop(3, { kind: 'ok', afterMs: 14_900, detail: 'exemplar found' }))).toEqual({ status: 'OK', seconds: 14.9, text: 'exemplar found', short: 'exemplar found' });
  });

  it('passes a hop seen later than that as SLOW, naming the normal delay and the settings behind it', () => {
    const v = judge(hop(3, { kind: 'ok', afterMs: 15_100, detail: 'exemplar found' }));
    expect(v.status).toBe('SLOW');
    expect(passes(v.status)).toBe(true);
    expect(v.text).toBe('exemplar found; slower than usual (normally up to 7 s: OTEL_BSP_SCHEDULE_DELAY 5000 ms + flush 1s + flush 1s)');
  });

  it('says NOT YET, and how long to wait, when the wait ended before the pipeline normally delivers', () => {
    const v = judge(hop(2, { kind: 'timeout', waitedMs: 3_000, seen: 'counter at 10, waiting for 15' }));
    expect(v.status).toBe('NOT YET');
    expect(passes(v.status)).toBe(false);
    expect(v.text).toBe('counter at 10, waiting for 15; waited only 3.0 s, normally up to 7 s: OTEL_BSP_SCHEDULE_DELAY 5000 ms + flush 1s + flush 1s. Run again with --wait 19');
    expect(v.short).toBe('counter at 10, waiting for 15; waited only 3.0 s: run again with --wait 19');
  });

  it('says MISSING, with the wait and the normal delay, when nothing came in longer than normal', () => {
    const v = judge(hop(4, { kind: 'timeout', waitedMs: 30_000, seen: '0 of 5 traces found by ID' }));
    expect(v).toMatchObject({ status: 'MISSING', seconds: 30 });
    expect(v.text).toBe('0 of 5 traces found by ID after waiting 30.0 s (normally up to 7 s: OTEL_BSP_SCHEDULE_DELAY 5000 ms + flush 1s + flush 1s)');
  });

  it('fails a broken hop with its reason, and skips a skipped one', () => {
    expect(judge(hop(4, { kind: 'error', afterMs: 0, reason: 'http://t:3200 does not answer: connection refused' }))).toMatchObject({ status: 'FAIL' });
    const skip = judge(hop(5, { kind: 'skip', reason: 'skipped: no --loki URL given' }));
    expect(skip).toMatchObject({ status: 'SKIP', text: 'skipped: no --loki URL given' });
    expect(passes(skip.status)).toBe(true);
  });

  it('has no normal delay for the balancer: late is still OK', () => {
    expect(judge(hop(1, { kind: 'ok', afterMs: 60_000, detail: '5 GET /roll answered 200' }, false)).status).toBe('OK');
  });
});

describe('conclude', () => {
  it('exits 1 naming the first hop that does not pass, with what to check', () => {
    const { exitCode, lines } = conclude(
      [
        hop(1, { kind: 'ok', afterMs: 100, detail: 'ok' }, false),
        hop(2, { kind: 'ok', afterMs: 20_000, detail: 'late but there' }),
        hop(3, { kind: 'timeout', waitedMs: 30_000, seen: 'no exemplar' }),
        hop(4, { kind: 'error', afterMs: 0, reason: 'refused' }),
      ],
      31_000,
    );
    expect(exitCode).toBe(1);
    expect(lines[0]).toBe('verify: FAILED at hop 3 (hop 3): MISSING - no exemplar after waiting 30.0 s (normally up to 7 s)');
    expect(lines[1]).toBe("  check: look at hop 3's logs");
  });

  it('exits 0 when every hop passes, counting the skipped ones', () => {
    const { exitCode, lines } = conclude([hop(1, { kind: 'ok', afterMs: 100, detail: 'ok' }), hop(2, { kind: 'skip', reason: 'not here' })], 2_500);
    expect(exitCode).toBe(0);
    expect(lines).toEqual(['verify: 1 of 2 hops OK in 2.5 s (1 skipped, see above)']);
  });
});

describe('formatRow', () => {
  it('lines up number, title, verdict and time', () => {
    const h = hop(3, { kind: 'ok', afterMs: 4_200, detail: 'exemplar found' });
    expect(formatRow(h, judge(h), 10)).toBe(' 3  hop 3      OK        4.2 s  exemplar found');
  });
});
