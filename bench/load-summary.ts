/** The load test's verdict from its measurements: median and p95 latency, retries met, definitive failures. */
import { percentile } from './stats.ts';

export interface LoadResult {
  readonly jobId: string;
  /** Submit to the pack execution's end, ms; null when the job did not end before its deadline. */
  readonly latencyMs: number | null;
  readonly status: string;
  readonly error: string | null;
  /** Failures the job met and got past or not (task failures and timeouts in its histories). */
  readonly retries: number;
}

export interface LoadSummary {
  readonly requests: number;
  readonly median: number | null;
  readonly p95: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly retries: number;
  readonly definitiveFailures: number;
  readonly failures: readonly { jobId: string; status: string; error: string | null }[];
  readonly thresholdMs: number;
  readonly passed: boolean;
}

/** The middle value (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Passes when every job completed and the median latency is within the threshold. */
export function summarize(results: readonly LoadResult[], thresholdMs: number): LoadSummary {
  const latencies = results.flatMap((r) => (r.latencyMs === null ? [] : [Math.round(r.latencyMs)]));
  const failures = results.filter((r) => r.status !== 'complete').map((r) => ({ jobId: r.jobId, status: r.status, error: r.error }));
  const med = median(latencies);
  return {
    requests: results.length,
    median: med,
    p95: percentile(latencies, 95),
    min: latencies.length === 0 ? null : Math.min(...latencies),
    max: latencies.length === 0 ? null : Math.max(...latencies),
    retries: results.reduce((n, r) => n + r.retries, 0),
    definitiveFailures: failures.length,
    failures,
    thresholdMs,
    passed: failures.length === 0 && med !== null && med <= thresholdMs,
  };
}
