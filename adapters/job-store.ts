/**
 * Jobs and packs in DynamoDB. Status changes are conditional writes: the condition comes
 * from core/status.ts (no illegal transitions) and, for a running job, from the execution
 * that owns it (a stale execution can never overwrite a newer run).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, UpdateCommand, paginateQuery, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataCorruptionError, InvalidInputError, StoppedError, TransientServiceUnavailableError, TransientThrottledError } from '../core/errors.ts';
import { MAX_KEPT_RECOVERIES, parseJobRecord, parsePackRecord, type JobRecord, type PackRecord, type RecoveryOutcome } from '../core/job.ts';
import type { JobStatus } from '../core/status.ts';
import { jobEvent, jobEventOf, packEvent, recoveredEvent } from '../core/lifecycle.ts';
import { documentClient } from './aws-clients.ts';
import { config } from './config.ts';
import { access, grant } from './access.ts';
import { compileJobUpdate, type JobUpdate } from './job-update.ts';
import { compilePackUpdate, type PackSet, type PackUpdate } from './pack-update.ts';

export type { JobUpdate } from './job-update.ts';
export type { PackSet } from './pack-update.ts';

/** What each group of this module's functions calls; handlers take the groups they use. */
export const JOB_STORE_ACCESS = {
  /** getJob, findJob */
  readJob: access(grant('table:jobs', 'dynamodb', 'GetItem')),
  /** updateJob, resolveRecoveries */
  writeJob: access(grant('table:jobs', 'dynamodb', 'UpdateItem')),
  /** jobsOfPack */
  jobsOfPack: access(grant('index:jobs/byPack', 'dynamodb', 'Query'), grant('table:jobs', 'dynamodb', 'BatchGetItem')),
  /** getJobs */
  readJobs: access(grant('table:jobs', 'dynamodb', 'BatchGetItem')),
  /** jobIdsByStatus, countJobsByStatus (ids and counts only: a decision reads the items with getJobs) */
  jobsByStatus: access(grant('index:jobs/byStatus', 'dynamodb', 'Query')),
  /** getPack */
  readPack: access(grant('table:packs', 'dynamodb', 'GetItem')),
  /** updatePack */
  writePack: access(grant('table:packs', 'dynamodb', 'UpdateItem')),
  /** putPackWithJobs, deleteJobs, deletePackWithJobs */
  createPack: access(grant('table:packs', 'dynamodb', 'PutItem', 'DeleteItem'), grant('table:jobs', 'dynamodb', 'BatchWriteItem')),
  /** putEvent */
  writeEvent: access(grant('table:events', 'dynamodb', 'PutItem')),
  /** getFlag */
  readFlag: access(grant('table:control', 'dynamodb', 'GetItem')),
  /** setFlag */
  writeFlag: access(grant('table:control', 'dynamodb', 'UpdateItem', 'PutItem')),
} as const;
import { emitLifecycle, eventApiUrl } from './lifecycle-events.ts';

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

export async function getJob(jobId: string, consistent = true): Promise<JobRecord> {
  const res = await documentClient().send(new GetCommand({ TableName: config().jobsTable, Key: { jobId }, ConsistentRead: consistent }));
  if (!res.Item) throw new NotFoundError(`job ${jobId} not found`);
  return parseJobRecord(res.Item);
}

