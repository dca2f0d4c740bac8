/**
 * Emergency stop and resume through the signed API: the flag is set, running executions
 * of both machines are stopped, running packs become stopped, jobs keep their state and
 * checkpoints; work-starting routes answer 503 with Retry-After; resume clears the flag
 * and runs everything that was stopped again, from where it was. Nothing is lost.
 * (The machines hold at their first function here: executions stay RUNNING until stopped.)
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEmergencyStopped, forgetStopFlag } from '../../adapters/control.ts';
import { EMERGENCY_STOP_FLAG, getFlag, getJob, getPack } from '../../adapters/job-store.ts';
import { emergencyStoppedSchema, healthSchema, resumedSchema } from '../../lambdas/api/schemas.ts';
import { packBody, uploadImages } from './support/packs.ts';
import { failedWith, seedRunPack } from './support/seed.ts';
import { startApiWorld, type ApiWorld } from './support/world.ts';

let world: ApiWorld;

beforeAll(async () => {
  world = await startApiWorld({ VTO_RETRY_AFTER_SECONDS: '45' });
});
afterAll(async () => {
  await world?.stop();
});

const CHECKPOINTS = { segmentation: 'packs/p/jobs/j/mask.png' };

describe('emergency stop, then resume', () => {
  // Shared across the steps below, which run in order.
  const s = {} as {
    apiPack: { packId: string; jobIds: string[]; executionArn: string };
    stalePack: { packId: string; jobId: string };
    retried: { jobId: string; executionArn: string };
  };

  it('prepares: a pack created through the API (running), a pack whose job the stop flag halted mid-stage, and a job retried on its own', async () => {
    const created = await world.call('POST', '/packs', { body: packBody(await uploadImages(world, 2)) });
    expect(created.status).toBe(202);
    s.apiPack = created.body as unknown as typeof s.apiPack;
    const stale = await seedRunPack([{ status: 'inpainting', checkpoints: CHECKPOINTS, attempts: { gpu: 1 } }, { status: 'complete' }], 'running');
    s.stalePack = { packId: stale.pack.packId, jobId: stale.jobs[0]!.jobId };
    const lone = await seedRunPack([failedWith('Transient.Network')], 'completed_with_failures');
    const retried = await world.call('POST', `/jobs/${lone.jobs[0]!.jobId}/retry`);
    expect(retried.status).toBe(202);
    s.retried = retried.body as unknown as typeof s.retried;
    expect(await world.executions('pack', 'RUNNING')).toHaveLength(1);
    expect(await world.executions('job', 'RUNNING')).toHaveLength(1);
  });

  it('sets the flag, stops the running executions of both machines and marks running packs stopped', async () => {
    // Act
    const res = await world.call('POST', '/emergency-stop', { body: { reason: 'GPU fleet drill' } });
    // Assess
    expect(res.status, res.text).toBe(202);
    const body = emergencyStoppedSchema.parse(res.body);
    expect(body).toMatchObject({ emergencyStopped: true, reason: 'GPU fleet drill', packsStopped: [s.apiPack.packId], executionsStopped: 2 });
    expect(await getFlag(EMERGENCY_STOP_FLAG)).toMatchObject({ active: true, reason: 'GPU fleet drill', stoppedPacks: [s.apiPack.packId] });
    forgetStopFlag();
    expect(await isEmergencyStopped()).toBe(true);
    for (const arn of [s.apiPack.executionArn, s.retried.executionArn]) {
      expect((await world.sfnClient.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('ABORTED');
    }
    expect(await world.executions('pack', 'RUNNING')).toEqual([]);
    expect(await world.executions('job', 'RUNNING')).toEqual([]);
    expect((await getPack(s.apiPack.packId)).status).toBe('stopped');
    // Jobs keep their state and checkpoints.
    expect(await getJob(s.stalePack.jobId)).toMatchObject({ status: 'inpainting', checkpoints: CHECKPOINTS, attempts: { gpu: 1 } });
  });

  it.each([
    ['POST', '/packs', () => ({ name: 'x', pipeline: { inpaint: 'comfyui' }, jobs: [{ person: `packs/${s.apiPack.packId}/uploads/a.png`, garment: `packs/${s.apiPack.packId}/uploads/b.png` }] })],
    ['POST', '/packs/{pack}/restart-incomplete', () => undefined],
    ['POST', '/packs/{pack}/refine', () => ({ scope: 'all_completed' })],
    ['POST', '/jobs/{job}/retry', () => ({ force: true })],
  ])('refuses %s %s with 503 and Retry-After while stopped', async (method, template, body) => {
    const path = template.replace('{pack}', s.stalePack.packId).replace('{job}', s.retried.jobId);
    const b = body();
    const res = await world.call(method, path, b === undefined ? {} : { body: b });
    expect(res.status).toBe(503);
    expect(res.body.error?.code).toBe('EmergencyStopped');
    expect(res.headers.get('retry-after')).toBe('45');
  });

  it('still answers reads, and health shows the stop', async () => {
    expect((await world.call('GET', `/packs/${s.apiPack.packId}`)).body['status']).toBe('stopped');
    const h = healthSchema.parse((await world.call('GET', '/health')).body);
    expect(h.emergencyStopped).toBe(true);
    expect(h.emergencyStop?.reason).toBe('GPU fleet drill');
    expect(h.status).toBe('degraded');
  });

  it('refuses a second stop while stopped with 409, and keeps the first stop as it was', async () => {
    const before = await getFlag(EMERGENCY_STOP_FLAG);
    // Act
    const res = await world.call('POST', '/emergency-stop', { body: { reason: 'a second opinion' } });
    // Assess
    expect(res.status, res.text).toBe(409);
    expect(res.body.error?.code).toBe('AlreadyEmergencyStopped');
    expect(res.body.error?.message).toContain(String(before?.['since']));
    expect(res.body.error?.message).toContain('GPU fleet drill');
    const after = await getFlag(EMERGENCY_STOP_FLAG);
    expect(after).toMatchObject({ reason: 'GPU fleet drill', since: before?.['since'], by: before?.['by'], stoppedPacks: [s.apiPack.packId] });
  });

  it('resume clears the flag and runs again every pack and job the stop left unfinished, from where each was', async () => {
    // Act
    const res = await world.call('POST', '/resume');
    // Assess
    expect(res.status, res.text).toBe(202);
    const body = resumedSchema.parse(res.body);
    expect(body.packsResumed).toEqual([s.apiPack.packId, s.stalePack.packId].sort());
    expect(body.jobsResumed).toBe(2 + 1 + 1);
    expect(body.failures).toEqual([]);
    expect((await getFlag(EMERGENCY_STOP_FLAG))?.['active']).toBe(false);
    forgetStopFlag();
    expect(await isEmergencyStopped()).toBe(false);
    // Stopped packs are pending again with a new run; the halted job kept its checkpoints and counters.
    expect((await getPack(s.apiPack.packId)).status).toBe('pending');
    expect(await getJob(s.stalePack.jobId)).toMatchObject({ status: 'pending', checkpoints: CHECKPOINTS, attempts: { gpu: 1 } });
    const runningPacks = (await world.executions('pack', 'RUNNING')).map((e) => e.name).sort();
    expect(runningPacks).toEqual([`${s.apiPack.packId}-2`, `${s.stalePack.packId}-2`].sort());
    // The job retried on its own runs on its own again, under a new name.
    const runningJobs = (await world.executions('job', 'RUNNING')).map((e) => e.name);
    expect(runningJobs).toEqual([`${s.retried.jobId}-2`]);
    expect((await getJob(s.retried.jobId)).status).toBe('pending');
  });

  it('refuses a resume when not stopped with 409', async () => {
    const res = await world.call('POST', '/resume');
    expect(res.status).toBe(409);
    expect(res.body.error?.code).toBe('NotEmergencyStopped');
  });

  it('lets one of two simultaneous stops set the flag and refuses the other with 409', async () => {
    // Act
    const answers = await Promise.all(['first', 'second'].map((reason) => world.call('POST', '/emergency-stop', { body: { reason } })));
    // Assess
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    const winner = answers.find((a) => a.status === 202)!;
    expect((await getFlag(EMERGENCY_STOP_FLAG))?.['reason']).toBe(winner.body['reason']);
    expect((await world.call('POST', '/resume')).status).toBe(202);
  });
});
