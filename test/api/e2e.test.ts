/**
 * The API in front of the whole offline stack (local Step Functions with the real
 * handlers, simulated ComfyUI and providers, GPU worker processes), called only through
 * SigV4-signed HTTP as a client on AWS would: upload images with the pre-signed URLs,
 * create a pack, follow it to the end; emergency-stop a running pack, resume it, and see
 * every job finish.
 */
import { randomUUID } from 'node:crypto';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedFetch } from '../../client/signed-fetch.ts';
import { startLocalApi, type LocalApi } from '../../local/api-server.ts';
import { startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import { garmentImage, personImage } from '../../local/synthetic-images.ts';
import { jobListSchema, jobViewSchema, packCreatedSchema, packViewSchema, uploadsCreatedSchema, type PackView } from '../../lambdas/api/schemas.ts';
import { eventually } from '../support/eventually.ts';

let stack: OfflineStack;
let api: LocalApi;
let sfn: SFNClient;

beforeAll(async () => {
  stack = await startOfflineStack({ timeScale: 0.05, workers: 2, profile: 'none', prefix: `api${randomUUID().slice(0, 6)}` });
  const { handler } = await import('../../lambdas/api/handler.ts');
  api = await startLocalApi({ handler, region: stack.endpoints.region, credentials: stack.endpoints.credentials });
  sfn = new SFNClient({ endpoint: stack.endpoints.stepFunctions, region: stack.endpoints.region, credentials: stack.endpoints.credentials });
});
afterAll(async () => {
  sfn?.destroy();
  await api?.stop();
  await stack?.stop();
});

async function call(method: string, path: string, body?: unknown) {
  const res = await signedFetch(`${api.url}${path}`, {
    method, ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  }, { credentials: stack.endpoints.credentials, region: stack.endpoints.region });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Uploads a person and a garment per job through pre-signed URLs; returns the pack id and keys. */
async function upload(jobs: number) {
  const person = await personImage(320, 320);
  const garments = await Promise.all([[200, 30, 40], [30, 90, 200], [40, 160, 70]].map((c) => garmentImage(320, 320, c as [number, number, number])));
  const files = [{ name: 'person.png', contentType: 'image/png', size: person.length },
    ...garments.map((g, i) => ({ name: `garment-${i}.png`, contentType: 'image/png', size: g.length }))];
  const res = await call('POST', '/uploads', { files });
  expect(res.status).toBe(200);
  const u = uploadsCreatedSchema.parse(res.body);
  const bytes = [person, ...garments];
  await Promise.all(u.files.map(async (f, i) => {
    const put = await fetch(f.url, { method: 'PUT', headers: f.headers, body: new Uint8Array(bytes[i]!) });
    expect(put.status).toBe(200);
  }));
  const key = (name: string) => u.files.find((f) => f.name === name)!.key;
  return { packId: u.packId, jobs: Array.from({ length: jobs }, (_, i) => ({ person: key('person.png'), garment: key(`garment-${i % 3}.png`) })) };
}

async function createPack(jobs: number, name: string) {
  const u = await upload(jobs);
  const res = await call('POST', '/packs', { name, packId: u.packId, pipeline: { inpaint: 'comfyui', params: { width: 512, height: 512, steps: 20, batch: 1 } }, jobs: u.jobs });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return packCreatedSchema.parse(res.body);
}

/** Polls GET /packs/{id} until `done` holds (bounded by `deadlineMs`); returns that view. */
async function pollPack(packId: string, done: (p: PackView) => boolean, deadlineMs: number): Promise<PackView> {
  return eventually(async () => {
    const res = await call('GET', `/packs/${packId}`);
    expect(res.status).toBe(200);
    return packViewSchema.parse(res.body);
  }, done, `pack ${packId} to get there`, { timeoutMs: deadlineMs, everyMs: 300 });
}

const finished = (p: PackView) => ['complete', 'completed_with_failures', 'failed'].includes(p.status) && (p.progress?.done ?? 0) === p.jobCount;

describe('through the signed API on the offline stack', () => {
  it('creates a pack from uploaded images and follows it to the end, with outputs to download', async () => {
    // Act
    const created = await createPack(3, 'e2e follow');
    const view = await pollPack(created.packId, finished, 150_000);
    // Assess
    expect(view).toMatchObject({ status: 'complete', progress: { done: 3, total: 3, percent: 100 } });
    expect(view.counts?.complete).toBe(3);
    expect(view.consoleUrl).toContain(`${created.packId}-1`);
    const jobs = jobListSchema.parse((await call('GET', `/packs/${created.packId}/jobs?status=complete`)).body);
    expect(jobs.items.map((j) => j.jobId).sort()).toEqual([...created.jobIds].sort());
    const job = jobViewSchema.parse((await call('GET', `/jobs/${created.jobIds[0]}`)).body);
    expect(job.status).toBe('complete');
    const result = await fetch(job.outputs.result!.url);
    expect(Buffer.from(await result.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
    const health = await call('GET', '/health');
    expect(health.body['emergencyStopped']).toBe(false);
  });

  it('stops a running pack with the emergency stop, resumes it, and every job finishes', async () => {
    // Prepare: a pack under way.
    const executions = async (machine: string, statusFilter: 'RUNNING' | 'ABORTED') =>
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn: machine, statusFilter }))).executions ?? [];
    const created = await createPack(4, 'e2e stop and resume');
    await pollPack(created.packId, (p) => p.status === 'running', 30_000);
    // The pack turns running before its Map starts the first job: wait for a job under way,
    // or the stop below may find none to stop.
    await eventually(() => executions(stack.endpoints.stateMachines.job, 'RUNNING'), (r) => r.length > 0, 'a job execution to run', { timeoutMs: 30_000, everyMs: 100 });
    // Act: stop
    const stopped = await call('POST', '/emergency-stop', { reason: 'e2e drill' });
    // Assess: stopped, new work refused
    expect(stopped.status).toBe(202);
    expect(stopped.body['packsStopped']).toEqual([created.packId]);
    // Nothing runs any more, and at least one job was stopped mid-way.
    expect(await executions(stack.endpoints.stateMachines.pack, 'RUNNING')).toEqual([]);
    expect(await executions(stack.endpoints.stateMachines.job, 'RUNNING')).toEqual([]);
    expect((await executions(stack.endpoints.stateMachines.job, 'ABORTED')).length).toBeGreaterThan(0);
    expect((await call('GET', `/packs/${created.packId}`)).body['status']).toBe('stopped');
    expect((await call('POST', `/packs/${created.packId}/restart-incomplete`)).status).toBe(503);
    // Act: resume
    const resumed = await call('POST', '/resume');
    expect(resumed.status).toBe(202);
    expect(resumed.body['packsResumed']).toEqual([created.packId]);
    // Assess: nothing lost
    const view = await pollPack(created.packId, finished, 150_000);
    expect(view).toMatchObject({ status: 'complete', progress: { done: 4, total: 4 } });
    const jobs = jobListSchema.parse((await call('GET', `/packs/${created.packId}/jobs`)).body);
    expect(jobs.items.map((j) => [j.jobId, j.status]).sort()).toEqual([...created.jobIds].sort().map((id) => [id, 'complete']));
  });
});

describe('IAM as synthesized', () => {
  it('refused none of the API\'s calls above (uploads, pre-signed URLs, packs, executions, health)', () => {
    expect(stack.iamDenials()?.map((d) => d.message)).toEqual([]);
  });
});
