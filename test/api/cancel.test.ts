/**
 * Cancelling jobs and packs through the signed API: the record ends `cancelled` with its
 * finished stages kept, the execution that ran it is stopped, a second cancel changes
 * nothing, a finished job or pack is refused with 409, and a cancelled job can be retried.
 * The machines hold at their first function, so every execution stays RUNNING until stopped.
 */
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packOutcome, emptyCounts } from '../../core/status.ts';
import { getJob, getPack, updateJob, updatePack } from '../../adapters/job-store.ts';
import { jobCancelledSchema, packCancelledSchema } from '../../lambdas/api/schemas.ts';
import { failedWith, seedRunPack } from './support/seed.ts';
import { startApiWorld, type ApiWorld } from './support/world.ts';

let world: ApiWorld;

beforeAll(async () => {
  world = await startApiWorld();
});
afterAll(async () => {
  await world?.stop();
});

const CHECKPOINTS = { segmentation: 'packs/p/jobs/j/mask.png', inpaint: 'packs/p/jobs/j/inpainted.png' };
const statusOf = async (arn: string) => (await world.sfnClient.send(new DescribeExecutionCommand({ executionArn: arn }))).status;

/** A job execution holding at its first function, owning the job. */
async function runningExecution(machine: 'job' | 'pack', name: string, input: Record<string, unknown>): Promise<string> {
  const res = await world.sfnClient.send(new StartExecutionCommand({ stateMachineArn: world.machines[machine], name, input: JSON.stringify(input) }));
  return res.executionArn!;
}

describe('POST /jobs/{id}/cancel', () => {
  it('ends a running job cancelled with its checkpoints kept and stops its execution; a second cancel changes nothing', async () => {
    // Prepare
    const { jobs } = await seedRunPack([{ status: 'inpainting', checkpoints: { segmentation: CHECKPOINTS.segmentation } }], 'completed_with_failures');
    const job = jobs[0]!;
    const arn = await runningExecution('job', `${job.jobId}-1`, { packId: job.packId, jobId: job.jobId });
    await updateJob(job.jobId, { set: { executionArn: arn } });
    // Act
    const res = await world.call('POST', `/jobs/${job.jobId}/cancel`);
    // Assess
    expect(res.status, res.text).toBe(202);
    expect(jobCancelledSchema.parse(res.body)).toEqual({ jobId: job.jobId, packId: job.packId, status: 'cancelled', alreadyCancelled: false, statusUrl: `${world.api.url}/jobs/${job.jobId}` });
    expect(await getJob(job.jobId)).toMatchObject({ status: 'cancelled', checkpoints: { segmentation: CHECKPOINTS.segmentation }, cancelledBy: expect.any(String) });
    expect(await statusOf(arn)).toBe('ABORTED');
    const again = await world.call('POST', `/jobs/${job.jobId}/cancel`);
    expect([again.status, again.body['alreadyCancelled']]).toEqual([202, true]);
    expect((await world.call('GET', `/jobs/${job.jobId}`)).body['status']).toBe('cancelled');
  });

  it('cancels a queued (pending) job that no execution runs yet; the run that later takes it stops', async () => {
    const { jobs } = await seedRunPack([{ status: 'pending' }], 'running');
    const res = await world.call('POST', `/jobs/${jobs[0]!.jobId}/cancel`);
    expect(res.status, res.text).toBe(202);
    expect((await getJob(jobs[0]!.jobId)).status).toBe('cancelled');
    // JobStart's claim (the pack Map's child) meets a cancelled job and stops.
    await expect(updateJob(jobs[0]!.jobId, { to: 'segmenting', claim: 'arn:run' })).rejects.toMatchObject({ name: 'Control.Stopped' });
  });

  it.each([['complete', { status: 'complete' as const }], ['failed', failedWith('Fatal.InvalidInput')]])('refuses a %s job with 409 and changes nothing', async (_label, seed) => {
    const { jobs } = await seedRunPack([seed], 'completed_with_failures');
    const res = await world.call('POST', `/jobs/${jobs[0]!.jobId}/cancel`);
    expect([res.status, res.body.error?.code]).toEqual([409, 'JobFinished']);
    expect((await getJob(jobs[0]!.jobId)).status).toBe(jobs[0]!.status);
  });

  it('lets a cancelled job be retried: it goes back to pending with its checkpoints and runs again', async () => {
    const { jobs } = await seedRunPack([{ status: 'compositing', checkpoints: CHECKPOINTS, runs: 1 }], 'completed_with_failures');
    expect((await world.call('POST', `/jobs/${jobs[0]!.jobId}/cancel`)).status).toBe(202);
    const retry = await world.call('POST', `/jobs/${jobs[0]!.jobId}/retry`);
    expect(retry.status, retry.text).toBe(202);
    expect(await getJob(jobs[0]!.jobId)).toMatchObject({ status: 'pending', checkpoints: CHECKPOINTS });
    expect(await statusOf(retry.body['executionArn'] as string)).toBe('RUNNING');
  });

  it('answers 404 for an unknown job and 400 for a malformed id', async () => {
    expect((await world.call('POST', '/jobs/00000000-0000-4000-8000-000000000000/cancel')).status).toBe(404);
    const bad = await world.call('POST', '/jobs/nope/cancel');
    expect([bad.status, bad.body.error?.issues?.[0]?.path]).toEqual([400, 'path.id']);
  });
});

