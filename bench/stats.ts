/** Small numeric helpers the benchmarks share: percentiles, means, ratios. */
import { percentile } from '../core/percentile.ts';

export { percentile };

export interface Spread {
  readonly n: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}

/** Nearest-rank p50/p95 and the maximum of a sample. */
export function spread(values: readonly number[]): Spread {
  return { n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), max: values.length === 0 ? null : Math.max(...values) };
}

export const mean = (values: readonly number[]): number => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);

/** ours ÷ baseline; null when the baseline is 0 (no meaningful ratio), 1 when both are 0. */
export function ratio(ours: number | null, baseline: number | null): number | null {
  if (ours === null || baseline === null) return null;
  if (baseline === 0) return ours === 0 ? 1 : null;
  return roundTo(ours / baseline, 3);
}

export function roundTo(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Percent with one decimal; null for an empty denominator. */
export const percent = (part: number, whole: number): number | null => (whole === 0 ? null : roundTo((part / whole) * 100, 1));
