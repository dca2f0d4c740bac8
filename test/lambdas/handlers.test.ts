/**
 * Stage and recovery handlers against DynamoDB Local and fauxqs S3: conditional
 * transitions, ownership, checkpoints, the recovery ledger and the bounds.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMask, encodeMask, maskStats } from '../../core/images/mask.ts';
import { EVENT_BUS, GPU_TASK, physicalName, s3Keys } from '../../core/resources.ts';
import { documentClient, resetClients } from '../../adapters/aws-clients.ts';
import { getObject, putObject } from '../../adapters/artifacts.ts';
import { forgetStopFlag } from '../../adapters/control.ts';
import { EMERGENCY_STOP_FLAG, getJob, getPack, setFlag, updateJob } from '../../adapters/job-store.ts';
import type { StateHandler } from '../../lambdas/state/state-handler.ts';
import { blankMask, rectMask, torsoRect } from '../support/images.ts';
import { provisionFresh } from '../support/aws.ts';
import { seedPack } from '../support/jobs.ts';
import { lambdaContext } from '../support/lambda.ts';
import { STATE_FUNCTION_DEFS } from '../../lambdas/catalog.ts';
import { LOCAL_REGION } from '../../local/emulators.ts';
import { startLocalBus, type LocalBus } from '../../local/events/bus.ts';
import { asPrincipal, type Enforcement } from '../../local/iam/enforce.ts';
import { LOCAL_ACCOUNT } from '../../local/stack.ts';
import { enforceIamHere, expectNoDenials } from '../support/iam.ts';

let handlers: Record<string, StateHandler>;
let provider: Server;
let providerMode: 'ok' | 'html502' | 'malformed' | 'schema' = 'ok';
let eventsTable: string;
let iam: Enforcement;
let bus: LocalBus;

/** The catalog id of a handler file: each runs as its own function's role, IAM enforced. */
const principalOf = (file: string) => {
  const id = Object.entries(STATE_FUNCTION_DEFS).find(([, d]) => d.entry === `lambdas/handlers/${file}.ts`)?.[0];
  if (id === undefined) throw new Error(`no catalog entry for ${file}`);
  return id;
};

const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:job:run-1';
const OTHER = 'arn:aws:states:us-east-1:000000000000:execution:job:run-2';

const invoke = (fn: string, state: Record<string, unknown>, executionArn = EXEC) =>
  asPrincipal(principalOf(fn), () => handlers[fn]!({ state, executionArn }, lambdaContext(fn)));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  const p = await provisionFresh();
  // The transitions these handlers write are announced on a bus, so their PutEvents is checked too.
  bus = await startLocalBus({ busName: physicalName(EVENT_BUS.name, `h${randomUUID().slice(0, 8)}`), region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
  Object.assign(process.env, { [EVENT_BUS.envVar]: bus.busName, AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url });
  resetClients();
  iam = await enforceIamHere();
  eventsTable = p.tables.events;
  provider = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (providerMode === 'html502') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><title>502 Bad Gateway</title></html>');
      } else if (providerMode === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"mask": "abc');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(providerMode === 'schema' ? { masque: 1 } : { mask: 'notbase64!!' }));
      }
    });
  });
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
  process.env['SEGMENTATION_URL'] = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  process.env['PROVIDER_TIMEOUT_MS'] = '2000';
  process.env['VTO_TIME_SCALE'] = '0.5';
  const names = ['job-start', 'segmentation-call', 'mask-aggregate', 'mask-expand', 'inpaint-prepare', 'compose', 'reduce-params',
    'switch-model', 'resume-checkpoint', 'resegment', 'backoff-gpu', 'job-fail', 'pack-load', 'pack-finalize'];
  handlers = Object.fromEntries(await Promise.all(names.map(async (n) => [n, (await import(`../../lambdas/handlers/${n}.ts`)).handler as StateHandler])));
});

afterAll(async () => {
  await new Promise((r) => provider.close(r));
  await bus.stop();
  // Every code path above ran as its function's role: none of their calls may have been refused.
  expect(bus.events().length).toBeGreaterThan(0);
  expectNoDenials(iam);
  iam.stop();
});

