/**
 * What a job costs in AWS charges, from what it used: published us-east-1 prices with their
 * sources and dates (shared/reference/aws.md §7). Free tiers are ignored (a platform running
 * packs all day spends them in hours); GPU hosts are not priced here (GPU seconds are
 * reported on their own).
 */

export interface Price {
  /** US dollars per `per` units. */
  readonly usd: number;
  readonly per: number;
  readonly unit: string;
  readonly source: string;
  readonly date: string;
}

export const PRICES = {
  transition: {
    usd: 0.025, per: 1_000, unit: 'Step Functions Standard state transition',
    source: 'aws.amazon.com/step-functions/pricing', date: 'undated copy (read for aws.md §7)',
  },
  lambdaRequest: {
    usd: 0.2, per: 1_000_000, unit: 'Lambda request', source: 'cloudchipr.com (Lambda pricing)', date: '2024',
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334, per: 1, unit: 'Lambda GB-second, arm64', source: 'cloudchipr.com (Lambda pricing)', date: '2024',
  },
  dynamoWru: {
    usd: 0.625, per: 1_000_000, unit: 'DynamoDB on-demand write request unit', source: 'airbyte.com (DynamoDB pricing)', date: '2025-07-21, after the 2024-11-01 price cut',
  },
  dynamoRru: {
    usd: 0.125, per: 1_000_000, unit: 'DynamoDB on-demand read request unit', source: 'airbyte.com (DynamoDB pricing)', date: '2025-07-21, after the 2024-11-01 price cut',
  },
  sqsRequest: {
    usd: 0.4, per: 1_000_000, unit: 'SQS standard request (per 64 KB chunk)', source: 'factualminds.com (SQS pricing)', date: '2026-06-13',
  },
  s3Put: { usd: 0.005, per: 1_000, unit: 'S3 Standard PUT/COPY/POST/LIST', source: 'c3x.dev (S3 pricing)', date: 'undated' },
  s3Get: { usd: 0.0004, per: 1_000, unit: 'S3 Standard GET', source: 'c3x.dev (S3 pricing)', date: 'undated' },
} as const satisfies Record<string, Price>;

export type PricedItem = keyof typeof PRICES;

/** What one job used, on average, in the units PRICES charges. */
export type Usage = Record<PricedItem, number>;

export const zeroUsage = (): Usage => ({
  transition: 0, lambdaRequest: 0, lambdaArmGbSecond: 0, dynamoWru: 0, dynamoRru: 0, sqsRequest: 0, s3Put: 0, s3Get: 0,
});

export interface Cost {
  /** US dollars for 1,000 jobs. */
  readonly total: number;
  readonly byItem: Record<PricedItem, number>;
}

const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

/** Dollars for 1,000 jobs that each use `perJob`. */
export function costPer1000Jobs(perJob: Usage): Cost {
  const byItem = Object.fromEntries((Object.keys(PRICES) as PricedItem[]).map((k) => {
    const p: Price = PRICES[k];
    return [k, round((perJob[k] * 1000 * p.usd) / p.per)];
  })) as Record<PricedItem, number>;
  return { total: round(Object.values(byItem).reduce((a, b) => a + b, 0)), byItem };
}

/**
 * Lambda GB-seconds of one invocation: memory × billed duration (rounded up to 1 ms, as
 * Lambda bills since 2020-12).
 */
export function gbSeconds(memoryMiB: number, durationMs: number): number {
  return (memoryMiB / 1024) * (Math.ceil(Math.max(0, durationMs)) / 1000);
}
