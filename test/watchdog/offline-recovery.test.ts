/**
 * The watchdog and the reconciler on the offline stack: a job execution stopped mid-run is
 * reconciled from its status-change event and completes; a job left `inpainting` with no
 * execution is restarted by the schedule and completes; restarts are bounded and end in
 * `failed` with the reason; nothing is touched while the pipeline is emergency-stopped.
 */
import { StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { jobExecutionName, packExecutionName } from '../../core/job.ts';
import { forgetStopFlag } from '../../adapters/control.ts';
import { executionArnOf } from '../../adapters/job-executions.ts';
import { EMERGENCY_STOP_FLAG, getJob, getPack, setFlag } from '../../adapters/job-store.ts';
import type { EventBridgeStepFunctionsStatusEvent } from '../../local/stepfunctions/index.ts';
import { eventually } from '../support/eventually.ts';
import { seedOneJobPack, useOfflineWatchdogStack } from '../support/offline-watchdog.ts';

/** Jobs whose every execution is stopped as soon as it runs (the restart bound's test). */
const doomed = new Set<string>();

async function stopDoomed(e: EventBridgeStepFunctionsStatusEvent): Promise<void> {
  if (e.detail.status !== 'RUNNING') return;
  const jobId = (JSON.parse(e.detail.input) as { jobId?: string }).jobId;
  if (jobId !== undefined && doomed.has(jobId)) {
    await world.sfn.send(new StopExecutionCommand({ executionArn: e.detail.executionArn, cause: 'test: this job never gets to run' })).catch(() => undefined);
  }
}

// The anti-loop gaps are exercised in the decision table; here restarts follow each other quickly.
const world = useOfflineWatchdogStack('wd', { onStatusChange: stopDoomed }, { VTO_WATCHDOG_RESTART_GAPS_MINUTES: '0.01' });
const WAIT = { timeoutMs: 60_000, everyMs: 200 };
const seed = (o: Parameters<typeof seedOneJobPack>[1] = {}) => seedOneJobPack('watchdog', o);

const HOUR_AGO = () => new Date(Date.now() - 3_600_000).toISOString();

describe('the reconciler', () => {
  it('recovers a job whose execution was stopped mid-run, and the job completes', async () => {
    // Prepare: a generation that hangs, so the job is surely inpainting when its execution stops.
    const { pack, job } = await seed();
    for (const w of world.stack.workers) w.comfy.setFault(job.jobId, 'hang');
    await world.sfn.send(new StartExecutionCommand({ stateMachineArn: world.stack.endpoints.stateMachines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId: pack.packId }) }));
    const inpainting = await eventually(() => getJob(job.jobId), (j) => j.status === 'inpainting', 'the job to reach inpainting', WAIT);

    // Act
    await world.sfn.send(new StopExecutionCommand({ executionArn: inpainting.executionArn!, cause: 'test: an operator stops the run' }));

    // Assess
    const done = await eventually(() => getJob(job.jobId), (j) => j.status === 'complete', 'the job to complete', WAIT);
    expect(done.executionArn).not.toBe(inpainting.executionArn);
    expect(done.watchdogRestarts).toBe(1);
    expect(done.recoveries).toContainEqual(expect.objectContaining({
      fn: 'Reconciler', error: 'States.Timeout', strategy: 'RESUME_CHECKPOINT', outcome: 'recovered', cause: expect.stringMatching(/ended ABORTED .* while the job was inpainting/),
    }));
    // The segmentation checkpoint was kept: the new run did not segment again.
    expect(done.checkpoints.segmentation).toBe(inpainting.checkpoints.segmentation);
    // The pack finished before its job's second run did; the watchdog settles it.
    const settled = await eventually(() => getPack(pack.packId), (p) => p.status === 'complete', 'the pack to settle', WAIT);
    expect(settled.counts).toMatchObject({ complete: 1 });
  }, 90_000);

  it('recovers a job whose owning run is gone when another run of it ends', async () => {
    // Prepare: the item is owned by a run that no longer exists (its claim came after a reset),
    // recently enough that the watchdog's deadline is far off.
    const { job } = await seed({
      pack: { status: 'stopped' },
      job: (j) => ({ status: 'segmenting', runs: 1, executionArn: executionArnOf(world.stack.endpoints.stateMachines.job, `${j.jobId}-1`) }),
    });

    // Act: a second run cannot claim the job, stops, and its end is an event.
    await world.sfn.send(new StartExecutionCommand({ stateMachineArn: world.stack.endpoints.stateMachines.job, name: `${job.jobId}-2`, input: JSON.stringify({ packId: job.packId, jobId: job.jobId }) }));

    // Assess
    const done = await eventually(() => getJob(job.jobId), (j) => j.status === 'complete', 'the job to complete', WAIT);
    expect(done.recoveries[0]).toMatchObject({ fn: 'Reconciler', strategy: 'RESUME_CHECKPOINT', outcome: 'recovered', cause: expect.stringMatching(/no execution runs it while it is segmenting/) });
  }, 90_000);

  it('fails a job whose restarts keep dying, with the reason, after the bound', async () => {
    // Prepare: every execution of this job is stopped as soon as it runs.
    const { job } = await seed({ pack: { status: 'stopped' } });
    doomed.add(job.jobId);

    // Act
    await world.sfn.send(new StartExecutionCommand({ stateMachineArn: world.stack.endpoints.stateMachines.job, name: jobExecutionName(job), input: JSON.stringify({ packId: job.packId, jobId: job.jobId }) }));

    // Assess
    // The job fails first, then its ledger entries are resolved.
    const failed = await eventually(() => getJob(job.jobId), (j) => j.status === 'failed' && j.recoveries.every((r) => r.outcome !== 'pending'), 'the job to fail', WAIT);
    expect(failed.error).toMatchObject({ name: 'Recovery.Exhausted', cause: expect.stringMatching(/^(reconciler|watchdog): restarted 3 times, still stuck in (pending|segmenting)/) });
    expect(failed).toMatchObject({ watchdogRestarts: 3, needsIntervention: true });
    const restarts = failed.recoveries.filter((r) => r.strategy === 'RESUME_CHECKPOINT');
    expect(restarts.map((r) => [r.attempt, r.outcome])).toEqual([[1, 'failed'], [2, 'failed'], [3, 'failed']]);
    expect(failed.recoveries.at(-1)).toMatchObject({ error: 'Recovery.Exhausted', strategy: 'ABORT', outcome: 'failed' });
    doomed.delete(job.jobId);
  }, 90_000);
});

