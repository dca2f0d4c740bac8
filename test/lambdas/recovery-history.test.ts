/**
 * A job's recovery list is bounded: the newest MAX_KEPT_RECOVERIES entries stay in the
 * item, older resolved ones are dropped and counted, so the item never nears DynamoDB's
 * 400 KB; the recovery-events table keeps every one. Resolving an entry still finds it
 * after the list was trimmed and its index moved.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_KEPT_RECOVERIES, recoveryCount } from '../../core/job.ts';
import { getJob } from '../../adapters/job-store.ts';
import { recordFailure, resolve } from '../../adapters/ledger.ts';
import { provisionFresh } from '../support/aws.ts';
import { seedPack } from '../support/jobs.ts';

beforeAll(async () => {
  await provisionFresh();
});

/** Records one failure of the job and, unless told otherwise, resolves it as recovered. */
async function fail(jobId: string, n: number, resolved = true): Promise<void> {
  const job = await getJob(jobId);
  const entry = await recordFailure(job, { error: 'Transient.Network', cause: `failure ${n}`, fn: 'Compose', stage: 'compositing' });
  expect(entry).toBeDefined();
  if (!resolved) return;
  const now = await getJob(jobId);
  await resolve(now, [now.recoveries.findIndex((r) => r.at === entry!.at && r.outcome === 'pending')], 'recovered');
}

describe('the recovery list of a job', () => {
  it('keeps the newest entries and counts the dropped ones', async () => {
    // Prepare
    const { jobs: [seeded] } = await seedPack();
    const total = MAX_KEPT_RECOVERIES + 5;
    // Act
    for (let n = 1; n <= total; n++) await fail(seeded!.jobId, n);
    // Assess
    const job = await getJob(seeded!.jobId);
    expect(job.recoveries).toHaveLength(MAX_KEPT_RECOVERIES);
    expect(job.recoveriesDropped).toBe(5);
    expect(recoveryCount(job)).toBe(total);
    expect(job.recoveries.map((r) => r.cause)).toEqual(Array.from({ length: MAX_KEPT_RECOVERIES }, (_, i) => `failure ${i + 6}`));
    expect(job.recoveries.every((r) => r.outcome === 'recovered')).toBe(true);
  });

  it('never drops a pending entry, and resolves it after a trim moved it', async () => {
    // Prepare: a full list whose oldest kept entry is still pending.
    const { jobs: [seeded] } = await seedPack();
    const jobId = seeded!.jobId;
    await fail(jobId, 1, false);
    for (let n = 2; n <= MAX_KEPT_RECOVERIES; n++) await fail(jobId, n);
    const before = await getJob(jobId);
    const pendingAt = before.recoveries.findIndex((r) => r.outcome === 'pending');
    expect(pendingAt).toBe(0);
    // Act: more failures; resolved entries after the pending one cannot be dropped past it,
    // so the list grows by one, then the pending entry is resolved from the stale read.
    await fail(jobId, MAX_KEPT_RECOVERIES + 1);
    const grown = await getJob(jobId);
    expect(grown.recoveries).toHaveLength(MAX_KEPT_RECOVERIES + 1);
    await resolve(before, [pendingAt], 'failed');
    await fail(jobId, MAX_KEPT_RECOVERIES + 2);
    // Assess: the pending entry was resolved, then dropped with the oldest.
    const job = await getJob(jobId);
    expect(job.recoveries).toHaveLength(MAX_KEPT_RECOVERIES);
    expect(job.recoveries.some((r) => r.outcome === 'pending')).toBe(false);
    expect(recoveryCount(job)).toBe(MAX_KEPT_RECOVERIES + 2);
    expect(job.recoveries[0]!.cause).toBe('failure 3');
  });

  it('resolves the entry it read even when a trim shifted its index', async () => {
    // Prepare: a full list, then a pending entry at the end.
    const { jobs: [seeded] } = await seedPack();
    const jobId = seeded!.jobId;
    for (let n = 1; n <= MAX_KEPT_RECOVERIES; n++) await fail(jobId, n);
    await fail(jobId, MAX_KEPT_RECOVERIES + 1, false);
    const stale = await getJob(jobId);
    const index = stale.recoveries.findIndex((r) => r.outcome === 'pending');
    // Another failure is appended and resolved: the trim moves the pending entry down by one.
    await fail(jobId, MAX_KEPT_RECOVERIES + 2);
    const moved = await getJob(jobId);
    expect(moved.recoveries.findIndex((r) => r.outcome === 'pending')).toBe(index - 1);
    // Act
    await resolve(stale, [index], 'recovered');
    // Assess: the right entry was resolved; the one now at the stale index kept its outcome.
    const job = await getJob(jobId);
    expect(job.recoveries.find((r) => r.cause === `failure ${MAX_KEPT_RECOVERIES + 1}`)?.outcome).toBe('recovered');
    expect(job.recoveries.filter((r) => r.outcome === 'recovered')).toHaveLength(job.recoveries.length);
  });
});
