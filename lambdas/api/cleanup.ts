/**
 * DELETE /cleanup?hours=N: for terminal jobs (complete, failed, cancelled) last updated more than N hours
 * ago, delete the recovery data kept to resume them — the objects under the job's prefix
 * that are not its outputs (checkpoints, masks, GPU attempts) — and drop the checkpoint
 * map. The job's record and recovery history stay; recovery events expire by TTL.
 * Bounded per call; `more` says to call again.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { JobRecord } from '../../core/job.ts';
import { JOB_STORE_ACCESS, getJobs, jobIdsByStatus } from '../../adapters/job-store.ts';
import { s3Keys } from '../../core/resources.ts';
import { TERMINAL_JOB_STATUSES } from '../../core/status.ts';
import { documentClient, s3Client } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import { OBJECT_LISTING_ACCESS, objectsUnder } from '../../adapters/object-listing.ts';
import { CLEANUP } from './limits.ts';
import { mapLimit } from './map-limit.ts';
import type { Operation } from './operation.ts';
import { access, grant } from '../../adapters/access.ts';

/** Finished jobs by the status index, read again; lists and deletes a job's artifacts, then marks the job cleaned. */
export const CLEANUP_ACCESS = access(
  JOB_STORE_ACCESS.jobsByStatus, JOB_STORE_ACCESS.readJobs,
  OBJECT_LISTING_ACCESS, grant('objects:artifacts/packs/*/jobs/*', 's3', 'DeleteObject'), grant('table:jobs', 'dynamodb', 'UpdateItem'),
);

const JOB_CONCURRENCY = 8;
const DELETE_CONCURRENCY = 16;

/** Cleans one job; returns the objects deleted, or undefined if the job changed meanwhile. */
async function cleanJob(job: JobRecord): Promise<number | undefined> {
  const keep = new Set(Object.values(job.outputs).filter((k): k is string => typeof k === 'string'));
  const doomed = (await objectsUnder(s3Keys.jobPrefix(job.packId, job.jobId))).map((o) => o.key).filter((k) => !keep.has(k));
  await mapLimit(doomed, DELETE_CONCURRENCY, (key) => s3Client().send(new DeleteObjectCommand({ Bucket: config().bucket, Key: key })));
  try {
    // Not through updateJob: cleaning must not make the job look recently updated.
    await documentClient().send(new UpdateCommand({
      TableName: config().jobsTable, Key: { jobId: job.jobId },
      UpdateExpression: 'SET checkpoints = :empty, cleanedAt = :now',
      ConditionExpression: '#s = :s',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':empty': {}, ':now': new Date().toISOString(), ':s': job.status },
    }));
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return undefined;
    throw e;
  }
  return doomed.length;
}

export const cleanup: Operation<'cleanup'> = async (req) => {
  const hours = req.query.hours;
  const cutoff = new Date(Date.now() - hours * 3_600_000).toISOString();
  const limit = CLEANUP.maxJobsPerCall;
  const candidates: string[] = [];
  for (const status of TERMINAL_JOB_STATUSES) {
    const { ids } = await jobIdsByStatus(status, { olderThan: cutoff, uncleanedOnly: true, limit: limit + 1 - candidates.length });
    candidates.push(...ids);
    if (candidates.length > limit) break;
  }
  // The byStatus index may lag: a job retried since still reads finished there. Objects are
  // deleted only for jobs a consistent read shows finished, idle past the cutoff, not cleaned.
  const batch = (await getJobs(candidates.slice(0, limit))).filter((j) => TERMINAL_JOB_STATUSES.includes(j.status) && j.updatedAt < cutoff && j.cleanedAt === undefined);
  const deleted = await mapLimit(batch, JOB_CONCURRENCY, cleanJob);
  return {
    status: 200,
    body: {
      hours, cutoff,
      jobsCleaned: deleted.filter((n) => n !== undefined).length,
      objectsDeleted: deleted.reduce<number>((sum, n) => sum + (n ?? 0), 0),
      more: candidates.length > limit,
    },
  };
};
