/**
 * Job and pack updates typed against their records: map members set and removed one by
 * one, counters added from zero, and a stored item that does not fit the schema read as a
 * clear Fatal.DataCorruption naming the field.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import { getJob, getPack, updateJob, updateJobAndRead, updatePack } from '../../adapters/job-store.ts';
import { compileJobUpdate } from '../../adapters/job-update.ts';
import { compilePackUpdate } from '../../adapters/pack-update.ts';
import { emptyCounts } from '../../core/status.ts';
import { provisionFresh } from '../support/aws.ts';
import { seedPack } from '../support/jobs.ts';

beforeAll(async () => {
  await provisionFresh();
});

describe('compileJobUpdate', () => {
  it('names every path part by placeholder and conditions on status, owner and the time read', () => {
    const c = compileJobUpdate({ to: 'compositing', owner: 'arn:run', unchangedSince: 't0', setIn: { checkpoints: { qa: 'k' } }, increment: { attempts: { gpu: 1 } }, removeIn: { checkpoints: ['inpaint'] } }, 't1');
    expect(c.UpdateExpression).not.toMatch(/checkpoints|attempts|status/);
    expect(Object.values(c.ExpressionAttributeNames)).toEqual(expect.arrayContaining(['checkpoints', 'qa', 'attempts', 'gpu', 'inpaint', 'status', 'executionArn']));
    expect(c.ConditionExpression).toMatch(/^attribute_exists\(jobId\) AND #n\d+ IN \(.+\) AND #n\d+ = :v\d+ AND #updatedAt = :v\d+$/);
    expect(c.ExpressionAttributeValues).toMatchObject({ ':now': 't1' });
    expect(Object.values(c.ExpressionAttributeValues)).toEqual(expect.arrayContaining(['compositing', 'arn:run', 't0', 'k', 1, 0]));
  });
});

describe('updateJob', () => {
  it('sets and removes single members of the record\'s maps, keeping the others, and adds to counters from zero', async () => {
    const { jobs: [seeded] } = await seedPack();
    const jobId = seeded!.jobId;
    await updateJob(jobId, { setIn: { checkpoints: { segmentation: 'm.png', inpaint: 'i.png' }, outputs: { mask: 'm.png' } }, increment: { attempts: { gpu: 1, RESEGMENT: 2 }, recoveriesUsed: 1 } });
    await updateJob(jobId, { setIn: { checkpoints: { compositing: 'c.png' } }, removeIn: { checkpoints: ['inpaint'] }, increment: { attempts: { gpu: 1 } } });
    const job = await getJob(jobId);
    expect(job.checkpoints).toEqual({ segmentation: 'm.png', compositing: 'c.png' });
    expect(job.outputs).toEqual({ mask: 'm.png' });
    expect(job.attempts).toEqual({ gpu: 2, RESEGMENT: 2 });
    expect(job.recoveriesUsed).toBe(1);
  });

  it('refuses an update whose unchangedSince is not the time the job was last written', async () => {
    const { jobs: [seeded] } = await seedPack();
    const job = await getJob(seeded!.jobId);
    const failed = await updateJobAndRead(job.jobId, { to: 'failed', from: ['pending'] });
    await expect(updateJob(job.jobId, { to: 'pending', from: ['failed'], unchangedSince: job.updatedAt })).rejects.toMatchObject({ name: 'Fatal.DataCorruption' });
    expect((await getJob(job.jobId)).status).toBe('failed');
    await updateJob(job.jobId, { to: 'pending', from: ['failed'], unchangedSince: failed.updatedAt });
    expect((await getJob(job.jobId)).status).toBe('pending');
  });
});

describe('what updateJob asks DynamoDB for', () => {
  it('reads the item back only when it is used, and judges a failed condition by the item it returned, without reading again', async () => {
    const { jobs: [seeded] } = await seedPack();
    const sent: { name: string; returnValues?: string }[] = [];
    const client = documentClient();
    const send = client.send.bind(client);
    const spy = vi.spyOn(client, 'send').mockImplementation(((command: { constructor: { name: string }; input: { ReturnValues?: string } }) => {
      sent.push({ name: command.constructor.name, ...(command.input.ReturnValues !== undefined && { returnValues: command.input.ReturnValues }) });
      return send(command as never);
    }) as typeof client.send);
    try {
      await updateJob(seeded!.jobId, { to: 'segmenting', claim: 'arn:run-1' });
      await updateJob(seeded!.jobId, { owner: 'arn:run-1', setIn: { checkpoints: { segmentation: 'm.png' } } });
      await expect(updateJob(seeded!.jobId, { owner: 'arn:run-0', setIn: { checkpoints: { segmentation: 'x.png' } } })).rejects.toMatchObject({ name: 'Control.Stopped' });
      await expect(updateJob('no-such-job', { to: 'failed' })).rejects.toMatchObject({ name: 'Fatal.InvalidInput' });
    } finally {
      spy.mockRestore();
    }
    expect(sent).toEqual([
      { name: 'UpdateCommand', returnValues: 'NONE' }, { name: 'UpdateCommand', returnValues: 'NONE' },
      { name: 'UpdateCommand', returnValues: 'NONE' }, { name: 'UpdateCommand', returnValues: 'ALL_NEW' },
    ]);
    expect((await getJob(seeded!.jobId)).checkpoints.segmentation).toBe('m.png');
  });
});

describe('reading a job', () => {
  it('names the field of a stored item that does not fit the job schema', async () => {
    const { jobs: [seeded] } = await seedPack();
    await documentClient().send(new PutCommand({ TableName: config().jobsTable, Item: { ...seeded!, attempts: { gpu: 'two' } } }));
    await expect(getJob(seeded!.jobId)).rejects.toMatchObject({ name: 'Fatal.DataCorruption', message: expect.stringMatching(new RegExp(`^job ${seeded!.jobId}: .*attempts\\.gpu`)) });
  });
});

describe('compilePackUpdate', () => {
  it('names every field by placeholder, adds to the run counter from zero and conditions on the statuses given', () => {
    const c = compilePackUpdate({ set: { executionArn: 'arn:p' }, status: 'running', from: ['pending', 'stopped'], increment: { runs: 1 } }, 't1');
    expect(c.UpdateExpression).not.toMatch(/executionArn|status|runs/);
    expect(Object.values(c.ExpressionAttributeNames).sort()).toEqual(['executionArn', 'runs', 'status', 'status', 'updatedAt'].sort());
    expect(c.ConditionExpression).toMatch(/^attribute_exists\(packId\) AND #n\d+ IN \(:v\d+, :v\d+\)$/);
    expect(Object.values(c.ExpressionAttributeValues)).toEqual(expect.arrayContaining(['t1', 'arn:p', 'running', 'pending', 'stopped', 0, 1]));
  });
});

describe('updatePack', () => {
  it('writes typed fields and the run counter, returns the pack as written, and refuses a status not in `from`', async () => {
    const { pack } = await seedPack();
    const written = await updatePack(pack.packId, { executionArn: 'arn:p1', counts: { ...emptyCounts(), complete: 1 } }, { status: 'running', from: ['pending'], increment: { runs: 1 }, announce: false });
    expect(written).toMatchObject({ status: 'running', executionArn: 'arn:p1', runs: 1, counts: { complete: 1, failed: 0 } });
    expect(await getPack(pack.packId)).toEqual(written);
    await expect(updatePack(pack.packId, {}, { status: 'pending', from: ['stopped'] })).rejects.toMatchObject({ name: 'Fatal.DataCorruption' });
    await expect(updatePack('no-such-pack', { executionArn: 'x' })).rejects.toMatchObject({ name: 'Fatal.DataCorruption' });
  });

  it('names the field of a stored pack that does not fit the pack schema', async () => {
    const { pack } = await seedPack();
    await documentClient().send(new PutCommand({ TableName: config().packsTable, Item: { ...pack, runs: 'one' } }));
    await expect(getPack(pack.packId)).rejects.toMatchObject({ name: 'Fatal.DataCorruption', message: expect.stringMatching(new RegExp(`^pack ${pack.packId}: .*runs`)) });
  });
});