describe('Start the job', () => {
  it('claims a pending job for the execution and starts at segmentation', async () => {
    const { jobs: [job] } = await seedPack();
    const out = await invoke('job-start', { packId: job!.packId, jobId: job!.jobId });
    expect(out['job']).toEqual({ resumeAt: 'segmentation', inpaint: 'comfyui' });
    const stored = await getJob(job!.jobId);
    expect(stored).toMatchObject({ status: 'segmenting', executionArn: EXEC, runs: 1 });
  });

  it('stops a second run that finds the job already claimed, leaving the job untouched', async () => {
    const { jobs: [job] } = await seedPack();
    await invoke('job-start', { packId: job!.packId, jobId: job!.jobId });
    const err = await rejection(invoke('job-start', { packId: job!.packId, jobId: job!.jobId }, OTHER));
    expect(err.name).toBe('Control.Stopped');
    expect(err.message).toMatch(/not pending: another run has it/);
    expect(await getJob(job!.jobId)).toMatchObject({ executionArn: EXEC, runs: 1 });
  });

  it('resumes at the first stage without a checkpoint', async () => {
    const { jobs: [job] } = await seedPack({ mutate: (j) => { j.checkpoints = { segmentation: 'm.png' }; } });
    const out = await invoke('job-start', { packId: job!.packId, jobId: job!.jobId });
    expect(out['job']).toEqual({ resumeAt: 'inpaint', inpaint: 'comfyui' });
    expect((await getJob(job!.jobId)).status).toBe('inpainting');
  });
});

describe('ownership and transitions', () => {
  it('ends a stale execution quietly when another run owns the job', async () => {
    const { jobs: [job] } = await seedPack({ mutate: (j) => { j.checkpoints = { segmentation: 'm.png' }; } });
    await invoke('job-start', { packId: job!.packId, jobId: job!.jobId });
    const err = await rejection(invoke('inpaint-prepare', { packId: job!.packId, jobId: job!.jobId }, OTHER));
    expect(err.name).toBe('Control.Stopped');
  });

  it('refuses an illegal status change as data the machine and the table disagree on', async () => {
    const { jobs: [job] } = await seedPack({ mutate: (j) => { j.checkpoints = { segmentation: 'm.png' }; } });
    await invoke('job-start', { packId: job!.packId, jobId: job!.jobId });
    await updateJob(job!.jobId, { to: 'failed', owner: EXEC });
    const err = await rejection(invoke('inpaint-prepare', { packId: job!.packId, jobId: job!.jobId }));
    expect(err.name).toBe('Fatal.DataCorruption');
    expect(err.message).toMatch(/cannot move from failed to inpainting/);
  });
});

