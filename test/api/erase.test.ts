/**
 * Erasing packs through the signed API: a finished pack leaves no object version, delete
 * marker or item behind, its recovery events stay counted without ids, a running pack is
 * refused with 409, a second DELETE of a pack being erased answers 202 and of an erased
 * one 404. The watchdog's part (finishing erasures, the retention setting) runs with IAM
 * enforced as the Watchdog role.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Keys } from '../../core/resources.ts';
import { putEvent } from '../../adapters/job-store.ts';
import { markErasing, sweepErasures } from '../../adapters/pack-erasure.ts';
import { erasureViewSchema, packErasureSchema } from '../../lambdas/api/schemas.ts';
import { asPrincipal, type Enforcement } from '../../local/iam/enforce.ts';
import { enforceIamHere, expectNoDenials } from '../support/iam.ts';
import { packBody, uploadImages } from './support/packs.ts';
import { seedRunPack } from './support/seed.ts';
import { startApiWorld, type ApiWorld } from './support/world.ts';

let world: ApiWorld;
let ddb: DynamoDBClient;
let s3: S3Client;

beforeAll(async () => {
  world = await startApiWorld();
  ddb = new DynamoDBClient({});
  s3 = new S3Client({ forcePathStyle: true });
});
afterAll(async () => {
  ddb?.destroy();
  s3?.destroy();
  await world?.stop();
});

const bucket = () => world.resources.buckets.artifacts;

/** Every object version and delete marker under the pack's prefix. */
async function versionsOf(packId: string): Promise<string[]> {
  const res = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket(), Prefix: s3Keys.packPrefix(packId) }));
  return [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])].map((v) => `${v.Key}@${v.VersionId}`);
}

/** Every item of every table that names one of `ids` anywhere. */
async function itemsNaming(ids: readonly string[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const table of Object.values(world.resources.tables)) {
    const res = await ddb.send(new ScanCommand({ TableName: table }));
    for (const raw of res.Items ?? []) {
      const text = JSON.stringify(raw);
      if (ids.some((id) => text.includes(id))) out.push({ table, ...unmarshall(raw) });
    }
  }
  return out;
}

async function eventsCount(): Promise<number> {
  const res = await ddb.send(new ScanCommand({ TableName: world.resources.tables.events, Select: 'COUNT' }));
  return res.Count ?? 0;
}

/** A finished pack with what a run leaves: artifacts in several versions, a delete marker, a recovery event, an event claim. */
async function finishedPackWithTraces() {
  const { pack, jobs } = await seedRunPack([{ status: 'complete' }, { status: 'failed' }], 'completed_with_failures');
  const artifact = s3Keys.artifact(pack.packId, jobs[0]!.jobId, 'result.png');
  await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: artifact, Body: 'v1' }));
  await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: artifact, Body: 'v2' }));
  const mask = s3Keys.artifact(pack.packId, jobs[1]!.jobId, 'mask.png');
  await s3.send(new PutObjectCommand({ Bucket: bucket(), Key: mask, Body: 'm' }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket(), Key: mask }));
  await putEvent({ kind: 'error', at: new Date().toISOString(), packId: pack.packId, jobId: jobs[1]!.jobId, error: 'Gpu.OutOfMemory', strategy: 'reduce_params' });
  const { documentClient } = await import('../../adapters/aws-clients.ts');
  const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
  await documentClient().send(new PutCommand({ TableName: world.resources.tables.control, Item: { id: `lifecycle#job.completed/${jobs[0]!.jobId}/t`, expiration: Math.floor(Date.now() / 1000) + 3600 } }));
  return { pack, jobs, ids: [pack.packId, ...jobs.map((j) => j.jobId)] };
}

