/**
 * The pure rules behind the API: statistics from recovery events, refinement of a pack,
 * and the health verdict.
 */
import { describe, expect, it } from 'vitest';
import { healthOf, type HealthInputs } from '../../core/health.ts';
import { DEFAULT_PARAMS, PARAM_BOUNDS } from '../../core/params.ts';
import { nextSeed, refineSelection, refinedName, refinedParams } from '../../core/refine.ts';
import { hourBuckets, summarize, type StatisticsEvent } from '../../core/statistics.ts';
import { emptyCounts, livePackStatus, type JobStatus, type PackStatus } from '../../core/status.ts';

describe('statistics', () => {
  const since = new Date('2026-11-25T06:30:00Z');
  const until = new Date('2026-11-25T09:10:00Z');
  const ev = (kind: StatisticsEvent['kind'], error: string, strategy: string, at: string, timeToRecoverMs?: number): StatisticsEvent =>
    ({ kind, error, strategy, at, ...(timeToRecoverMs !== undefined && { timeToRecoverMs }) });

  it('reads the hour buckets from the one holding `since` to the one holding `until`', () => {
    expect(hourBuckets(since, until)).toEqual(['2026-11-25T06', '2026-11-25T07', '2026-11-25T08', '2026-11-25T09']);
    expect(hourBuckets(until, since)).toEqual([]);
  });

  it('counts only events inside the window, and charts them per hour, zeros included', () => {
    const s = summarize([
      ev('error', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', '2026-11-25T06:10:00Z'),
      ev('error', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', '2026-11-25T06:40:00Z'),
      ev('recovered', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', '2026-11-25T08:00:00Z', 100),
      ev('error', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', '2026-11-25T09:30:00Z'),
    ], since, until);
    expect([s.errors, s.recoveries, s.failures]).toEqual([1, 1, 0]);
    expect(s.series).toEqual([
      { hour: '2026-11-25T06', errors: 1, recovered: 0, failed: 0 },
      { hour: '2026-11-25T07', errors: 0, recovered: 0, failed: 0 },
      { hour: '2026-11-25T08', errors: 0, recovered: 1, failed: 0 },
      { hour: '2026-11-25T09', errors: 0, recovered: 0, failed: 0 },
    ]);
  });

  it('rates recovery over recoverable names only, and has no rate when nothing recoverable was resolved', () => {
    const at = '2026-11-25T07:00:00Z';
    const rated = summarize([
      ev('recovered', 'Transient.Network', 'RETRY_BACKOFF', at, 10), ev('recovered', 'Gpu.ModelMissing', 'SWITCH_MODEL', at, 30),
      ev('failed', 'Gpu.Timeout', 'RESUME_CHECKPOINT', at), ev('failed', 'Fatal.DiskFull', 'ABORT', at), ev('failed', 'Unclassified', 'NEEDS_INTERVENTION', at),
    ], since, until);
    expect(rated.recoveryRate).toBe(0.6667);
    expect(rated.timeToRecoverMs).toEqual({ count: 2, p50: 10, p95: 30 });
    expect(summarize([ev('failed', 'Fatal.DiskFull', 'ABORT', at)], since, until).recoveryRate).toBeNull();
    expect(summarize([], since, until)).toMatchObject({ errors: 0, recoveryRate: null, byError: [], timeToRecoverMs: { count: 0, p50: null, p95: null } });
  });

  it('lists errors and strategies by volume, with each name\'s verdict', () => {
    const at = '2026-11-25T07:00:00Z';
    const s = summarize([
      ev('error', 'Transient.Network', 'RETRY_BACKOFF', at), ev('error', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', at),
      ev('error', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', at), ev('recovered', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', at),
    ], since, until);
    expect(s.byError).toEqual([
      { error: 'Gpu.OutOfMemory', recoverable: true, strategy: 'REDUCE_PARAMS', errors: 2, recovered: 1, failed: 0 },
      { error: 'Transient.Network', recoverable: true, strategy: 'RETRY_BACKOFF', errors: 1, recovered: 0, failed: 0 },
    ]);
    expect(s.byStrategy.map((x) => x.strategy)).toEqual(['REDUCE_PARAMS', 'RETRY_BACKOFF']);
  });
});

describe('refinement', () => {
  const job = (jobId: string, status: JobStatus, params = DEFAULT_PARAMS) => ({ jobId, status, params });

  it.each([
    ['successful_only', ['a', 'c']],
    ['all_completed', ['a', 'b', 'c']],
  ] as const)('%s takes the jobs %j', (scope, ids) => {
    const jobs = [job('c', 'complete'), job('b', 'failed'), job('a', 'complete'), job('d', 'inpainting'), job('e', 'pending')];
    expect(refineSelection(jobs, scope).map((j) => j.jobId)).toEqual(ids);
  });

  it('improves a complete job with a new seed and a quarter more steps, within the steps bound', () => {
    expect(refinedParams(job('a', 'complete'))).toEqual({ ...DEFAULT_PARAMS, seed: nextSeed(DEFAULT_PARAMS.seed), steps: 38 });
    expect(refinedParams(job('a', 'complete', { ...DEFAULT_PARAMS, steps: PARAM_BOUNDS.steps.max })).steps).toBe(PARAM_BOUNDS.steps.max);
    expect(refinedParams(job('a', 'complete', { ...DEFAULT_PARAMS, steps: 20 })).steps).toBe(25);
  });

  it('keeps what recovery learned for a failed job and only changes its seed', () => {
    const learned = { ...DEFAULT_PARAMS, width: 816, batch: 1, model: 'sd15-inpaint.safetensors' };
    expect(refinedParams(job('b', 'failed', learned))).toEqual({ ...learned, seed: nextSeed(learned.seed) });
  });

  it('derives seeds that differ, stay in 32 bits and repeat for the same input', () => {
    for (const seed of [0, 42, 2 ** 32 - 1]) {
      const next = nextSeed(seed);
      expect(next).not.toBe(seed);
      expect(next).toBeGreaterThanOrEqual(0);
      expect(next).toBeLessThan(2 ** 32);
      expect(nextSeed(seed)).toBe(next);
    }
  });

  it('names the refinement after its source within the length limit, cutting whole characters', () => {
    expect(refinedName('Spring', 200)).toBe('Spring (refined)');
    const long = refinedName('😀'.repeat(300), 200);
    expect(long.endsWith(' (refined)')).toBe(true);
    expect([...long].length).toBeLessThanOrEqual(200);
    expect(long.isWellFormed()).toBe(true);
  });
});

describe('health', () => {
  const ok = (name: string) => ({ name, ok: true, latencyMs: 1 });
  const down = (name: string) => ({ name, ok: false, latencyMs: 3000, detail: 'timeout' });
  const base: HealthInputs = { dependencies: [ok('dynamodb'), ok('sqs'), ok('stepfunctions')], breakers: [], emergencyStopped: false, stuckJobs: 0, deadLetterDepth: 0 };

  it.each<[string, Partial<HealthInputs>, string, number]>([
    ['everything fine', {}, 'ok', 100],
    ['Step Functions unreachable', { dependencies: [ok('dynamodb'), ok('sqs'), down('stepfunctions')] }, 'degraded', 60],
    ['DynamoDB unreachable', { dependencies: [down('dynamodb'), ok('sqs'), ok('stepfunctions')] }, 'down', 60],
    ['an open and a half-open breaker', { breakers: [{ dependency: 'comfyui', state: 'open' }, { dependency: 'analyzer', state: 'half_open' }] }, 'degraded', 80],
    ['dead letters and stuck jobs', { deadLetterDepth: 3, stuckJobs: 2 }, 'degraded', 80],
    ['emergency-stopped', { emergencyStopped: true }, 'degraded', 80],
    ['everything wrong at once', { dependencies: [down('dynamodb'), down('sqs'), down('stepfunctions')], emergencyStopped: true }, 'down', 0],
  ])('%s → %s, score %i', (_name, change, status, score) => {
    expect(healthOf({ ...base, ...change })).toEqual({ status, score });
  });
});

describe('a pack\'s live status', () => {
  const counts = (c: Partial<Record<JobStatus, number>>) => ({ ...emptyCounts(), ...c });
  it.each<[PackStatus, Partial<Record<JobStatus, number>>, PackStatus]>([
    ['complete', { complete: 1, segmenting: 1 }, 'running'],
    ['completed_with_failures', { failed: 1, recovering: 1 }, 'running'],
    ['failed', { failed: 1, awaiting_fix: 1 }, 'running'],
    ['complete', { complete: 2 }, 'complete'],
    // Pending jobs of a finished pack wait for a run nobody started.
    ['completed_with_failures', { pending: 1, complete: 1 }, 'completed_with_failures'],
    // Jobs of a stopped pack keep the stage they were stopped in until resumed.
    ['stopped', { inpainting: 1 }, 'stopped'],
    ['running', { complete: 2 }, 'running'],
    ['pending', { pending: 2 }, 'pending'],
  ])('is %s with %o → %s', (stored, c, shown) => {
    expect(livePackStatus(stored, counts(c))).toBe(shown);
  });
});
