/**
 * The load test's verdict: median and p95 of the latencies, retries met, and a pass only
 * when every job completed and the median is within the threshold (the seeds' rule).
 */
import { describe, expect, it } from 'vitest';
import { median, summarize, type LoadResult } from '../../bench/load-summary.ts';

const ok = (latencyMs: number, retries = 0): LoadResult => ({ jobId: `j${latencyMs}`, latencyMs, status: 'complete', error: null, retries });

describe('the load test summary', () => {
  it.each([
    { values: [3, 1, 2], expected: 2 },
    { values: [4, 1, 3, 2], expected: 2.5 },
    { values: [], expected: null },
  ])('takes the median of $values as $expected', ({ values, expected }) => {
    expect(median(values)).toBe(expected);
  });

  it('passes when every job completed and the median is within the threshold', () => {
    const s = summarize([ok(1000, 1), ok(2000), ok(2500, 2), ok(9000)], 3000);
    expect(s).toMatchObject({ requests: 4, median: 2250, p95: 9000, min: 1000, max: 9000, retries: 3, definitiveFailures: 0, passed: true });
  });

  it('fails when the median passes the threshold', () => {
    expect(summarize([ok(2000), ok(3100), ok(3200)], 3000)).toMatchObject({ median: 3100, passed: false });
  });

  it('fails on any definitive failure, a job failed or out of time', () => {
    const s = summarize([
      ok(1000), ok(1100),
      { jobId: 'f', latencyMs: 900, status: 'failed', error: 'Fatal.DiskFull', retries: 0 },
      { jobId: 't', latencyMs: null, status: 'timed_out', error: null, retries: 1 },
    ], 3000);
    expect(s).toMatchObject({ definitiveFailures: 2, passed: false, median: 1000 });
    expect(s.failures.map((f) => f.jobId)).toEqual(['f', 't']);
  });
});
