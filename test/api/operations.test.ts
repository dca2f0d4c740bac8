/**
 * Running packs and jobs again (restart-incomplete, refine, retry), statistics from the
 * recovery events, health and cleanup, through the signed API. The machines hold at
 * their first function, so each started execution is checked by name and input.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { nextSeed } from '../../core/refine.ts';
import { s3Keys } from '../../core/resources.ts';
import { putObject } from '../../adapters/artifacts.ts';
import { documentClient } from '../../adapters/aws-clients.ts';
import { getJob, getPack, jobsOfPack, putEvent, updateJob } from '../../adapters/job-store.ts';
import { unsettledPacks } from '../../adapters/pack-settlement.ts';
import { cleanupResultSchema, healthSchema, jobRetriedSchema, packCreatedSchema, packRestartedSchema, statisticsSchema } from '../../lambdas/api/schemas.ts';
import { failedWith, seedRunPack } from './support/seed.ts';
import { startApiWorld, type ApiWorld } from './support/world.ts';

let world: ApiWorld;

beforeAll(async () => {
  world = await startApiWorld();
});
afterAll(async () => {
  await world?.stop();
});

const executionStatus = async (arn: string) => (await world.sfnClient.send(new DescribeExecutionCommand({ executionArn: arn })));
const CHECKPOINTS = { segmentation: 'packs/p/jobs/j/mask.png', inpaint: 'packs/p/jobs/j/inpainted.png' };

describe('POST /packs/{id}/restart-incomplete', () => {
  it('puts every job that is not complete back to pending, keeping checkpoints, and runs the pack under its next execution name', async () => {
    // Prepare
    const { pack, jobs } = await seedRunPack([
      { status: 'complete' },
      failedWith('Recovery.Exhausted', { checkpoints: CHECKPOINTS, attempts: { REDUCE_PARAMS: 3, gpu: 4 }, recoveriesUsed: 3, triedModels: ['a'] }),
      failedWith('Transient.Network'),
    ], 'completed_with_failures');
    // Act
    const res = await world.call('POST', `/packs/${pack.packId}/restart-incomplete`);
    // Assess
    expect(res.status, res.text).toBe(202);
    const body = packRestartedSchema.parse(res.body);
    expect(body).toMatchObject({ packId: pack.packId, status: 'pending', resetJobs: 2 });
    expect(body.executionArn.endsWith(`:${pack.packId}-2`)).toBe(true);
    const d = await executionStatus(body.executionArn);
    expect([d.status, JSON.parse(d.input ?? '{}')]).toEqual(['RUNNING', { packId: pack.packId }]);
    expect((await getPack(pack.packId)).status).toBe('pending');
    const [complete, exhausted, transient] = await Promise.all(jobs.map((j) => getJob(j.jobId)));
    expect(complete?.status).toBe('complete');
    expect(exhausted).toMatchObject({ status: 'pending', checkpoints: CHECKPOINTS, attempts: {}, recoveriesUsed: 0, triedModels: [] });
    expect(exhausted?.error).toBeUndefined();
    expect(exhausted?.needsIntervention).toBeUndefined();
    expect(transient?.status).toBe('pending');
  });

  it.each(['pending', 'running'] as const)('refuses a %s pack with 409 and changes nothing', async (status) => {
    const { pack, jobs } = await seedRunPack([failedWith('Transient.Network')], status);
    const res = await world.call('POST', `/packs/${pack.packId}/restart-incomplete`);
    expect(res.status).toBe(409);
    expect(res.body.error?.code).toBe('PackRunning');
    expect((await getJob(jobs[0]!.jobId)).status).toBe('failed');
  });

  it('refuses a pack whose jobs are all complete with 409', async () => {
    const { pack } = await seedRunPack([{ status: 'complete' }], 'complete');
    const res = await world.call('POST', `/packs/${pack.packId}/restart-incomplete`);
    expect(res.status).toBe(409);
    expect(res.body.error?.code).toBe('NothingToRestart');
  });

  it('refuses a finished pack while a job of it runs on its own (a forced retry), and shows that pack running', async () => {
    // Prepare: a complete pack, one job retried with force, its run past its start (as JobStart leaves it).
    const { pack, jobs } = await seedRunPack([{ status: 'complete' }, { status: 'complete' }], 'complete');
    const retried = await world.call('POST', `/jobs/${jobs[0]!.jobId}/retry`, { body: { force: true } });
    expect(retried.status, retried.text).toBe(202);
    const retryArn = String(retried.body['executionArn']);
    const whileStarting = await world.call('POST', `/packs/${pack.packId}/restart-incomplete`);
    expect([whileStarting.status, whileStarting.body.error?.code]).toEqual([409, 'PackRunning']);
    await updateJob(jobs[0]!.jobId, { to: 'segmenting', from: ['pending'], claim: retryArn });
    // Act
    const shown = await world.call('GET', `/packs/${pack.packId}`);
    const restart = await world.call('POST', `/packs/${pack.packId}/restart-incomplete`);
    // Assess: status and counts agree, and the restart leaves the retry alone.
    expect(shown.body).toMatchObject({ status: 'running', counts: { segmenting: 1, complete: 1 } });
    expect([restart.status, restart.body.error?.code]).toEqual([409, 'PackRunning']);
    expect(restart.body.error?.message).toContain(jobs[0]!.jobId);
    expect((await executionStatus(retryArn)).status).toBe('RUNNING');
    expect(await getJob(jobs[0]!.jobId)).toMatchObject({ status: 'segmenting', executionArn: retryArn });
    expect((await world.executions('pack')).filter((e) => e.name?.startsWith(pack.packId))).toEqual([]);
    expect((await getPack(pack.packId)).status).toBe('complete');
    // Once the job's run has ended, the pack shows as it is stored again, and the watchdog owes it an outcome.
    await updateJob(jobs[0]!.jobId, { to: 'failed', from: ['segmenting'], set: { error: { name: 'Transient.Network', cause: 'x', at: new Date().toISOString() } } });
    expect((await world.call('GET', `/packs/${pack.packId}`)).body).toMatchObject({ status: 'complete', counts: { failed: 1, complete: 1 } });
    expect(await unsettledPacks()).toContain(pack.packId);
  });

  it('lets only one of two simultaneous restarts through', async () => {
    const { pack } = await seedRunPack([failedWith('Transient.Network'), failedWith('Transient.Network')], 'failed');
    const answers = await Promise.all([1, 2].map(() => world.call('POST', `/packs/${pack.packId}/restart-incomplete`)));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
  });
});

describe('POST /packs/{id}/refine', () => {
  it('successful_only makes a linked pack of the complete jobs, same inputs, a new seed and more steps, and starts it', async () => {
    // Prepare
    const { pack, jobs } = await seedRunPack([
      { status: 'complete' }, failedWith('Fatal.InvalidInput'), { status: 'complete', params: { ...DEFAULT_PARAMS, seed: 9, steps: 148 } },
    ], 'completed_with_failures');
    // Act
    const res = await world.call('POST', `/packs/${pack.packId}/refine`, { body: { scope: 'successful_only' } });
    // Assess
    expect(res.status, res.text).toBe(202);
    const body = packCreatedSchema.parse(res.body);
    expect(body).toMatchObject({ sourcePackId: pack.packId, refineScope: 'successful_only', status: 'pending', name: `${pack.name} (refined)` });
    expect(body.jobIds).toHaveLength(2);
    expect((await executionStatus(body.executionArn)).status).toBe('RUNNING');
    const refined = await getPack(body.packId);
    expect(refined).toMatchObject({ sourcePackId: pack.packId, refineScope: 'successful_only', jobCount: 2 });
    const newJobs = await jobsOfPack(body.packId);
    const bySource = new Map(newJobs.map((j) => [(j as unknown as { sourceJobId: string }).sourceJobId, j]));
    const first = bySource.get(jobs[0]!.jobId)!;
    expect(first.inputs).toEqual(jobs[0]!.inputs);
    expect(first.params).toEqual({ ...jobs[0]!.params, seed: nextSeed(jobs[0]!.params.seed), steps: 38 });
    expect(first.originalParams).toEqual(first.params);
    expect(bySource.get(jobs[2]!.jobId)?.params).toMatchObject({ seed: nextSeed(9), steps: 150 });
    expect(bySource.has(jobs[1]!.jobId)).toBe(false);
  });

  it('all_completed also takes the failed jobs, for a corrective pass with the parameters their recovery ended with', async () => {
    const reduced = { ...DEFAULT_PARAMS, width: 816, height: 816, batch: 1 };
    const { pack, jobs } = await seedRunPack([{ status: 'complete' }, failedWith('Gpu.OutOfMemory', { params: reduced })], 'completed_with_failures');
    const res = await world.call('POST', `/packs/${pack.packId}/refine`, { body: { scope: 'all_completed' } });
    expect(res.status).toBe(202);
    const body = packCreatedSchema.parse(res.body);
    expect(body.jobIds).toHaveLength(2);
    const corrective = (await jobsOfPack(body.packId)).find((j) => (j as unknown as { sourceJobId: string }).sourceJobId === jobs[1]!.jobId);
    expect(corrective?.params).toEqual({ ...reduced, seed: nextSeed(reduced.seed) });
  });

  it('answers a retried refinement with the same Idempotency-Key with the same new pack', async () => {
    const { pack } = await seedRunPack([{ status: 'complete' }], 'complete');
    const key = `refine-${randomUUID()}`;
    const a = await world.call('POST', `/packs/${pack.packId}/refine`, { body: { scope: 'successful_only' }, headers: { 'idempotency-key': key } });
    const b = await world.call('POST', `/packs/${pack.packId}/refine`, { body: { scope: 'successful_only' }, headers: { 'idempotency-key': key } });
    expect(a.status).toBe(202);
    expect(b.body['packId']).toBe(a.body['packId']);
    const c = await world.call('POST', `/packs/${pack.packId}/refine`, { body: { scope: 'all_completed' }, headers: { 'idempotency-key': key } });
    expect(c.status).toBe(409);
    expect(c.body.error?.code).toBe('IdempotencyKeyReused');
  });

  it('refuses a running pack, and a pack with nothing in scope, with 409', async () => {
    const running = await seedRunPack([{ status: 'complete' }], 'running');
    const r1 = await world.call('POST', `/packs/${running.pack.packId}/refine`, { body: { scope: 'all_completed' } });
    expect([r1.status, r1.body.error?.code]).toEqual([409, 'PackRunning']);
    const failed = await seedRunPack([failedWith('Fatal.InvalidInput')], 'failed');
    const r2 = await world.call('POST', `/packs/${failed.pack.packId}/refine`, { body: { scope: 'successful_only' } });
    expect([r2.status, r2.body.error?.code]).toEqual([409, 'NothingToRefine']);
  });
});

describe('POST /jobs/{id}/retry', () => {
  it('starts the job machine for a job that failed recoverably, keeping its checkpoints and counters', async () => {
    const { jobs } = await seedRunPack([failedWith('Transient.Network', { checkpoints: CHECKPOINTS, attempts: { RETRY_BACKOFF: 2 }, runs: 2 })], 'completed_with_failures');
    const job = jobs[0]!;
    const res = await world.call('POST', `/jobs/${job.jobId}/retry`);
    expect(res.status, res.text).toBe(202);
    const body = jobRetriedSchema.parse(res.body);
    expect(body).toMatchObject({ jobId: job.jobId, packId: job.packId, status: 'pending', forced: false, statusUrl: `${world.api.url}/jobs/${job.jobId}` });
    expect(body.executionArn).toBe(`${world.machines.job.replace(':stateMachine:', ':execution:')}:${job.jobId}-3`);
    const d = await executionStatus(body.executionArn);
    expect([d.status, JSON.parse(d.input ?? '{}')]).toEqual(['RUNNING', { packId: job.packId, jobId: job.jobId }]);
    expect(await getJob(job.jobId)).toMatchObject({ status: 'pending', checkpoints: CHECKPOINTS, attempts: { RETRY_BACKOFF: 2 } });
  });

  it('refuses a complete job without force (409), and with force runs it from scratch', async () => {
    const { jobs } = await seedRunPack([{ status: 'complete', checkpoints: CHECKPOINTS, outputs: { result: 'packs/p/jobs/j/result.png' }, attempts: { gpu: 1 } }], 'complete');
    const id = jobs[0]!.jobId;
    const refused = await world.call('POST', `/jobs/${id}/retry`, { body: {} });
    expect([refused.status, refused.body.error?.code]).toEqual([409, 'JobComplete']);
    const forced = await world.call('POST', `/jobs/${id}/retry`, { body: { force: true } });
    expect(forced.status).toBe(202);
    expect(forced.body['forced']).toBe(true);
    expect(await getJob(id)).toMatchObject({ status: 'pending', checkpoints: {}, outputs: {}, attempts: {} });
  });

  it('refuses a job whose failure is not recoverable without force (409), and with force resets its bounds', async () => {
    const { jobs } = await seedRunPack([failedWith('Fatal.InvalidInput', { attempts: { RESUME_CHECKPOINT: 3 }, recoveriesUsed: 8, checkpoints: CHECKPOINTS })], 'failed');
    const id = jobs[0]!.jobId;
    const refused = await world.call('POST', `/jobs/${id}/retry`);
    expect([refused.status, refused.body.error?.code]).toEqual([409, 'JobNotRecoverable']);
    expect(refused.body.error?.message).toContain('Fatal.InvalidInput');
    const forced = await world.call('POST', `/jobs/${id}/retry`, { body: { force: true } });
    expect(forced.status).toBe(202);
    expect(await getJob(id)).toMatchObject({ status: 'pending', attempts: {}, recoveriesUsed: 0, checkpoints: CHECKPOINTS });
  });

  it.each([
    ['a complete job, forced', { status: 'complete' as const }, 'complete' as const],
    ['a recoverably failed job', failedWith('Transient.Network'), 'completed_with_failures' as const],
    ['a pending job of a finished pack', { status: 'pending' as const }, 'completed_with_failures' as const],
  ])('answers ten simultaneous retries of %s with one 202 (the caller that started the run) and nine 409', async (_name, job, packStatus) => {
    // Prepare
    const { jobs } = await seedRunPack([job], packStatus);
    const id = jobs[0]!.jobId;
    // Act
    const answers = await Promise.all(Array.from({ length: 10 }, () => world.call('POST', `/jobs/${id}/retry`, { body: { force: true } })));
    // Assess
    const started = answers.filter((a) => a.status === 202);
    expect(started, answers.map((a) => a.text).join('\n')).toHaveLength(1);
    // Refused as changed (it read the job before the winner reset it) or as running (after).
    const refused = answers.filter((a) => a.status === 409).map((a) => a.body.error?.code);
    expect(refused).toHaveLength(9);
    for (const code of refused) expect(['JobChanged', 'JobRunning']).toContain(code);
    const runs = (await world.executions('job')).filter((e) => e.name?.startsWith(`${id}-`));
    expect(runs.map((e) => [e.executionArn, e.status])).toEqual([[started[0]!.body['executionArn'], 'RUNNING']]);
  });

  it('retries a pending job whose recorded run has ended, and refuses one whose run still runs', async () => {
    // Prepare: two pending jobs of a finished pack, each naming a run; one run stopped.
    const { jobs } = await seedRunPack([{ status: 'pending' }, { status: 'pending' }], 'completed_with_failures');
    const [ended, running] = await Promise.all(jobs.map((j) => world.sfnClient.send(new StartExecutionCommand({ stateMachineArn: world.machines.job, name: `${j.jobId}-1`, input: '{}' }))));
    await world.sfnClient.send(new StopExecutionCommand({ executionArn: ended!.executionArn }));
    await updateJob(jobs[0]!.jobId, { claim: ended!.executionArn! });
    await updateJob(jobs[1]!.jobId, { claim: running!.executionArn! });
    // Act
    const retriedEnded = await world.call('POST', `/jobs/${jobs[0]!.jobId}/retry`);
    const retriedRunning = await world.call('POST', `/jobs/${jobs[1]!.jobId}/retry`);
    // Assess: the ended run's name is taken, so the retry runs under the next one, and the job names it.
    expect(retriedEnded.status, retriedEnded.text).toBe(202);
    expect(String(retriedEnded.body['executionArn']).endsWith(`:${jobs[0]!.jobId}-2`)).toBe(true);
    expect((await getJob(jobs[0]!.jobId)).executionArn).toBe(retriedEnded.body['executionArn']);
    expect([retriedRunning.status, retriedRunning.body.error?.code]).toEqual([409, 'JobRunning']);
  });

  it('refuses a job that is running, and a job whose pack is running, with 409', async () => {
    const working = await seedRunPack([{ status: 'inpainting' }], 'completed_with_failures');
    const r1 = await world.call('POST', `/jobs/${working.jobs[0]!.jobId}/retry`, { body: { force: true } });
    expect([r1.status, r1.body.error?.code]).toEqual([409, 'JobRunning']);
    const inRunningPack = await seedRunPack([failedWith('Transient.Network')], 'running');
    const r2 = await world.call('POST', `/jobs/${inRunningPack.jobs[0]!.jobId}/retry`);
    expect([r2.status, r2.body.error?.code]).toEqual([409, 'PackRunning']);
  });
});

describe('GET /statistics', () => {
  it('summarizes the recovery events of the window from their hour buckets', async () => {
    // Prepare: events an hour or more apart, and one outside the default window.
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    const ev = (kind: 'error' | 'recovered' | 'failed', error: string, strategy: string, minutesAgo: number, ttr?: number) =>
      putEvent({ kind, at: at(minutesAgo), packId: 'p', jobId: randomUUID(), error, strategy, ...(ttr !== undefined && { timeToRecoverMs: ttr }) });
    await ev('error', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', 180);
    await ev('recovered', 'Gpu.OutOfMemory', 'REDUCE_PARAMS', 179, 60_000);
    await ev('error', 'Transient.Network', 'RETRY_BACKOFF', 120);
    await ev('recovered', 'Transient.Network', 'RETRY_BACKOFF', 120, 2000);
    await ev('error', 'Fatal.InvalidInput', 'ABORT', 60);
    await ev('failed', 'Fatal.InvalidInput', 'ABORT', 60);
    await ev('error', 'Gpu.ModelMissing', 'SWITCH_MODEL', 30);
    await ev('failed', 'Gpu.ModelMissing', 'SWITCH_MODEL', 30);
    await ev('error', 'Gpu.Timeout', 'RESUME_CHECKPOINT', 30 * 60);
    // Act
    const res = await world.call('GET', '/statistics');
    // Assess
    expect(res.status).toBe(200);
    const s = statisticsSchema.parse(res.body);
    expect({ errors: s.errors, recoveries: s.recoveries, failures: s.failures }).toEqual({ errors: 4, recoveries: 2, failures: 2 });
    // Fatal.InvalidInput is not recoverable: it is not in the rate. 2 recovered of 3 resolved recoverable failures.
    expect(s.recoveryRate).toBe(0.6667);
    expect(s.byError.find((e) => e.error === 'Gpu.OutOfMemory')).toEqual({ error: 'Gpu.OutOfMemory', recoverable: true, strategy: 'REDUCE_PARAMS', errors: 1, recovered: 1, failed: 0 });
    expect(s.byStrategy.find((x) => x.strategy === 'SWITCH_MODEL')).toEqual({ strategy: 'SWITCH_MODEL', errors: 1, recovered: 0, failed: 1 });
    expect(s.timeToRecoverMs).toEqual({ count: 2, p50: 2000, p95: 60_000 });
    expect(s.series).toHaveLength(25);
    expect(s.series.reduce((n, p) => n + p.errors, 0)).toBe(4);
    const wide = statisticsSchema.parse((await world.call('GET', `/statistics?since=${encodeURIComponent(at(31 * 60))}`)).body);
    expect(wide.errors).toBe(5);
  });
});

describe('GET /health', () => {
  it('reports dependencies, queue and dead-letter depths and stuck jobs found through the status index', async () => {
    // Prepare: a job stuck in inpainting for two hours, and a dead letter.
    await seedRunPack([{ status: 'inpainting', updatedAt: new Date(Date.now() - 2 * 3_600_000).toISOString() }], 'running');
    const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
    await sqs.send(new SendMessageCommand({ QueueUrl: world.resources.queues.gpu.dlqUrl, MessageBody: '{}' }));
    sqs.destroy();
    // Act
    const res = await world.call('GET', '/health');
    // Assess
    expect(res.status).toBe(200);
    const h = healthSchema.parse(res.body);
    expect(h.dependencies.map((d) => [d.name, d.ok])).toEqual([['dynamodb', true], ['sqs', true], ['sqs-dead-letter', true], ['stepfunctions', true], ['s3', true]]);
    expect(h.stuckJobs).toMatchObject({ count: 1, thresholdSeconds: 1800, byStatus: { inpainting: 1 } });
    expect(h.queues.deadLetter).toEqual({ visible: 1 });
    expect(h.emergencyStopped).toBe(false);
    // Every provider's breaker, and auto-recovery's own, is known and closed: nothing has failed yet.
    expect(h.circuitBreakers.map((b) => [b.dependency, b.state])).toEqual([
      ['comfyui', 'closed'], ['hosted-inpaint', 'closed'], ['segmentation', 'closed'], ['analyzer', 'closed'], ['auto-recovery', 'closed'],
    ]);
    expect([h.status, h.score]).toEqual(['degraded', 80]);
  });
});

describe('DELETE /cleanup', () => {
  it('deletes the recovery data of terminal jobs older than N hours, keeps their outputs, and leaves recent jobs alone', async () => {
    // Prepare
    const old = new Date(Date.now() - 48 * 3_600_000).toISOString();
    const { pack, jobs } = await seedRunPack([
      { status: 'complete', updatedAt: old },
      failedWith('Gpu.OutOfMemory', { updatedAt: old }),
      { status: 'complete' },
    ], 'completed_with_failures');
    const files = ['mask.png', 'inpainted.png', 'result.png', 'gpu-attempt-1.png'];
    for (const j of jobs) {
      for (const f of files) await putObject(s3Keys.artifact(pack.packId, j.jobId, f), Buffer.from(f));
    }
    for (const j of jobs) {
      // Written directly: updateJob would make the jobs look recently updated.
      await documentClient().send(new UpdateCommand({
        TableName: world.resources.tables.jobs, Key: { jobId: j.jobId },
        UpdateExpression: 'SET checkpoints = :c, outputs = :o',
        ExpressionAttributeValues: {
          ':c': { segmentation: s3Keys.artifact(pack.packId, j.jobId, 'mask.png'), inpaint: s3Keys.artifact(pack.packId, j.jobId, 'inpainted.png') },
          ':o': { result: s3Keys.artifact(pack.packId, j.jobId, 'result.png') },
        },
      }));
    }
    // Act
    const res = await world.call('DELETE', '/cleanup?hours=24');
    // Assess
    expect(res.status, res.text).toBe(200);
    expect(cleanupResultSchema.parse(res.body)).toMatchObject({ hours: 24, jobsCleaned: 2, objectsDeleted: 6, more: false });
    const s3 = new S3Client({ forcePathStyle: true });
    const left = async (jobId: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: world.resources.buckets.artifacts, Prefix: s3Keys.jobPrefix(pack.packId, jobId) }))).Contents ?? []).map((o) => o.Key!.split('/').at(-1)).sort();
    expect(await left(jobs[0]!.jobId)).toEqual(['result.png']);
    expect(await left(jobs[1]!.jobId)).toEqual(['result.png']);
    expect(await left(jobs[2]!.jobId)).toEqual([...files].sort());
    s3.destroy();
    const cleaned = await getJob(jobs[0]!.jobId);
    expect(cleaned.checkpoints).toEqual({});
    expect(cleaned.updatedAt).toBe(old);
    expect((await getJob(jobs[2]!.jobId)).checkpoints).not.toEqual({});
    const again = cleanupResultSchema.parse((await world.call('DELETE', '/cleanup?hours=24')).body);
    expect(again.jobsCleaned).toBe(0);
  });
});