describe('segmentation', () => {
  const size = 256;
  async function storeMasks(packId: string, jobId: string, masks: ReturnType<typeof rectMask>[]) {
    return Promise.all(masks.map(async (m, i) => ({ maskKey: await putObject(s3Keys.artifact(packId, jobId, `segmentation/in-${i}.png`), await encodeMask(m)) })));
  }

  it('votes usable masks, then dilates the result into the segmentation checkpoint', async () => {
    const { jobs: [job] } = await seedPack({ size, params: { maskExpandPx: 8 } });
    await invoke('job-start', { packId: job!.packId, jobId: job!.jobId });
    const rect = torsoRect(size, size);
    const masks = await storeMasks(job!.packId, job!.jobId, [rectMask(size, size, rect), rectMask(size, size, rect), blankMask(size, size)]);
    const agg = await invoke('mask-aggregate', { packId: job!.packId, jobId: job!.jobId, segmentation: { pass: 0, masks } });
    expect(agg['segmentation']).toMatchObject({ usable: 2, rejected: [{ index: 2, reason: 'empty' }] });
    const out = await invoke('mask-expand', { ...agg });
    expect(out['segmentation']).toBeNull();
    const stored = await getJob(job!.jobId);
    const aggregated = maskStats(await decodeMask(await getObject((agg['segmentation'] as { aggregatedKey: string }).aggregatedKey)));
    const expanded = maskStats(await decodeMask(await getObject(stored.checkpoints.segmentation!)));
    expect(expanded.coverage).toBeGreaterThan(aggregated.coverage);
  });

  it('records a degenerate mask as pending, recovers it by re-segmenting, and resolves it on the next good vote', async () => {
    const { jobs: [job] } = await seedPack({ size });
    const s = { packId: job!.packId, jobId: job!.jobId };
    await invoke('job-start', s);
    const bad = await storeMasks(job!.packId, job!.jobId, [rectMask(size, size, torsoRect(size, size)), blankMask(size, size)]);
    const err = await rejection(invoke('mask-aggregate', { ...s, segmentation: { pass: 0, masks: bad } }));
    expect(err.name).toBe('Segmentation.DegenerateMask');
    let stored = await getJob(job!.jobId);
    expect(stored.recoveries).toMatchObject([{ error: 'Segmentation.DegenerateMask', fn: 'MaskAggregate', strategy: 'RESEGMENT', outcome: 'pending' }]);

    await invoke('resegment', { ...s, lastError: { Error: err.name, Cause: err.message } });
    stored = await getJob(job!.jobId);
    expect(stored.recoveries).toHaveLength(1);
    expect(stored).toMatchObject({ status: 'recovering', attempts: { RESEGMENT: 1 }, recoveriesUsed: 1 });

    const good = await storeMasks(job!.packId, job!.jobId, [rectMask(size, size, torsoRect(size, size)), rectMask(size, size, torsoRect(size, size))]);
    await invoke('mask-aggregate', { ...s, segmentation: { pass: 1, masks: good } });
    stored = await getJob(job!.jobId);
    expect(stored.recoveries[0]).toMatchObject({ outcome: 'recovered' });
    expect(stored.recoveries[0]!.resolvedAt).toBeDefined();
    // Events live in hour buckets; read this hour's and the last (the test may cross an hour).
    const hours = [Date.now(), Date.now() - 3_600_000].map((t) => new Date(t).toISOString().slice(0, 13));
    const pages = await Promise.all(hours.map((h) => documentClient().send(new QueryCommand({
      TableName: eventsTable, KeyConditionExpression: '#b = :b', ExpressionAttributeNames: { '#b': 'bucket' }, ExpressionAttributeValues: { ':b': h },
    }))));
    const mine = pages.flatMap((p) => p.Items ?? []).filter((e) => e['jobId'] === job!.jobId);
    expect(mine.map((e) => e['kind']).sort()).toEqual(['error', 'recovered']);
    expect(mine.find((e) => e['kind'] === 'recovered')!['timeToRecoverMs']).toBeGreaterThanOrEqual(0);
  });

  it.each([
    { mode: 'html502' as const, name: 'Transient.ServiceUnavailable' },
    { mode: 'malformed' as const, name: 'Provider.MalformedResponse' },
    { mode: 'schema' as const, name: 'Provider.MalformedResponse' },
    { mode: 'ok' as const, name: 'Provider.MalformedResponse' },
  ])('names a provider answer of kind $mode as $name', async ({ mode, name }) => {
    const { jobs: [job] } = await seedPack({ size });
    await invoke('job-start', { packId: job!.packId, jobId: job!.jobId });
    providerMode = mode;
    const err = await rejection(invoke('segmentation-call', { packId: job!.packId, jobId: job!.jobId, index: 0, call: { prompt: 'shirt', variant: 0 } }));
    expect(err.name).toBe(name);
  });
});

