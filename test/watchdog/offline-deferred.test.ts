/**
 * Deferred recovery on the offline stack (time scale 0.05: the 5-minute gap is 15 s): a job
 * failed by an analyzer outage far longer than its in-run retries is left alone while the
 * analyzer's health check fails, re-run from its checkpoints once the analyzer is back,
 * completes, and its pack follows; auto-recovery's own breaker, open after 5 failed re-runs,
 * holds every re-run until its cooldown has passed, then closes on a re-run's success; a
 * fatal failure is never re-run.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { AUTO_RECOVERY_COOLDOWN_SECONDS, DEFERRED_FN, isDeferrable } from '../../core/deferred-recovery.ts';
import { packExecutionName, type JobRecord, type RecoveryEntry } from '../../core/job.ts';
import { documentClient } from '../../adapters/aws-clients.ts';
import { getJob, getPack } from '../../adapters/job-store.ts';
import { AUTO_RECOVERY_ID, autoRecoveryBreakerState } from '../../adapters/watchdog-deferred.ts';
import type { SweepReport } from '../../adapters/watchdog-sweep.ts';
import { getStatistics } from '../../lambdas/api/statistics.ts';
import { eventually } from '../support/eventually.ts';
import { seedOneJobPack, useOfflineWatchdogStack } from '../support/offline-watchdog.ts';

const SCALE = 0.05;
const world = useOfflineWatchdogStack('dr', { timeScale: SCALE }, {}, 180_000);
const seed = async (o: Parameters<typeof seedOneJobPack>[1] = {}) => {
  const { pack, job } = await seedOneJobPack('deferred', o);
  return { packId: pack.packId, job };
};

/** The next sweep whose deferred report says `reason` about the job. */
function sweepSaying(jobId: string, reason: RegExp, timeoutMs: number): Promise<SweepReport> {
  return eventually(() => world.stack.watchdog!.next(), (r) => r.deferred?.reruns.some((x) => x.jobId === jobId && reason.test(x.reason)) === true,
    `a sweep saying ${reason} of ${jobId}`, { timeoutMs, everyMs: 1 });
}

const statistics = async () => (await getStatistics({ query: {} } as never)).body as { deferredReruns: { started: number; recovered: number; failed: number } };