export async function findJob(jobId: string): Promise<JobRecord | undefined> {
  try {
    return await getJob(jobId);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

export async function getPack(packId: string): Promise<PackRecord> {
  const res = await documentClient().send(new GetCommand({ TableName: config().packsTable, Key: { packId }, ConsistentRead: true }));
  if (!res.Item) throw new NotFoundError(`pack ${packId} not found`);
  return parsePackRecord(res.Item);
}

/** The ids the byPack index lists for a pack (keys only; on AWS the index lags writes). */
export async function jobIdsFromIndex(packId: string): Promise<string[]> {
  const out: string[] = [];
  const pages = paginateQuery({ client: documentClient() }, {
    TableName: config().jobsTable, IndexName: 'byPack',
    KeyConditionExpression: 'packId = :p', ExpressionAttributeValues: { ':p': packId },
    ProjectionExpression: 'jobId',
  });
  for await (const page of pages) for (const item of page.Items ?? []) out.push(item['jobId'] as string);
  return out;
}

/** Which jobs of one status the byStatus index (status, updatedAt) is asked for. */
export interface StatusQuery {
  /** Only jobs last written before this time. */
  readonly olderThan?: string;
  /** Only jobs last written within [from, to] (not with olderThan). */
  readonly between?: { readonly from: string; readonly to: string };
  /** Newest first (the default is oldest first). */
  readonly newestFirst?: boolean;
  /** At most this many ids; without it, every id within MAX_STATUS_PAGES pages. */
  readonly limit?: number;
  /** Leave out jobs whose artifacts POST /cleanup dropped already. */
  readonly uncleanedOnly?: boolean;
}

/** The bound on index pages one status query reads (a page of ids holds thousands). */
export const MAX_STATUS_PAGES = 100;
/** Items a page of a limited status query examines at least (a filter may drop most). */
const MIN_STATUS_PAGE = 100;

function statusQueryInput(status: JobStatus, q: Pick<StatusQuery, 'olderThan' | 'between'>): QueryCommandInput {
  if (q.olderThan !== undefined && q.between !== undefined) throw new InvalidInputError('a status query takes olderThan or between, not both');
  const range = q.olderThan !== undefined ? ' AND #u < :t' : q.between !== undefined ? ' AND #u BETWEEN :from AND :to' : '';
  return {
    TableName: config().jobsTable, IndexName: 'byStatus',
    KeyConditionExpression: `#s = :s${range}`,
    ExpressionAttributeNames: { '#s': 'status', ...(range !== '' && { '#u': 'updatedAt' }) },
    ExpressionAttributeValues: {
      ':s': status,
      ...(q.olderThan !== undefined && { ':t': q.olderThan }),
      ...(q.between !== undefined && { ':from': q.between.from, ':to': q.between.to }),
    },
  };
}

/**
 * Ids of the jobs of one status, by last write, from the byStatus index; `more` when the
 * index holds further ones. Ids only: the index is eventually consistent (a job may have
 * moved on since), so whoever decides on a job reads it again with getJobs or getJob.
 */
export async function jobIdsByStatus(status: JobStatus, q: StatusQuery = {}): Promise<{ ids: string[]; more: boolean }> {
  const limit = q.limit ?? Number.POSITIVE_INFINITY;
  const input = statusQueryInput(status, q);
  const pages = paginateQuery({ client: documentClient(), ...(q.limit !== undefined && { pageSize: Math.max(MIN_STATUS_PAGE, q.limit) }) }, {
    ...input,
    ExpressionAttributeNames: { ...input.ExpressionAttributeNames, '#id': 'jobId', ...(q.uncleanedOnly && { '#c': 'cleanedAt' }) },
    ProjectionExpression: '#id',
    ...(q.uncleanedOnly && { FilterExpression: 'attribute_not_exists(#c)' }),
    ScanIndexForward: q.newestFirst !== true,
  });
  const ids: string[] = [];
  let more = false;
  let read = 0;
  for await (const page of pages) {
    ids.push(...(page.Items ?? []).map((i) => String(i['jobId'])));
    more = page.LastEvaluatedKey !== undefined;
    if (ids.length >= limit || ++read >= MAX_STATUS_PAGES) break;
  }
  return { ids: ids.slice(0, limit), more: more || ids.length > limit };
}

/** How many jobs of one status the byStatus index lists (last written before `olderThan`, when given). */
export async function countJobsByStatus(status: JobStatus, q: Pick<StatusQuery, 'olderThan'> = {}): Promise<number> {
  let count = 0;
  let read = 0;
  for await (const page of paginateQuery({ client: documentClient() }, { ...statusQueryInput(status, q), Select: 'COUNT' })) {
    count += page.Count ?? 0;
    if (++read >= MAX_STATUS_PAGES) break;
  }
  return count;
}

/** Jobs by id in the order of `ids`, each read with strong consistency; ids that do not exist are left out. */
export async function getJobsInOrder(ids: readonly string[]): Promise<JobRecord[]> {
  const byId = new Map((await getJobs(ids)).map((j) => [j.jobId, j]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET = 100;

/** Jobs by id, each read with strong consistency; ids that do not exist are left out. */
export async function getJobs(jobIds: readonly string[]): Promise<JobRecord[]> {
  const table = config().jobsTable;
  const out: JobRecord[] = [];
  for (let i = 0; i < jobIds.length; i += BATCH_GET) {
    let keys: Record<string, unknown>[] = jobIds.slice(i, i + BATCH_GET).map((jobId) => ({ jobId }));
    for (let round = 0; keys.length > 0; round++) {
      if (round >= UNPROCESSED_ROUNDS) throw new TransientThrottledError(`BatchGetItem left ${keys.length} keys unprocessed after ${UNPROCESSED_ROUNDS} rounds`);
      if (round > 0) await sleep(50 * 2 ** round);
      const res = await documentClient().send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }));
      out.push(...(res.Responses?.[table] ?? []).map(parseJobRecord));
      keys = (res.UnprocessedKeys?.[table]?.Keys ?? []) as Record<string, unknown>[];
    }
  }
  return out;
}

/** How long jobsOfPack waits for the index to list every job of a pack, in waits between tries. */
export const INDEX_CATCH_UP_DELAYS_MS: readonly number[] = [50, 100, 200, 400, 800, 1600];

/**
 * Every job of a pack as it is now. The byPack index gives the ids, and may lag the
 * writes (a new job missing, an old status shown): so the items are read again with
 * strong consistency, and when the pack's `jobCount` is known the index is asked again
 * until it lists that many (bounded by INDEX_CATCH_UP_DELAYS_MS, then
 * Transient.ServiceUnavailable, which the machines retry with backoff).
 */
export async function jobsOfPack(pack: string | Pick<PackRecord, 'packId' | 'jobCount'>): Promise<JobRecord[]> {
  const packId = typeof pack === 'string' ? pack : pack.packId;
  const expected = typeof pack === 'string' ? undefined : pack.jobCount;
  let ids = await jobIdsFromIndex(packId);
  for (const delay of INDEX_CATCH_UP_DELAYS_MS) {
    if (expected === undefined || ids.length >= expected) break;
    await sleep(delay);
    ids = await jobIdsFromIndex(packId);
  }
  if (expected !== undefined && ids.length < expected) {
    throw new TransientServiceUnavailableError(`the byPack index lists ${ids.length} of pack ${packId}'s ${expected} jobs; it has not caught up yet`, { context: { packId } });
  }
  const jobs = await getJobs(ids);
  return jobs.filter((j) => j.packId === packId).sort((a, b) => a.jobId.localeCompare(b.jobId));
}

/**
 * One conditional update of a job. A lost ownership (another run took the job, or an
 * operator reset it) ends this run quietly as Control.Stopped; an impossible status
 * change is data the machine and the table disagree on.
 */
export async function updateJob(jobId: string, u: JobUpdate): Promise<void> {
  await writeJob(jobId, u, false);
}

/** updateJob, answering the job as written. */
export async function updateJobAndRead(jobId: string, u: JobUpdate): Promise<JobRecord> {
  return (await writeJob(jobId, u, true))!;
}

async function writeJob(jobId: string, u: JobUpdate, answer: boolean): Promise<JobRecord | undefined> {
  // The item as written is read back only when something uses it: the caller, the lifecycle
  // event a status announces, or the trim an appended recovery may call for.
  const announces = u.to !== undefined && jobEventOf(u.to) !== undefined;
  const readBack = answer || announces || u.append !== undefined;
  try {
    const res = await documentClient().send(new UpdateCommand({
      TableName: config().jobsTable,
      Key: { jobId },
      ...compileJobUpdate(u, new Date().toISOString()),
      ReturnValues: readBack ? 'ALL_NEW' : 'NONE',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    if (!readBack) return undefined;
    const updated = parseJobRecord(res.Attributes);
    // After the conditional write that made the transition: a retry of it fails, so it announces once.
    if (announces) await emitLifecycle(jobEvent(updated, updated.updatedAt, eventApiUrl()));
    return u.append && updated.recoveries.length > MAX_KEPT_RECOVERIES ? await trimRecoveries(updated) : updated;
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
    // The failed condition returned the item as it is (ALL_OLD); none when it does not exist.
    const current = e.Item === undefined ? undefined : parseJobRecord(unmarshall(e.Item));
    if (!current) throw new InvalidInputError(`job ${jobId} does not exist`, { context: { jobId } });
    if (current.status === 'cancelled' && u.to !== 'pending') {
      throw new StoppedError(`job ${jobId} was cancelled; this run stops`, { context: { jobId } });
    }
    if (u.owner && current.executionArn !== u.owner) {
      throw new StoppedError(`job ${jobId} is now run by another execution; this run stops`, { context: { jobId } });
    }
    if (u.claim !== undefined && current.status !== 'pending') {
      throw new StoppedError(`job ${jobId} is ${current.status}, not pending: another run has it; this run stops`, { context: { jobId } });
    }
    if (current.status === 'pending' && u.to !== 'pending' && u.claim === undefined) {
      throw new StoppedError(`job ${jobId} was reset to pending; this run stops`, { context: { jobId } });
    }
    throw new DataCorruptionError(
      `job ${jobId}: cannot move from ${current.status}${u.to ? ` to ${u.to}` : ''} (condition failed)`,
      { context: { jobId } },
    );
  }
}

/** A recovery entry as read: its place in the list then, and its time, which names it. */
export interface RecoveryRef {
  readonly index: number;
  readonly at: string;
}

/** The job as written, or null when a condition failed (resolved already, or the list moved). */
async function resolveAt(jobId: string, refs: readonly RecoveryRef[], outcome: RecoveryOutcome): Promise<JobRecord | null> {
  const values: Record<string, unknown> = { ':o': outcome, ':t': new Date().toISOString(), ':pending': 'pending' };
  const sets = refs.flatMap(({ index }) => [`recoveries[${index}].outcome = :o`, `recoveries[${index}].resolvedAt = :t`]);
  const conds = refs.flatMap(({ index, at }, i) => {
    values[`:at${i}`] = at;
    return [`recoveries[${index}].outcome = :pending`, `recoveries[${index}].#at = :at${i}`];
  });
  try {
    const res = await documentClient().send(new UpdateCommand({
      TableName: config().jobsTable, Key: { jobId },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: conds.join(' AND '),
      ExpressionAttributeNames: { '#at': 'at' },
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    }));
    return parseJobRecord(res.Attributes);
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
    return null;
  }
}

/**
 * Resolves pending recovery entries. Each is conditional on still being pending and on
 * being the entry read (its time), so two resolutions racing cannot both count, and a
 * list trimmed meanwhile (its indexes shifted) is read again and the entries found anew.
 */
export async function resolveRecoveries(jobId: string, refs: readonly RecoveryRef[], outcome: RecoveryOutcome): Promise<void> {
  if (refs.length === 0) return;
  let resolved = refs;
  let job = await resolveAt(jobId, refs, outcome);
  if (job === null) {
    const current = await findJob(jobId);
    const wanted = new Set(refs.map((r) => r.at));
    resolved = (current?.recoveries ?? []).flatMap((r, index) => (r.outcome === 'pending' && wanted.has(r.at) ? [{ index, at: r.at }] : []));
    // Nothing left pending: another invocation resolved them first; the ledger is already right.
    if (resolved.length === 0) return;
    job = await resolveAt(jobId, resolved, outcome);
    if (job === null) return;
  }
  if (outcome !== 'recovered') return;
  for (const { index } of resolved) {
    const r = job.recoveries[index];
    if (r) await emitLifecycle(recoveredEvent(job, index, { error: r.error, strategy: r.strategy }, r.resolvedAt ?? job.updatedAt, eventApiUrl()));
  }
}

/**
 * Drops the oldest resolved entries past MAX_KEPT_RECOVERIES, counting them. Pending
 * entries are never dropped. Conditional on the list being the one read; when another
 * write changed it first, the next append trims.
 */
async function trimRecoveries(job: JobRecord): Promise<JobRecord> {
  const list = job.recoveries;
  let drop = 0;
  while (drop < list.length - MAX_KEPT_RECOVERIES && list[drop]!.outcome !== 'pending') drop++;
  if (drop === 0) return job;
  try {
    const res = await documentClient().send(new UpdateCommand({
      TableName: config().jobsTable, Key: { jobId: job.jobId },
      UpdateExpression: `REMOVE ${Array.from({ length: drop }, (_, i) => `recoveries[${i}]`).join(', ')} SET recoveriesDropped = if_not_exists(recoveriesDropped, :zero) + :drop`,
      ConditionExpression: 'size(recoveries) = :len AND recoveries[0].#at = :head',
      ExpressionAttributeNames: { '#at': 'at' },
      ExpressionAttributeValues: { ':zero': 0, ':drop': drop, ':len': list.length, ':head': list[0]!.at },
      ReturnValues: 'ALL_NEW',
    }));
    return parseJobRecord(res.Attributes);
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
    return job;
  }
}

/** The pack item already exists: nothing of the new pack was kept. */
export class PackExistsError extends Error {
  override readonly name = 'PackExistsError';
}

/** BatchWriteItem takes at most 25 requests. */
const BATCH = 25;
/** Batches written side by side. */
const BATCH_CONCURRENCY = 4;
/** Rounds of re-sending unprocessed items before giving up. */
const UNPROCESSED_ROUNDS = 5;

async function batchWrite(table: string, requests: Record<string, unknown>[]): Promise<void> {
  let pending = requests;
  for (let round = 0; pending.length > 0; round++) {
    if (round >= UNPROCESSED_ROUNDS) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed after ${UNPROCESSED_ROUNDS} rounds`);
    if (round > 0) await sleep(50 * 2 ** round);
    const res = await documentClient().send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
    pending = (res.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
  }
}

async function inBatches<T>(items: readonly T[], write: (batch: T[]) => Promise<void>): Promise<void> {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) await write(batches[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, batches.length) }, worker));
}

/** Deletes jobs by id (compensation: jobs of a pack that was never committed). */
export async function deleteJobs(jobIds: readonly string[]): Promise<void> {
  const table = config().jobsTable;
  await inBatches(jobIds, (batch) => batchWrite(table, batch.map((jobId) => ({ DeleteRequest: { Key: { jobId } } }))));
}

/**
 * Writes a pack and its jobs so that nothing is half-written: jobs first, in batches, then
 * the pack item as the commit marker (conditional: a pack id is used once). When any write
 * fails, the jobs already written are deleted again; an existing pack throws PackExistsError.
 */
export async function putPackWithJobs(pack: PackRecord, jobs: readonly JobRecord[]): Promise<void> {
  const c = config();
  try {
    await inBatches(jobs, (batch) => batchWrite(c.jobsTable, batch.map((job) => ({ PutRequest: { Item: job } }))));
    await documentClient().send(new PutCommand({ TableName: c.packsTable, Item: pack, ConditionExpression: 'attribute_not_exists(packId)' }));
  } catch (e) {
    // Best effort: jobs without their pack item are unreachable (the pack is the commit marker).
    await deleteJobs(jobs.map((j) => j.jobId)).catch(() => undefined);
    if (e instanceof ConditionalCheckFailedException) throw new PackExistsError(`pack ${pack.packId} already exists`, { cause: e });
    throw e;
  }
}

/** Removes a pack that was committed but could not be started, pack item first so it vanishes at once. */
export async function deletePackWithJobs(packId: string, jobIds: readonly string[]): Promise<void> {
  await documentClient().send(new DeleteCommand({ TableName: config().packsTable, Key: { packId } }));
  await deleteJobs(jobIds);
}

/**
 * Writes a pack (typed: adapters/pack-update.ts) and returns it as written; a pack missing,
 * or not in `from`, is refused. A status change is announced as a lifecycle event unless
 * `announce` is false.
 */
export async function updatePack(packId: string, set: PackSet, opts: Omit<PackUpdate, 'set'> & { announce?: boolean } = {}): Promise<PackRecord> {
  try {
    const res = await documentClient().send(new UpdateCommand({
      TableName: config().packsTable, Key: { packId },
      ...compilePackUpdate({ ...opts, set }, new Date().toISOString()),
      ReturnValues: 'ALL_NEW',
    }));
    const updated = parsePackRecord(res.Attributes);
    if (opts.status !== undefined && opts.announce !== false) await emitLifecycle(packEvent(updated, updated.updatedAt, eventApiUrl()));
    return updated;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) {
      throw new DataCorruptionError(`pack ${packId}: update refused (missing, or status not in ${opts.from?.join('/') ?? 'any'})`);
    }
    throw e;
  }
}

export interface RecoveryEvent {
  /** 'rerun': a deferred re-run of a failed job started or ended (its `outcome`). */
  kind: 'error' | 'recovered' | 'failed' | 'rerun';
  at: string;
  packId: string;
  jobId: string;
  error: string;
  strategy: string;
  timeToRecoverMs?: number;
  outcome?: 'started' | 'recovered' | 'failed';
}

/** Appends a recovery event to its hour bucket; statistics read buckets, never the table. */
export async function putEvent(e: RecoveryEvent): Promise<void> {
  const c = config();
  await documentClient().send(new PutCommand({
    TableName: c.eventsTable,
    Item: {
      bucket: e.at.slice(0, 13),
      sk: `${e.at}#${e.jobId}#${randomUUID().slice(0, 8)}`,
      ...e,
      expiresAt: Math.floor(Date.parse(e.at) / 1000) + c.eventRetentionDays * 86_400,
    },
  }));
}

/** Control flags: the emergency stop and friends. */
export const EMERGENCY_STOP_FLAG = 'flag#emergency-stop';

export async function getFlag(id: string): Promise<Record<string, unknown> | undefined> {
  const res = await documentClient().send(new GetCommand({ TableName: config().controlTable, Key: { id }, ConsistentRead: true }));
  return res.Item;
}

export async function setFlag(id: string, value: Record<string, unknown> | null): Promise<void> {
  if (value === null) {
    await documentClient().send(new UpdateCommand({
      TableName: config().controlTable, Key: { id },
      UpdateExpression: 'SET active = :f, updatedAt = :t', ExpressionAttributeValues: { ':f': false, ':t': new Date().toISOString() },
    }));
    return;
  }
  await documentClient().send(new PutCommand({ TableName: config().controlTable, Item: { id, ...value, active: true, updatedAt: new Date().toISOString() } }));
}