describe('GPU recovery steps', () => {
  const gpuFailure = { Error: 'Gpu.OutOfMemory', Cause: 'torch.OutOfMemoryError: CUDA out of memory' };

  async function started(params: Record<string, number | string> = {}) {
    const { jobs: [job] } = await seedPack({ params, mutate: (j) => { j.checkpoints = { segmentation: 'm.png' }; } });
    const s = { packId: job!.packId, jobId: job!.jobId };
    await invoke('job-start', s);
    return s;
  }

  it('opens a new GPU attempt with a workflow whose images are placeholders for the worker', async () => {
    const s = await started();
    const out = await invoke('inpaint-prepare', s);
    const gpu = out['gpu'] as { attempt: number; workflow: Record<string, unknown>; inputs: Record<string, string> };
    expect(gpu.attempt).toBe(1);
    expect(JSON.stringify(gpu.workflow)).toContain('{{person}}');
    expect(gpu.inputs).toMatchObject({ mask: 'm.png' });
    expect((await getJob(s.jobId)).status).toBe('inpainting');
  });

  it("bounds the GPU task by the job's wait budget plus the run bound, or the default budget when the pack set none", async () => {
    // Prepare
    const { jobs: [own] } = await seedPack({ mutate: (j) => { j.checkpoints = { segmentation: 'm.png' }; j.gpuWaitMinutes = 90; } });
    const s = { packId: own!.packId, jobId: own!.jobId };
    await invoke('job-start', s);
    const d = await started();
    // Act
    const [withBudget, withDefault] = await Promise.all([invoke('inpaint-prepare', s), invoke('inpaint-prepare', d)]);
    // Assess
    expect((withBudget['gpu'] as { timeoutSeconds: number }).timeoutSeconds).toBe(90 * 60 + GPU_TASK.timeoutSeconds);
    expect((withDefault['gpu'] as { timeoutSeconds: number }).timeoutSeconds).toBe(GPU_TASK.waitMinutes.default * 60 + GPU_TASK.timeoutSeconds);
  });

  it('reduces parameters, records the GPU failure once per attempt, and stops at its bound', async () => {
    const s = await started({ width: 1536, height: 1536, batch: 4, steps: 50 });
    for (let i = 1; i <= 3; i++) {
      await invoke('inpaint-prepare', s);
      await invoke('reduce-params', { ...s, lastError: gpuFailure });
    }
    const stored = await getJob(s.jobId);
    expect(stored.params).toMatchObject({ batch: 1, steps: 26 });
    expect(stored.originalParams).toMatchObject({ width: 1536, batch: 4, steps: 50 });
    expect(stored.recoveries.map((r) => [r.fn, r.strategy, r.attempt])).toEqual([['GPU', 'REDUCE_PARAMS', 1], ['GPU', 'REDUCE_PARAMS', 2], ['GPU', 'REDUCE_PARAMS', 3]]);
    await invoke('inpaint-prepare', s);
    const err = await rejection(invoke('reduce-params', { ...s, lastError: gpuFailure }));
    expect(err.name).toBe('Recovery.Exhausted');
    expect(err.message).toBe('Gpu.OutOfMemory: REDUCE_PARAMS already ran 3 of 3 times');
  });

  it('switches along the fallback chain and never returns to a tried model', async () => {
    const s = await started();
    const missing = { Error: 'Gpu.ModelMissing', Cause: "ckpt_name: 'x' not in []" };
    await invoke('switch-model', { ...s, lastError: missing });
    await invoke('inpaint-prepare', s);
    await invoke('switch-model', { ...s, lastError: missing });
    const stored = await getJob(s.jobId);
    expect(stored.triedModels).toEqual(['sdxl-inpaint-1.0.safetensors', 'sd15-inpaint.safetensors']);
    expect(stored.params.model).toBe('realistic-vision-inpaint.safetensors');
    await invoke('inpaint-prepare', s);
    const err = await rejection(invoke('switch-model', { ...s, lastError: missing }));
    expect(err.name).toBe('Recovery.Exhausted');
    expect(err.message).toMatch(/no untried model left/);
  });

  it('resumes after a heartbeat timeout at the first stage without output', async () => {
    const s = await started();
    await invoke('inpaint-prepare', s);
    const out = await invoke('resume-checkpoint', { ...s, job: { resumeAt: 'segmentation', inpaint: 'comfyui' }, lastError: { Error: 'States.HeartbeatTimeout', Cause: '' } });
    expect(out['job']).toEqual({ resumeAt: 'inpaint', inpaint: 'comfyui' });
    expect(out['lastError']).toBeUndefined();
    expect((await getJob(s.jobId)).recoveries).toMatchObject([{ error: 'States.HeartbeatTimeout', strategy: 'RESUME_CHECKPOINT' }]);
  });

  it('backs off a transient GPU failure within the policy, compressed by the time scale', async () => {
    const s = await started();
    await invoke('inpaint-prepare', s);
    const out = await invoke('backoff-gpu', { ...s, lastError: { Error: 'Transient.ServiceUnavailable', Cause: '503' } });
    const { waitSeconds } = out['backoff'] as { waitSeconds: number };
    expect(waitSeconds).toBeGreaterThanOrEqual(0);
    expect(waitSeconds).toBeLessThanOrEqual(1); // 2 s × 0.5, full jitter
  });
});