describe('deferred recovery of failed jobs', () => {
  it('re-runs a job failed by an analyzer outage only once the analyzer is healthy, from its checkpoints; its pack follows', async () => {
    // Prepare: the analyzer is down (every call and its health check answer 503) until told otherwise.
    const { packId, job } = await seed();
    world.stack.providers.faults.outage('analyzer', Number.POSITIVE_INFINITY);
    const before = await statistics();

    // Act: the pack runs; the job's QA outlasts every in-run retry and the job fails.
    await world.sfn.send(new StartExecutionCommand({ stateMachineArn: world.stack.endpoints.stateMachines.pack, name: packExecutionName({ packId, runs: 0 }), input: JSON.stringify({ packId }) }));
    const failed = await eventually(() => getJob(job.jobId), (j) => j.status === 'failed', 'the job to fail', { timeoutMs: 300_000, everyMs: 500 });
    const name = failed.error!.name;
    expect(isDeferrable(name) || name === 'Recovery.Exhausted').toBe(true);
    await eventually(() => getPack(packId), (p) => p.status === 'failed', 'the pack run to end failed', { timeoutMs: 60_000, everyMs: 300 });

    // Assess (the health gate): past its first gap, the job waits for the analyzer.
    await sweepSaying(job.jobId, /waiting for analyzer: its health check fails/, 120_000);
    const waiting = await getJob(job.jobId);
    expect(waiting).toMatchObject({ status: 'failed' });
    expect(waiting.deferredReruns).toBeUndefined();

    // Act: the analyzer comes back.
    world.stack.providers.faults.outage('analyzer', null);

    // Assess: re-run 1 of 3, from the checkpoints, completes; the pack follows.
    const done = await eventually(() => getJob(job.jobId), (j) => j.status === 'complete', 'the re-run to complete', { timeoutMs: 180_000, everyMs: 500 });
    expect(done.deferredReruns).toBe(1);
    const rerun = done.recoveries.find((r) => r.fn === DEFERRED_FN);
    expect(rerun).toMatchObject({ attempt: 1, strategy: 'RESUME_CHECKPOINT', outcome: 'recovered' });
    expect(rerun!.detail).toMatch(/^deferred re-run 1 of 3 after (Transient\.\w+|Provider\.MalformedResponse) — analyzer (healthy again|admitting trial calls again)$/);
    expect(done.checkpoints.segmentation).toBe(failed.checkpoints.segmentation);
    expect(done.checkpoints.inpaint).toBe(failed.checkpoints.inpaint);
    const pack = await eventually(() => getPack(packId), (p) => p.status === 'complete', 'the pack to follow its job', { timeoutMs: 60_000, everyMs: 300 });
    expect(pack.counts).toMatchObject({ complete: 1, failed: 0 });
    const after = await eventually(statistics, (s) => s.deferredReruns.recovered > before.deferredReruns.recovered, 'the re-run counted in the statistics', { timeoutMs: 60_000, everyMs: 500 });
    expect(after.deferredReruns.started - before.deferredReruns.started).toBe(1);
  }, 600_000);

  it('holds every re-run while auto-recovery is paused, resumes after its cooldown, and never re-runs a fatal failure', async () => {
    // Prepare: 5 consecutive re-runs failed a moment ago (the breaker open, its cooldown ending in 20 s),
    // a job failed 30 s ago on a temporary cause, another on a full disk.
    const cooldownMs = AUTO_RECOVERY_COOLDOWN_SECONDS * 1000 * SCALE;
    const openedAt = new Date(Date.now() - cooldownMs + 20_000).toISOString();
    await documentClient().send(new PutCommand({
      TableName: world.stack.resources.tables.control,
      Item: { id: AUTO_RECOVERY_ID, provider: 'auto-recovery', state: 'open', failures: 5, trials: 0, openedAt, inFlight: [], version: 7, updatedAt: openedAt },
    }));
    const at = new Date(Date.now() - 30_000).toISOString();
    const ledger = (error: string, fn: string): RecoveryEntry[] => [{ at, error, strategy: 'RETRY_BACKOFF', fn, stage: 'segmentation', attempt: 3, outcome: 'failed' }];
    const failedOn = (error: string, fn: string) => (j: JobRecord): Partial<JobRecord> => ({
      status: 'failed', updatedAt: at, error: { name: error, cause: 'test', at }, recoveries: ledger(error, fn), runs: 1,
      ...(error.startsWith('Fatal') && { needsIntervention: true }),
      inputs: j.inputs,
    });
    const transient = await seed({ pack: { status: 'failed' }, job: failedOn('Transient.ServiceUnavailable', 'SegmentationCall') });
    const fatal = await seed({ pack: { status: 'failed' }, job: failedOn('Fatal.DiskFull', 'GPU') });

    // Assess: paused.
    await sweepSaying(transient.job.jobId, /auto-recovery is paused after 5 consecutive failed re-runs/, 60_000);
    expect(await autoRecoveryBreakerState()).toMatchObject({ dependency: 'auto-recovery', state: 'open', failures: 5 });
    expect((await getJob(transient.job.jobId)).status).toBe('failed');

    // Assess: after the cooldown one trial re-run; its success closes the breaker.
    const done = await eventually(() => getJob(transient.job.jobId), (j) => j.status === 'complete', 'the trial re-run to complete', { timeoutMs: 180_000, everyMs: 500 });
    expect(done.recoveries.find((r) => r.fn === DEFERRED_FN)?.detail).toMatch(/^deferred re-run 1 of 3 after Transient\.ServiceUnavailable — segmentation healthy again$/);
    await eventually(autoRecoveryBreakerState, (b) => b.state === 'closed', 'auto-recovery to close on the success', { timeoutMs: 60_000, everyMs: 500 });
    const fatalJob = await getJob(fatal.job.jobId);
    expect(fatalJob).toMatchObject({ status: 'failed', error: { name: 'Fatal.DiskFull' } });
    expect(fatalJob.deferredReruns).toBeUndefined();
  }, 400_000);
});
