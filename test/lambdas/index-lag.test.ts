/**
 * Decisions under eventually consistent indexes. The DynamoDB endpoint here is the
 * index-lag proxy (local/dynamodb-index-lag.ts): a Query on an index answers items written
 * in the last LAG_MS as they were before, as a GSI on AWS may. PackLoad must still list
 * every pending job of a pack just written, and PackFinalize must count the statuses the
 * jobs have now, not the ones the index still shows.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../lambdas/adapters/aws-clients.ts';
import { getPack, updateJob } from '../../lambdas/adapters/job-store.ts';
import type { StateHandler } from '../../lambdas/adapters/state-handler.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators.ts';
import { startIndexLagProxy, type IndexLagProxy } from '../../local/dynamodb-index-lag.ts';
import { provisionFresh } from '../support/aws.ts';
import { seedPack } from '../support/jobs.ts';
import { lambdaContext } from '../support/lambda.ts';
import { eventually } from '../worker/support/harness.ts';

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

describe('the index-lag proxy', () => {
  it('hides new items from index queries, shows updated ones as they were, then catches up', async () => {
    // Prepare
    const { jobs } = await seedPack({ jobs: 2 });
    // Act + Assess: new items are not in the index yet, but the table has them.
    expect(await indexed(jobs[0]!.packId)).toEqual([]);
    await eventually(() => indexed(jobs[0]!.packId), (items) => items.length === 2, 5 * LAG_MS, 'the index to list both jobs');
    await updateJob(jobs[0]!.jobId, { to: 'segmenting' });
    expect((await indexed(jobs[0]!.packId)).find((j) => j.jobId === jobs[0]!.jobId)?.status).toBe('pending');
    await eventually(() => indexed(jobs[0]!.packId), (items) => items.some((j) => j.status === 'segmenting'), 5 * LAG_MS, 'the index to show the new status');
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
    await eventually(() => indexed(pack.packId), (items) => items.length === 2, 5 * LAG_MS, 'the index to list both jobs');
    await updateJob(jobs[0]!.jobId, { to: 'segmenting' });
    // Act
    const out = await invoke('pack-load', pack.packId);
    // Assess
    expect((out['jobs'] as { jobId: string }[]).map((j) => j.jobId)).toEqual([jobs[1]!.jobId]);
  });

  it('PackFinalize counts the statuses the jobs reached just now, not the pending ones the index shows', async () => {
    // Prepare
    const { pack, jobs } = await seedPack({ jobs: 2 });
    await eventually(() => indexed(pack.packId), (items) => items.length === 2, 5 * LAG_MS, 'the index to list both jobs');
    await updateJob(jobs[0]!.jobId, { to: 'failed' });
    await updateJob(jobs[1]!.jobId, { to: 'failed' });
    // Act
    const out = await invoke('pack-finalize', pack.packId);
    // Assess
    expect(out['status']).toBe('failed');
    expect(await getPack(pack.packId)).toMatchObject({ status: 'failed', counts: { failed: 2, pending: 0 } });
  });
});
