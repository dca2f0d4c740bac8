/**
 * Decisions under eventually consistent indexes. The DynamoDB endpoint here is the
 * index-lag proxy (local/dynamodb-index-lag.ts): a Query on an index answers items written
 * in the last LAG_MS as they were before, as a GSI on AWS may. PackLoad must still list
 * every pending job of a pack just written, and PackFinalize must count the statuses the
 * jobs have now, not the ones the index still shows.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Keys } from '../../core/resources.ts';
import { putObject } from '../../adapters/artifacts.ts';
import { documentClient, s3Client } from '../../adapters/aws-clients.ts';
import { cleanup } from '../../lambdas/api/cleanup.ts';
import { getPack, updateJob } from '../../adapters/job-store.ts';
import type { StateHandler } from '../../lambdas/state/state-handler.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { startIndexLagProxy, type IndexLagProxy } from '../../local/dynamodb-index-lag.ts';
import { provisionFresh } from '../support/aws.ts';
import { seedPack } from '../support/jobs.ts';
import { lambdaContext } from '../support/lambda.ts';
import { eventually } from '../support/eventually.ts';

/** Longer than a test's write-then-read, shorter than PackLoad's bounded wait for the index. */
const LAG_MS = 2000;
const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:vto-pack:lag-1';

let proxy: IndexLagProxy;
const handlers: Record<string, StateHandler> = {};

beforeAll(async () => {
  await provisionFresh();
  proxy = await startIndexLagProxy({ target: process.env['AWS_ENDPOINT_URL_DYNAMODB']!, lagMs: LAG_MS, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  // Before the first SDK client of this process is made: every call goes through the proxy.
  process.env['AWS_ENDPOINT_URL_DYNAMODB'] = proxy.url;
  for (const n of ['pack-load', 'pack-finalize']) handlers[n] = ((await import(`../../lambdas/handlers/${n}.ts`)) as { handler: StateHandler }).handler;
});

afterAll(async () => {
  await proxy?.stop();
});

const invoke = async (name: string, packId: string) =>
  (await handlers[name]!({ state: { packId }, executionArn: EXEC }, lambdaContext(name))) as Record<string, unknown>;

const indexed = async (packId: string) => {
  const res = await documentClient().send(new QueryCommand({
    TableName: process.env['JOBS_TABLE'], IndexName: 'byPack',
    KeyConditionExpression: 'packId = :p', ExpressionAttributeValues: { ':p': packId },
  }));
  return (res.Items ?? []) as { jobId: string; status: string }[];
};

const byStatus = async (status: string) => {
  const res = await documentClient().send(new QueryCommand({
    TableName: process.env['JOBS_TABLE'], IndexName: 'byStatus',
    KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': status },
  }));
  return (res.Items ?? []) as { jobId: string }[];
};

describe('the index-lag proxy', () => {
  it('hides new items from index queries, shows updated ones as they were (in their old partition too), then catches up', async () => {
    // Prepare: the index is held back far longer than this test takes, whatever the machine's load.
    proxy.setLagMs(600_000);
    try {
      const { jobs } = await seedPack({ jobs: 2 });
      const packId = jobs[0]!.packId;
      // Act + Assess: new items are not in the index yet.
      expect(await indexed(packId)).toEqual([]);
      proxy.setLagMs(0);
      expect(await indexed(packId)).toHaveLength(2);
      proxy.setLagMs(600_000);
      await updateJob(jobs[0]!.jobId, { to: 'segmenting' });
      // An updated item reads as it was, and is still listed under its old status, not yet under the new one.
      expect((await indexed(packId)).find((j) => j.jobId === jobs[0]!.jobId)?.status).toBe('pending');
      expect((await byStatus('pending')).map((j) => j.jobId)).toContain(jobs[0]!.jobId);
      expect((await byStatus('segmenting')).map((j) => j.jobId)).not.toContain(jobs[0]!.jobId);
      // Once the lag has passed, the index has caught up.
      proxy.setLagMs(0);
      expect((await indexed(packId)).find((j) => j.jobId === jobs[0]!.jobId)?.status).toBe('segmenting');
      expect((await byStatus('segmenting')).map((j) => j.jobId)).toContain(jobs[0]!.jobId);
    } finally {
      proxy.setLagMs(LAG_MS);
    }
  });
});

describe('pack decisions read the jobs as they are', () => {
  it('PackLoad lists every pending job of a pack written a moment ago', async () => {
    // Prepare
    const { pack, jobs } = await seedPack({ jobs: 3 });
    // Act
    const out = await invoke('pack-load', pack.packId);
    // Assess
    const listed = (out['jobs'] as { jobId: string }[]).map((j) => j.jobId);
    expect(listed).toEqual(jobs.map((j) => j.jobId).sort());
  });

  it('PackLoad leaves out a job that was just taken, though the index still shows it pending', async () => {
    // Prepare: the pack is old enough for the index; one job starts running just now.
    const { pack, jobs } = await seedPack({ jobs: 2 });
    await eventually(() => indexed(pack.packId), (items) => items.length === 2, 'the index to list both jobs', { timeoutMs: 5 * LAG_MS });
    await updateJob(jobs[0]!.jobId, { to: 'segmenting' });
    // Act
    const out = await invoke('pack-load', pack.packId);
    // Assess
    expect((out['jobs'] as { jobId: string }[]).map((j) => j.jobId)).toEqual([jobs[1]!.jobId]);
  });

  it('PackFinalize counts the statuses the jobs reached just now, not the pending ones the index shows', async () => {
    // Prepare
    const { pack, jobs } = await seedPack({ jobs: 2 });
    await eventually(() => indexed(pack.packId), (items) => items.length === 2, 'the index to list both jobs', { timeoutMs: 5 * LAG_MS });
    await updateJob(jobs[0]!.jobId, { to: 'failed' });
    await updateJob(jobs[1]!.jobId, { to: 'failed' });
    // Act
    const out = await invoke('pack-finalize', pack.packId);
    // Assess
    expect(out['status']).toBe('failed');
    expect(await getPack(pack.packId)).toMatchObject({ status: 'failed', counts: { failed: 2, pending: 0 } });
  });
});

describe('cleanup', () => {
  it('keeps the data of a job retried a moment ago, though the index still shows it failed long ago', async () => {
    // Prepare: a job that failed two days ago, with a checkpoint, then retried just now.
    const old = new Date(Date.now() - 48 * 3_600_000).toISOString();
    const { pack, jobs: [job] } = await seedPack({ mutate: (j) => Object.assign(j, { status: 'failed', updatedAt: old }) });
    const key = s3Keys.artifact(pack.packId, job!.jobId, 'mask.png');
    await putObject(key, Buffer.from('mask'));
    await eventually(() => indexed(pack.packId), (items) => items.length === 1, 'the index to list the job', { timeoutMs: 5 * LAG_MS });
    await updateJob(job!.jobId, { to: 'pending' });
    // Act
    const res = await cleanup({ query: { hours: 24 } } as Parameters<typeof cleanup>[0]);
    // Assess
    expect(res.body).toMatchObject({ jobsCleaned: 0, objectsDeleted: 0 });
    const left = await s3Client().send(new ListObjectsV2Command({ Bucket: process.env['ARTIFACTS_BUCKET'], Prefix: s3Keys.jobPrefix(pack.packId, job!.jobId) }));
    expect((left.Contents ?? []).map((o) => o.Key)).toEqual([key]);
  });
});