describe('DELETE /packs/{id}', () => {
  it('erases a finished pack: no object version, delete marker or item is left, its events stay counted without ids, then 404', async () => {
    // Prepare
    const { pack, jobs, ids } = await finishedPackWithTraces();
    const eventsBefore = await eventsCount();
    const scope = await world.call('GET', `/packs/${pack.packId}/erasure`);
    expect(scope.status, scope.text).toBe(200);
    const before = erasureViewSchema.parse(scope.body);

    // Act
    const res = await world.call('DELETE', `/packs/${pack.packId}`);

    // Assess
    expect(before).toMatchObject({ packId: pack.packId, state: 'present', jobs: 2 });
    // The inputs, the artifact's two versions, the mask and its delete marker.
    const inputs = new Set(jobs.flatMap((j) => [j.inputs.person, j.inputs.garment])).size;
    expect(inputs).toBeGreaterThan(0);
    expect(before.versions).toBe(inputs + 2 + 2);
    expect(res.status, res.text).toBe(202);
    const body = packErasureSchema.parse(res.body);
    expect(body).toMatchObject({ packId: pack.packId, state: 'erased', deleted: { versions: before.versions, jobs: 2, eventsAnonymized: 1, controlItems: 1 } });
    expect(res.headers.get('location')).toBe(body.erasureUrl);
    expect(await versionsOf(pack.packId)).toEqual([]);
    expect(await itemsNaming(ids)).toEqual([]);
    expect(await eventsCount()).toBe(eventsBefore);
    expect((await world.call('GET', `/packs/${pack.packId}`)).status).toBe(404);
    expect((await world.call('GET', `/jobs/${jobs[0]!.jobId}`)).status).toBe(404);
    expect((await world.call('GET', `/packs/${pack.packId}/erasure`)).status).toBe(404);
    const again = await world.call('DELETE', `/packs/${pack.packId}`);
    expect([again.status, again.body.error?.code]).toEqual([404, 'NotFound']);
  });

  it('refuses a running pack with 409 PackRunning and erases it once cancelled, idempotency record included', async () => {
    // Prepare
    const u = await uploadImages(world, 1);
    const created = await world.call('POST', '/packs', { body: packBody(u), headers: { 'idempotency-key': `erase-${randomUUID()}` } });
    expect(created.status, created.text).toBe(202);
    const jobIds = created.body['jobIds'] as string[];

    // Act
    const refused = await world.call('DELETE', `/packs/${u.packId}`);
    const cancelled = await world.call('POST', `/packs/${u.packId}/cancel`);
    const erased = await world.call('DELETE', `/packs/${u.packId}`);

    // Assess
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'PackRunning', message: expect.stringContaining('cancel') });
    expect(cancelled.status, cancelled.text).toBe(202);
    expect(erased.status, erased.text).toBe(202);
    expect(erased.body['state']).toBe('erased');
    expect(await versionsOf(u.packId)).toEqual([]);
    expect(await itemsNaming([u.packId, ...jobIds])).toEqual([]);
  });

  it('answers 202 again while a pack is being erased, and hides it from every route at once', async () => {
    // Prepare: marked as a DELETE whose request ran out of time leaves it
    const { pack, ids } = await finishedPackWithTraces();
    await markErasing(pack, 'test');

    // Act
    const read = await world.call('GET', `/packs/${pack.packId}`);
    const listed = await world.call('GET', '/packs?limit=100');
    const view = await world.call('GET', `/packs/${pack.packId}/erasure`);
    const again = await world.call('DELETE', `/packs/${pack.packId}`);

    // Assess
    expect(read.status).toBe(404);
    expect((listed.body['items'] as { packId: string }[]).map((p) => p.packId)).not.toContain(pack.packId);
    expect(erasureViewSchema.parse(view.body)).toMatchObject({ state: 'erasing', requestedAt: expect.any(String), jobs: 2 });
    expect(again.status, again.text).toBe(202);
    expect(again.body['state']).toBe('erased');
    expect(await itemsNaming(ids)).toEqual([]);
  });
});

describe('the watchdog\'s erasures', () => {
  let iam: Enforcement;
  beforeAll(async () => {
    iam = await enforceIamHere();
  });
  afterAll(() => {
    expectNoDenials(iam);
    iam.stop();
  });

  it('finishes an erasure the API began, as the Watchdog role', async () => {
    const { pack, ids } = await finishedPackWithTraces();
    await markErasing(pack, 'test');

    const swept = await asPrincipal('Watchdog', () => sweepErasures(undefined, Date.now(), Date.now() + 30_000));

    expect(swept).toContainEqual({ packId: pack.packId, reason: 'requested', done: true });
    expect(await versionsOf(pack.packId)).toEqual([]);
    expect(await itemsNaming(ids)).toEqual([]);
  });

  it('expires finished packs past the retention setting and keeps running, stopped and younger ones', async () => {
    // Prepare
    const old = await finishedPackWithTraces();
    const running = await seedRunPack([{ status: 'inpainting' }], 'running');
    const stopped = await seedRunPack([{ status: 'segmenting' }], 'stopped');
    await new Promise((r) => setTimeout(r, 20));
    const cutoff = Date.now();
    const young = await seedRunPack([{ status: 'complete' }], 'complete');

    // Act
    const swept = await asPrincipal('Watchdog', () => sweepErasures(Date.now() - cutoff + 10, Date.now(), Date.now() + 30_000));

    // Assess
    expect(swept).toContainEqual({ packId: old.pack.packId, reason: 'retention', done: true });
    expect(await itemsNaming(old.ids)).toEqual([]);
    expect(await versionsOf(old.pack.packId)).toEqual([]);
    for (const kept of [running, stopped, young]) {
      expect(swept.map((s) => s.packId)).not.toContain(kept.pack.packId);
      expect((await world.call('GET', `/packs/${kept.pack.packId}`)).status).toBe(200);
    }
  });
});
