/**
 * Creating and reading packs through the signed API: uploads, POST /packs answering 202
 * at once with the execution started, Idempotency-Key, nothing half-written when the
 * pack cannot start, pages of packs and jobs, jobs with pre-signed outputs, 404s.
 */
import { randomUUID } from 'node:crypto';
import { ScanCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { getJob, getPack, updateJob, updatePack } from '../../adapters/job-store.ts';
import { jobListSchema, jobViewSchema, packCreatedSchema, packListSchema, packViewSchema, uploadsCreatedSchema } from '../../lambdas/api/schemas.ts';
import { putObject } from '../../adapters/artifacts.ts';
import { packBody, uploadImages, type Uploaded } from './support/packs.ts';
import { OTHER_CALLER, startApiWorld, type ApiWorld } from './support/world.ts';

let world: ApiWorld;
let ddb: DynamoDBClient;

beforeAll(async () => {
  world = await startApiWorld();
  ddb = new DynamoDBClient({});
});
afterAll(async () => {
  ddb?.destroy();
  await world?.stop();
});

const count = async (table: 'packs' | 'jobs') =>
  (await ddb.send(new ScanCommand({ TableName: world.resources.tables[table], Select: 'COUNT' }))).Count ?? 0;

async function created(u: Uploaded, over: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await world.call('POST', '/packs', { body: packBody(u, over), headers });
  expect(res.status, res.text).toBe(202);
  return packCreatedSchema.parse(res.body);
}

describe('POST /uploads', () => {
  it('reserves a pack id and signs a PUT per file with its content type and size, under the pack\'s upload prefix', async () => {
    // Act
    const res = await world.call('POST', '/uploads', { body: { files: [{ name: 'person.png', contentType: 'image/png', size: 1234 }, { name: 'shirt.webp', contentType: 'image/webp', size: 99 }] } });
    // Assess
    expect(res.status).toBe(200);
    const body = uploadsCreatedSchema.parse(res.body);
    expect(body.packId).toMatch(/^[0-9a-f-]{36}$/);
    for (const f of body.files) {
      expect(f.key).toMatch(new RegExp(`^packs/${body.packId}/uploads/[0-9a-f]{8}-${f.name.replace('.', '\\.')}$`));
      const url = new URL(f.url);
      expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(['content-length', 'content-type', 'host', 'x-amz-tagging']);
      expect(Number(url.searchParams.get('X-Amz-Expires'))).toBe(900);
    }
    expect(body.files.map((f) => f.headers)).toEqual([
      { 'content-type': 'image/png', 'content-length': '1234', 'x-amz-tagging': 'vto%3Aupload=unclaimed' },
      { 'content-type': 'image/webp', 'content-length': '99', 'x-amz-tagging': 'vto%3Aupload=unclaimed' },
    ]);
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(800_000);
  });

  it('adds files to a reserved pack id, but never to a pack that exists', async () => {
    const u = await uploadImages(world, 1);
    const more = await world.call('POST', '/uploads', { body: { packId: u.packId, files: [{ name: 'extra.png', contentType: 'image/png', size: 10 }] } });
    expect(more.status).toBe(200);
    expect(more.body['packId']).toBe(u.packId);
    await created(u);
    const refused = await world.call('POST', '/uploads', { body: { packId: u.packId, files: [{ name: 'late.png', contentType: 'image/png', size: 10 }] } });
    expect(refused.status).toBe(409);
    expect(refused.body.error?.code).toBe('PackExists');
  });
});

describe('upload tags', () => {
  const tagsOf = async (Key: string) => {
    const s3 = new S3Client({ forcePathStyle: true });
    try {
      return (await s3.send(new GetObjectTaggingCommand({ Bucket: world.resources.buckets.artifacts, Key }))).TagSet ?? [];
    } finally {
      s3.destroy();
    }
  };

  it('tags every upload unclaimed; the pack that uses them removes the tag, an upload it does not use keeps it', async () => {
    // Prepare
    const u = await uploadImages(world, 2);
    const unused = u.jobs[1]!.person;
    const used = [u.jobs[0]!.person, u.jobs[0]!.garment];
    const before = await Promise.all([...used, unused].map(tagsOf));

    // Act
    await created(u, { jobs: [u.jobs[0]!] });

    // Assess
    expect(before).toEqual([0, 1, 2].map(() => [{ Key: 'vto:upload', Value: 'unclaimed' }]));
    expect(await Promise.all(used.map(tagsOf))).toEqual([[], []]);
    expect(await tagsOf(unused)).toEqual([{ Key: 'vto:upload', Value: 'unclaimed' }]);
  });

  it('cannot be dropped by the uploader: a PUT without the signed tagging header is refused', async () => {
    const res = await world.call('POST', '/uploads', { body: { files: [{ name: 'p.png', contentType: 'image/png', size: 5 }] } });
    const f = uploadsCreatedSchema.parse(res.body).files[0]!;
    const { 'x-amz-tagging': _dropped, ...rest } = f.headers;

    const put = await fetch(f.url, { method: 'PUT', headers: rest, body: 'image' });

    expect(put.status).toBe(403);
    expect(await put.text()).toContain('SignatureDoesNotMatch');
  });
});

describe('POST /packs', () => {
  it('writes the pack and its jobs, starts the pack execution under the pack id, and answers 202 with ids and a status URL', async () => {
    // Prepare
    const u = await uploadImages(world, 3);
    // Act
    const res = await world.call('POST', '/packs', { body: packBody(u) });
    // Assess
    expect(res.status, res.text).toBe(202);
    const body = packCreatedSchema.parse(res.body);
    expect(body).toMatchObject({ packId: u.packId, name: 'spring catalogue', status: 'pending', statusUrl: `${world.api.url}/packs/${u.packId}` });
    expect(res.headers.get('location')).toBe(body.statusUrl);
    expect(body.jobIds).toHaveLength(3);
    expect(body.executionArn).toBe(`${world.machines.pack.replace(':stateMachine:', ':execution:')}:${u.packId}-1`);
    const execution = await world.sfnClient.send(new DescribeExecutionCommand({ executionArn: body.executionArn }));
    expect(execution.status).toBe('RUNNING');
    expect(JSON.parse(execution.input ?? '{}')).toEqual({ packId: u.packId });
    expect(await getPack(u.packId)).toMatchObject({ status: 'pending', jobCount: 3, inpaint: 'comfyui', runs: 0 });
    const jobs = await Promise.all(body.jobIds.map((id) => getJob(id)));
    expect(jobs.map((j) => j.inputs)).toEqual(u.jobs);
    expect(jobs.every((j) => j.status === 'pending' && j.packId === u.packId)).toBe(true);
  });

  it('gives every job the pipeline\'s params, overridden by the job\'s own, over the defaults', async () => {
    const u = await uploadImages(world, 2);
    const jobs = [{ ...u.jobs[0]!, params: { seed: 7, model: 'sd15-inpaint.safetensors' } }, u.jobs[1]!];
    const body = await created(u, { jobs, pipeline: { inpaint: 'hosted', params: { width: 768, height: 768, steps: 25 } } });
    const [a, b] = await Promise.all(body.jobIds.map((id) => getJob(id)));
    expect(a?.params).toEqual({ ...DEFAULT_PARAMS, width: 768, height: 768, steps: 25, seed: 7, model: 'sd15-inpaint.safetensors' });
    expect(a?.originalParams).toEqual(a?.params);
    expect(b?.params).toEqual({ ...DEFAULT_PARAMS, width: 768, height: 768, steps: 25 });
    expect(a?.inpaint).toBe('hosted');
  });

  it("gives every job the pack's GPU wait budget", async () => {
    // Prepare
    const u = await uploadImages(world, 2);
    // Act
    const body = await created(u, { pipeline: { inpaint: 'comfyui', gpuWaitMinutes: 90 } });
    // Assess
    const jobs = await Promise.all(body.jobIds.map((id) => getJob(id)));
    expect(jobs.map((j) => j.gpuWaitMinutes)).toEqual([90, 90]);
    expect(await getPack(u.packId)).toMatchObject({ gpuWaitMinutes: 90 });
  });

  it('takes the pack id from the keys when the body names none', async () => {
    const u = await uploadImages(world, 1);
    const body = await created(u, { packId: undefined });
    expect(body.packId).toBe(u.packId);
  });

  it('keeps a name with markup as text, answered as JSON', async () => {
    const u = await uploadImages(world, 1);
    const name = '<script>alert("x")</script> · Sommer 🌞';
    const body = await created(u, { name });
    const read = await world.call('GET', `/packs/${body.packId}`);
    expect(read.body['name']).toBe(name);
    expect(read.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('refuses a second pack from the same uploads with 409, keeping nothing of it', async () => {
    const u = await uploadImages(world, 2);
    await created(u);
    const [packs, jobs] = [await count('packs'), await count('jobs')];
    const again = await world.call('POST', '/packs', { body: packBody(u) });
    expect(again.status).toBe(409);
    expect(again.body.error?.code).toBe('PackExists');
    expect([await count('packs'), await count('jobs')]).toEqual([packs, jobs]);
  });

  it('refuses an upload stored as something else than an image, which S3 refuses on AWS and the emulator does not', async () => {
    const u = await uploadImages(world, 1);
    await world.putUpload(u.jobs[0]!.person, Buffer.from('<html></html>'), 'text/html');
    const res = await world.call('POST', '/packs', { body: packBody(u) });
    expect(res.status).toBe(400);
    expect(res.body.error?.issues).toEqual([{ path: 'body.jobs.0.person', message: expect.stringContaining('text/html') as unknown as string }]);
  });

  it('checks the uploads of a pack of more than 16 images by listing them, naming each one missing', async () => {
    // Prepare: 9 jobs, 18 images (above the 16 checked one by one), 2 of them never uploaded.
    const u = await uploadImages(world, 9);
    const jobs = u.jobs.map((j, i) => (i === 4 ? { ...j, garment: `packs/${u.packId}/uploads/late-garment.png` } : i === 7 ? { ...j, person: `packs/${u.packId}/uploads/late-person.png` } : j));
    // Act
    const refused = await world.call('POST', '/packs', { body: packBody({ ...u, jobs }) });
    await world.putUpload(`packs/${u.packId}/uploads/late-garment.png`);
    await world.putUpload(`packs/${u.packId}/uploads/late-person.png`);
    const accepted = await world.call('POST', '/packs', { body: packBody({ ...u, jobs }) });
    // Assess
    expect(refused.status, refused.text).toBe(400);
    expect(((refused.body['error'] as { issues: { path: string }[] }).issues).map((i) => i.path)).toEqual(['body.jobs.4.garment', 'body.jobs.7.person']);
    expect(accepted.status, accepted.text).toBe(202);
  });

  it('runs under the next execution name when the first is taken', async () => {
    // Prepare: an execution already holds the name of the pack's first run.
    const u = await uploadImages(world, 1);
    await world.sfnClient.send(new StartExecutionCommand({ stateMachineArn: world.machines.pack, name: `${u.packId}-1`, input: JSON.stringify({ packId: 'someone-else' }) }));
    // Act
    const body = await created(u);
    // Assess
    expect(body.executionArn.endsWith(`:${u.packId}-2`)).toBe(true);
    expect((await getPack(u.packId)).runs).toBe(1);
  });

  it('answers 503 and keeps nothing when the pack execution cannot start', async () => {
    // Prepare: every name the pack could run under is taken.
    const u = await uploadImages(world, 2);
    for (const n of [1, 2, 3]) {
      await world.sfnClient.send(new StartExecutionCommand({ stateMachineArn: world.machines.pack, name: `${u.packId}-${n}`, input: '{"taken":true}' }));
    }
    const [packs, jobs] = [await count('packs'), await count('jobs')];
    // Act
    const res = await world.call('POST', '/packs', { body: packBody(u) });
    // Assess
    expect(res.status).toBe(503);
    expect(res.body.error?.code).toBe('ServiceUnavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect([await count('packs'), await count('jobs')]).toEqual([packs, jobs]);
  });
});

describe('Idempotency-Key on POST /packs', () => {
  it('answers a retry with the same key and body with the same answer, creating and starting the pack once', async () => {
    const u = await uploadImages(world, 2);
    const key = `create-${randomUUID()}`;
    const first = await world.call('POST', '/packs', { body: packBody(u), headers: { 'idempotency-key': key } });
    const [packs, jobs] = [await count('packs'), await count('jobs')];
    // The same body with its keys in another order is the same request.
    const reordered = { jobs: u.jobs.map((j) => ({ garment: j.garment, person: j.person })), pipeline: { inpaint: 'comfyui' }, packId: u.packId, name: 'spring catalogue' };
    const second = await world.call('POST', '/packs', { body: reordered, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect([await count('packs'), await count('jobs')]).toEqual([packs, jobs]);
    expect((await world.executions('pack')).filter((e) => e.name?.startsWith(u.packId))).toHaveLength(1);
  });

  it('creates one pack when the same request races itself; the others get the same answer or 409 in progress', async () => {
    const u = await uploadImages(world, 1);
    const key = `race-${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 5 }, () => world.call('POST', '/packs', { body: packBody(u), headers: { 'idempotency-key': key } })));
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted.length).toBeGreaterThan(0);
    expect(new Set(accepted.map((a) => a.body['packId']))).toEqual(new Set([u.packId]));
    for (const a of answers.filter((x) => x.status !== 202)) {
      expect([a.status, a.body.error?.code, a.headers.get('retry-after')]).toEqual([409, 'IdempotencyInProgress', '1']);
    }
    expect((await world.executions('pack')).filter((e) => e.name?.startsWith(u.packId))).toHaveLength(1);
  });

  it('refuses the same key with another body with 409', async () => {
    const u = await uploadImages(world, 2);
    const key = `create-${randomUUID()}`;
    await world.call('POST', '/packs', { body: packBody(u), headers: { 'idempotency-key': key } });
    const other = await world.call('POST', '/packs', { body: packBody(u, { name: 'another name' }), headers: { 'idempotency-key': key } });
    expect(other.status).toBe(409);
    expect(other.body.error?.code).toBe('IdempotencyKeyReused');
  });

  it('keeps keys of different callers apart', async () => {
    const key = `shared-${randomUUID()}`;
    const mine = await world.call('POST', '/packs', { body: packBody(await uploadImages(world, 1)), headers: { 'idempotency-key': key } });
    const theirs = await world.call('POST', '/packs', { body: packBody(await uploadImages(world, 1)), headers: { 'idempotency-key': key }, credentials: OTHER_CALLER });
    expect(mine.status).toBe(202);
    expect(theirs.status).toBe(202);
    expect(theirs.body['packId']).not.toBe(mine.body['packId']);
  });

  it('does not remember a refusal: the corrected request with the same key goes through', async () => {
    const u = await uploadImages(world, 1);
    const key = `fix-${randomUUID()}`;
    const missing = { ...u, jobs: [{ ...u.jobs[0]!, garment: `packs/${u.packId}/uploads/not-yet.png` }] };
    const refused = await world.call('POST', '/packs', { body: packBody(missing), headers: { 'idempotency-key': key } });
    expect(refused.status).toBe(400);
    await world.putUpload(`packs/${u.packId}/uploads/not-yet.png`);
    const accepted = await world.call('POST', '/packs', { body: packBody(missing), headers: { 'idempotency-key': key } });
    expect(accepted.status).toBe(202);
  });
});

describe('reading packs and jobs', () => {
  it('lists packs newest first, page by page', async () => {
    // Prepare
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await created(await uploadImages(world, 1))).packId);
    // Act
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await world.call('GET', `/packs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = packListSchema.parse(res.body);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((p) => p.packId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    // Assess
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => ids.includes(id))).toEqual([...ids].reverse());
  });

  it('shows a pack with its counts per status, progress and console link', async () => {
    const body = await created(await uploadImages(world, 4));
    await updateJob(body.jobIds[0]!, { to: 'failed', from: ['pending'], set: { error: { name: 'Fatal.InvalidInput', cause: 'bad', at: new Date().toISOString() } } });
    const arn = `arn:aws:states:us-east-1:000000000000:execution:vto-pack:${body.packId}-1`;
    await updatePack(body.packId, { executionArn: arn }, { status: 'running' });
    const res = await world.call('GET', `/packs/${body.packId}`);
    expect(res.status).toBe(200);
    const view = packViewSchema.parse(res.body);
    expect(view.status).toBe('running');
    expect(view.counts).toMatchObject({ pending: 3, failed: 1, complete: 0 });
    expect(view.progress).toEqual({ done: 1, total: 4, percent: 25 });
    expect(view.consoleUrl).toBe(`https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${arn}`);
  });

  it('pages through a pack\'s jobs, all or of one status', async () => {
    const body = await created(await uploadImages(world, 5));
    const failed = [body.jobIds[1]!, body.jobIds[3]!];
    for (const id of failed) await updateJob(id, { to: 'failed', from: ['pending'] });
    const collect = async (query: string) => {
      const out: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 20; i++) {
        const res = await world.call('GET', `/packs/${body.packId}/jobs?${query}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status, res.text).toBe(200);
        const page = jobListSchema.parse(res.body);
        out.push(...page.items.map((j) => j.jobId));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      return out;
    };
    expect((await collect('limit=2')).sort()).toEqual([...body.jobIds].sort());
    expect((await collect('limit=1&status=failed')).sort()).toEqual([...failed].sort());
    expect(await collect('status=complete')).toEqual([]);
  });

  it('shows a job with its parameters, history and pre-signed outputs that can be fetched', async () => {
    const body = await created(await uploadImages(world, 1));
    const jobId = body.jobIds[0]!;
    const resultKey = `packs/${body.packId}/jobs/${jobId}/result.png`;
    await putObject(resultKey, Buffer.from('result-bytes'));
    await updateJob(jobId, { set: { outputs: { result: resultKey }, checkpoints: { segmentation: `packs/${body.packId}/jobs/${jobId}/mask.png` } } });
    const res = await world.call('GET', `/jobs/${jobId}`);
    expect(res.status).toBe(200);
    const view = jobViewSchema.parse(res.body);
    expect(view).toMatchObject({ jobId, packId: body.packId, status: 'pending', params: DEFAULT_PARAMS, originalParams: DEFAULT_PARAMS, recoveries: [], needsIntervention: false });
    expect(view.checkpoints).toEqual({ segmentation: `packs/${body.packId}/jobs/${jobId}/mask.png` });
    expect(view.outputs.result?.key).toBe(resultKey);
    const download = await fetch(view.outputs.result!.url);
    expect(Buffer.from(await download.arrayBuffer()).toString()).toBe('result-bytes');
  });

  it.each([
    ['GET', '/packs/{id}'], ['GET', '/packs/{id}/jobs'], ['GET', '/jobs/{id}'],
    ['POST', '/packs/{id}/restart-incomplete'], ['POST', '/jobs/{id}/retry'],
  ])('answers %s %s of an unknown id with 404', async (method, template) => {
    const id = randomUUID();
    const res = await world.call(method, template.replace('{id}', id), method === 'POST' ? { body: {} } : {});
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'NotFound', message: expect.stringContaining(id) as unknown as string });
  });

  it('answers refine of an unknown pack with 404', async () => {
    const res = await world.call('POST', `/packs/${randomUUID()}/refine`, { body: { scope: 'successful_only' } });
    expect(res.status).toBe(404);
  });

  it('serves its OpenAPI document', async () => {
    const res = await world.call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body['openapi']).toBe('3.0.3');
  });
});
