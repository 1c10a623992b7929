import { globalErrorHandler } from '@opentelemetry/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { reportExportFailuresOnce } from './export-failure.reporter.js';

describe('reportExportFailuresOnce', () => {
  afterEach(() => vi.useRealTimers());

  it('reports the first export failure, suppresses the next ones, and reminds with a count', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    reportExportFailuresOnce((line) => lines.push(line));
    for (let i = 0; i < 50; i++) globalErrorHandler(new Error('connect ECONNREFUSED 127.0.0.1:4318'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', error: 'connect ECONNREFUSED 127.0.0.1:4318', suppressed_since_last_report: 0 });

    vi.advanceTimersByTime(5 * 60_000);
    globalErrorHandler(new Error('still down'));
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toMatchObject({ error: 'still down', suppressed_since_last_report: 49 });
  });
});
