/**
 * The benchmark's arithmetic: the cost model at published prices, percentiles, ratios.
 */
import { describe, expect, it } from 'vitest';
import { PRICES, costPer1000Jobs, gbSeconds, zeroUsage } from '../../bench/cost.ts';
import { percent, ratio, spread } from '../../bench/stats.ts';

describe('the cost model', () => {
  it.each([
    { item: 'transition', perJob: 20, usd: 0.5 },
    { item: 'lambdaRequest', perJob: 15, usd: 0.003 },
    { item: 'lambdaArmGbSecond', perJob: 2, usd: 0.026667 },
    { item: 'dynamoWru', perJob: 100, usd: 0.0625 },
    { item: 'dynamoRru', perJob: 40, usd: 0.005 },
    { item: 'sqsRequest', perJob: 5, usd: 0.002 },
    { item: 's3Put', perJob: 10, usd: 0.05 },
    { item: 's3Get', perJob: 20, usd: 0.008 },
  ] as const)('prices $perJob $item per job at $usd USD per 1,000 jobs', ({ item, perJob, usd }) => {
    const cost = costPer1000Jobs({ ...zeroUsage(), [item]: perJob });
    expect(cost.byItem[item]).toBeCloseTo(usd, 6);
    expect(cost.total).toBeCloseTo(usd, 6);
  });

  it('adds the items up', () => {
    const cost = costPer1000Jobs({ ...zeroUsage(), transition: 20, dynamoWru: 100 });
    expect(cost.total).toBeCloseTo(0.5625, 6);
  });

  it('names a source and a date for every price', () => {
    for (const p of Object.values(PRICES)) {
      expect(p.source).not.toBe('');
      expect(p.date).not.toBe('');
      expect(p.usd).toBeGreaterThan(0);
    }
  });

  it('bills Lambda GB-seconds on duration rounded up to the millisecond', () => {
    expect(gbSeconds(1024, 100)).toBeCloseTo(0.1, 9);
    expect(gbSeconds(512, 100.2)).toBeCloseTo(0.0505, 9);
    expect(gbSeconds(1769, 0)).toBe(0);
  });
});

describe('percentiles and ratios', () => {
  it('takes nearest-rank p50 and p95 and the maximum', () => {
    const values = Array.from({ length: 20 }, (_, i) => (i + 1) * 10);
    expect(spread(values)).toEqual({ n: 20, p50: 100, p95: 190, max: 200 });
    expect(spread([])).toEqual({ n: 0, p50: null, p95: null, max: null });
    expect(spread([7])).toEqual({ n: 1, p50: 7, p95: 7, max: 7 });
  });

  it.each([
    { ours: 20, baseline: 40, expected: 0.5 },
    { ours: 99.5, baseline: 50, expected: 1.99 },
    { ours: 0, baseline: 0, expected: 1 },
    { ours: 3, baseline: 0, expected: null },
    { ours: null, baseline: 2, expected: null },
  ])('ratio($ours, $baseline) is $expected', ({ ours, baseline, expected }) => {
    expect(ratio(ours, baseline)).toBe(expected);
  });

  it('gives percentages with one decimal, none of nothing', () => {
    expect(percent(2, 3)).toBe(66.7);
    expect(percent(0, 0)).toBeNull();
  });
});