describe('POST /packs/{id}/cancel', () => {
  it('stops the pack run and every unfinished job; finished jobs keep what they delivered; the pack ends cancelled', async () => {
    // Prepare
    const { pack, jobs } = await seedRunPack([{ status: 'complete' }, { status: 'inpainting' }, { status: 'pending' }], 'running');
    const packArn = await runningExecution('pack', `${pack.packId}-1`, { packId: pack.packId });
    await updatePack(pack.packId, { executionArn: packArn });
    const jobArn = await runningExecution('job', `${jobs[1]!.jobId}-1`, { packId: pack.packId, jobId: jobs[1]!.jobId });
    await updateJob(jobs[1]!.jobId, { set: { executionArn: jobArn } });
    // Act
    const res = await world.call('POST', `/packs/${pack.packId}/cancel`);
    // Assess
    expect(res.status, res.text).toBe(202);
    const body = packCancelledSchema.parse(res.body);
    expect(body).toMatchObject({ packId: pack.packId, status: 'cancelled', alreadyCancelled: false, jobsCancelled: 2 });
    expect(body.counts).toMatchObject({ complete: 1, cancelled: 2, pending: 0, inpainting: 0 });
    expect([await statusOf(packArn), await statusOf(jobArn)]).toEqual(['ABORTED', 'ABORTED']);
    expect((await Promise.all(jobs.map((j) => getJob(j.jobId)))).map((j) => j.status)).toEqual(['complete', 'cancelled', 'cancelled']);
    expect((await getPack(pack.packId)).status).toBe('cancelled');
    const again = await world.call('POST', `/packs/${pack.packId}/cancel`);
    expect([again.status, again.body['alreadyCancelled'], again.body['jobsCancelled']]).toEqual([202, true, 0]);
  });

  it.each(['complete', 'completed_with_failures', 'failed'] as const)('refuses a %s pack with 409', async (status) => {
    const { pack } = await seedRunPack([{ status: 'complete' }], status);
    const res = await world.call('POST', `/packs/${pack.packId}/cancel`);
    expect([res.status, res.body.error?.code]).toEqual([409, 'PackFinished']);
    expect((await getPack(pack.packId)).status).toBe(status);
  });

  it('cancels an emergency-stopped pack, so a resume leaves it alone', async () => {
    const { pack, jobs } = await seedRunPack([{ status: 'segmenting' }], 'stopped');
    const res = await world.call('POST', `/packs/${pack.packId}/cancel`);
    expect(res.status, res.text).toBe(202);
    expect([(await getPack(pack.packId)).status, (await getJob(jobs[0]!.jobId)).status]).toEqual(['cancelled', 'cancelled']);
  });
});

describe('the outcome of a pack whose jobs were cancelled one by one', () => {
  const outcome = (c: Partial<Record<'complete' | 'failed' | 'cancelled' | 'pending', number>>) => packOutcome({ ...emptyCounts(), ...c });
  it('is cancelled when all were, failed when none completed and some failed, else completed_with_failures', () => {
    expect(outcome({ cancelled: 3 })).toBe('cancelled');
    expect(outcome({ failed: 1, cancelled: 2 })).toBe('failed');
    expect(outcome({ complete: 1, cancelled: 2 })).toBe('completed_with_failures');
    expect(outcome({ complete: 2 })).toBe('complete');
    expect(outcome({ complete: 1, cancelled: 1, pending: 1 })).toBe('running');
  });
});