describe('the watchdog', () => {
  it('restarts a job left inpainting with no execution, and the job completes', async () => {
    // Prepare: the item says inpainting, its execution never existed, nothing wrote it for an hour.
    const { pack, job } = await seed({
      pack: { status: 'stopped' },
      job: (j) => ({ status: 'inpainting', runs: 1, updatedAt: HOUR_AGO(), executionArn: executionArnOf(world.stack.endpoints.stateMachines.job, `${j.jobId}-1`) }),
    });

    // Act: the schedule finds it.
    const done = await eventually(() => getJob(job.jobId), (j) => j.status === 'complete', 'the job to complete', WAIT);

    // Assess
    expect(done.recoveries[0]).toMatchObject({
      fn: 'Watchdog', error: 'States.Timeout', strategy: 'RESUME_CHECKPOINT', outcome: 'recovered', attempt: 1,
      cause: expect.stringMatching(/^watchdog: no execution runs it while it is inpainting/),
    });
    expect(done.executionArn).toBe(executionArnOf(world.stack.endpoints.stateMachines.job, `${job.jobId}-2`));
    await eventually(() => getPack(pack.packId), (p) => p.status === 'complete', 'the pack to settle', WAIT);
  }, 90_000);

  it('touches nothing while the pipeline is emergency-stopped, and acts once it is not', async () => {
    // Prepare
    const { job } = await seed({
      pack: { status: 'stopped' },
      job: (j) => ({ status: 'segmenting', runs: 1, updatedAt: HOUR_AGO(), executionArn: executionArnOf(world.stack.endpoints.stateMachines.job, `${j.jobId}-1`) }),
    });
    await setFlag(EMERGENCY_STOP_FLAG, { since: new Date().toISOString(), reason: 'test' });

    // Act: two full sweeps while stopped.
    const first = await world.stack.watchdog!.next();
    const second = await world.stack.watchdog!.next();
    const during = await getJob(job.jobId);
    await setFlag(EMERGENCY_STOP_FLAG, null);
    forgetStopFlag();
    const after = await eventually(() => getJob(job.jobId), (j) => j.status !== 'segmenting', 'the watchdog to act', WAIT);

    // Assess
    expect([first.skipped, second.skipped]).toEqual(['emergency-stop', 'emergency-stop']);
    expect(during).toMatchObject({ status: 'segmenting', updatedAt: job.updatedAt, recoveries: [] });
    expect(after.recoveries[0]).toMatchObject({ fn: 'Watchdog', strategy: 'RESUME_CHECKPOINT' });
    await eventually(() => getJob(job.jobId), (j) => j.status === 'complete', 'the job to complete', WAIT);
  }, 90_000);
});

describe('IAM as synthesized', () => {
  it('refused none of the watchdog\'s and the reconciler\'s calls above', () => {
    expect(world.stack.iamDenials()?.map((d) => d.message)).toEqual([]);
  });
});
