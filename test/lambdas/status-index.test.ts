/**
 * The one lookup by status (adapters/job-store.ts): ids from the byStatus index in the
 * order asked for, within a time bound, limited with `more` saying what was left, cleaned
 * jobs left out when asked; counts by the same index; and the items read back in the
 * order of the ids.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import { countJobsByStatus, getJobsInOrder, jobIdsByStatus } from '../../adapters/job-store.ts';
import { newJobRecord } from '../../core/job.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import type { JobStatus } from '../../core/status.ts';
import { provisionFresh } from '../support/aws.ts';

const at = (minute: number) => `2026-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
/** Failed jobs last written at minutes 1..5 (the third one cleaned), one inpainting job at minute 2. */
const failed: string[] = [];
let running = '';

async function put(status: JobStatus, minute: number, extra: Record<string, unknown> = {}): Promise<string> {
  const job = { ...newJobRecord({ packId: 'p', jobId: randomUUID(), inpaint: 'comfyui', inputs: { person: 'a', garment: 'b' }, params: DEFAULT_PARAMS, now: at(minute) }), status, ...extra };
  await documentClient().send(new PutCommand({ TableName: config().jobsTable, Item: job }));
  return job.jobId;
}

beforeAll(async () => {
  await provisionFresh();
  for (let m = 1; m <= 5; m++) failed.push(await put('failed', m, m === 3 ? { cleanedAt: at(30) } : {}));
  running = await put('inpainting', 2);
});

describe('jobIdsByStatus', () => {
  it('lists the ids of one status oldest first, or newest first', async () => {
    expect(await jobIdsByStatus('failed')).toEqual({ ids: failed, more: false });
    expect((await jobIdsByStatus('failed', { newestFirst: true })).ids).toEqual([...failed].reverse());
    expect((await jobIdsByStatus('inpainting')).ids).toEqual([running]);
    expect((await jobIdsByStatus('complete')).ids).toEqual([]);
  });

  it('bounds the time: written before a time, or within a window', async () => {
    expect((await jobIdsByStatus('failed', { olderThan: at(3) })).ids).toEqual(failed.slice(0, 2));
    expect((await jobIdsByStatus('failed', { between: { from: at(2), to: at(4) }, newestFirst: true })).ids).toEqual([failed[3], failed[2], failed[1]]);
    await expect(jobIdsByStatus('failed', { olderThan: at(3), between: { from: at(1), to: at(2) } })).rejects.toMatchObject({ name: 'Fatal.InvalidInput' });
  });

  it('takes at most `limit` ids and says when the index holds more', async () => {
    expect(await jobIdsByStatus('failed', { limit: 2 })).toEqual({ ids: failed.slice(0, 2), more: true });
    expect(await jobIdsByStatus('failed', { limit: 2, newestFirst: true })).toEqual({ ids: [failed[4], failed[3]], more: true });
    expect(await jobIdsByStatus('failed', { limit: 5 })).toEqual({ ids: failed, more: false });
    expect(await jobIdsByStatus('failed', { limit: 6 })).toEqual({ ids: failed, more: false });
  });

  it('leaves out jobs whose artifacts were cleaned, when asked', async () => {
    expect((await jobIdsByStatus('failed', { uncleanedOnly: true })).ids).toEqual(failed.filter((_, i) => i !== 2));
    expect((await jobIdsByStatus('failed', { uncleanedOnly: true, limit: 3 })).ids).toEqual([failed[0], failed[1], failed[3]]);
  });
});

describe('countJobsByStatus', () => {
  it('counts one status, before a time when given', async () => {
    expect(await countJobsByStatus('failed')).toBe(5);
    expect(await countJobsByStatus('failed', { olderThan: at(4) })).toBe(3);
    expect(await countJobsByStatus('complete')).toBe(0);
  });
});

describe('getJobsInOrder', () => {
  it('reads the jobs in the order of the ids, leaving out ids that do not exist', async () => {
    const ids = [failed[4]!, 'no-such-job', running, failed[0]!];
    expect((await getJobsInOrder(ids)).map((j) => [j.jobId, j.status])).toEqual([[failed[4], 'failed'], [running, 'inpainting'], [failed[0], 'failed']]);
  });
});