describe('Record the failure', () => {
  it('fails the job with its reason, flags it for a person, and closes its pending recoveries as failed', async () => {
    const { jobs: [job] } = await seedPack({ mutate: (j) => { j.checkpoints = { segmentation: 'm.png' }; } });
    const s = { packId: job!.packId, jobId: job!.jobId };
    await invoke('job-start', s);
    await invoke('inpaint-prepare', s);
    await invoke('reduce-params', { ...s, lastError: { Error: 'Gpu.OutOfMemory', Cause: 'oom' } });
    const out = await invoke('job-fail', { ...s, lastError: { Error: 'Unclassified', Cause: 'CUDA error: an illegal memory access was encountered' } });
    expect(out['lastError']).toEqual({ Error: 'Unclassified', Cause: 'CUDA error: an illegal memory access was encountered' });
    const stored = await getJob(job!.jobId);
    expect(stored).toMatchObject({ status: 'failed', needsIntervention: true, error: { name: 'Unclassified' } });
    expect(stored.recoveries.map((r) => r.outcome)).toEqual(['failed']);
  });
});

describe('packs', () => {
  it('lists only pending jobs with the name of their next run, then counts the outcome', async () => {
    const { pack, jobs } = await seedPack({ jobs: 3, mutate: (j, i) => { if (i === 2) j.status = 'complete'; } });
    const out = await invoke('pack-load', { packId: pack.packId });
    const listed = out['jobs'] as { jobId: string; executionName: string }[];
    expect(listed.map((j) => j.jobId).sort()).toEqual([jobs[0]!.jobId, jobs[1]!.jobId].sort());
    expect(listed.every((j) => j.executionName === `${j.jobId}-1`)).toBe(true);
    expect(await getPack(pack.packId)).toMatchObject({ status: 'running', runs: 1 });

    await updateJob(jobs[0]!.jobId, { to: 'failed' });
    await updateJob(jobs[1]!.jobId, { to: 'segmenting' });
    await updateJob(jobs[1]!.jobId, { to: 'failed' });
    const fin = await invoke('pack-finalize', { packId: pack.packId });
    expect(fin['status']).toBe('completed_with_failures');
    expect(await getPack(pack.packId)).toMatchObject({ status: 'completed_with_failures', counts: { complete: 1, failed: 2 } });
  });
});

describe('emergency stop', () => {
  it('stage functions refuse to run while the pipeline is stopped, and run again after resume', async () => {
    const { jobs: [job] } = await seedPack();
    const s = { packId: job!.packId, jobId: job!.jobId };
    await setFlag(EMERGENCY_STOP_FLAG, { reason: 'test' });
    forgetStopFlag();
    const err = await rejection(invoke('job-start', s));
    expect(err.name).toBe('Control.Stopped');
    expect((await getJob(job!.jobId)).status).toBe('pending');
    await setFlag(EMERGENCY_STOP_FLAG, null);
    forgetStopFlag();
    await invoke('job-start', s);
    expect((await getJob(job!.jobId)).status).toBe('segmenting');
  });
});
