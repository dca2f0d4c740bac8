/**
 * Jobs and packs in DynamoDB. Status changes are conditional writes: the condition comes
 * from core/status.ts (no illegal transitions) and, for a running job, from the execution
 * that owns it (a stale execution can never overwrite a newer run).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { DataCorruptionError, InvalidInputError, StoppedError } from '../../core/errors.ts';
import type { JobRecord, PackRecord, RecoveryEntry, RecoveryOutcome } from '../../core/job.ts';
import { allowedSources, type JobStatus, type PackStatus } from '../../core/status.ts';
import { jobEvent, packEvent, recoveredEvent } from '../../core/lifecycle.ts';
import { documentClient } from './aws-clients.ts';
import { config } from './config.ts';
import { emitLifecycle, eventApiUrl } from './lifecycle-events.ts';

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

export async function getJob(jobId: string, consistent = true): Promise<JobRecord> {
  const res = await documentClient().send(new GetCommand({ TableName: config().jobsTable, Key: { jobId }, ConsistentRead: consistent }));
  if (!res.Item) throw new NotFoundError(`job ${jobId} not found`);
  return res.Item as JobRecord;
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
  return res.Item as PackRecord;
}

/** Every job of a pack, through the byPack index (paged). */
export async function jobsOfPack(packId: string): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await documentClient().send(new QueryCommand({
      TableName: config().jobsTable, IndexName: 'byPack',
      KeyConditionExpression: 'packId = :p', ExpressionAttributeValues: { ':p': packId },
      ...(start && { ExclusiveStartKey: start }),
    }));
    out.push(...((res.Items ?? []) as JobRecord[]));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

export interface JobUpdate {
  /** New status; the write fails unless the current status may move to it. */
  readonly to?: JobStatus;
  /** Statuses the job may be in; defaults to every status that may move to `to`. */
  readonly from?: readonly JobStatus[];
  /** Only this execution may write (the job's current owner). */
  readonly owner?: string;
  /** Make this execution the owner (JobStart). */
  readonly claim?: string;
  readonly set?: Record<string, unknown>;
  readonly increment?: Record<string, number>;
  readonly append?: RecoveryEntry;
  readonly remove?: readonly string[];
  /** Extra condition on the current item, with its own placeholder values. */
  readonly condition?: { expression: string; values: Record<string, unknown> };
}

/**
 * One conditional update of a job. A lost ownership (another run took the job, or an
 * operator reset it) ends this run quietly as Control.Stopped; an impossible status
 * change is data the machine and the table disagree on.
 */
export async function updateJob(jobId: string, u: JobUpdate): Promise<JobRecord> {
  const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
  const values: Record<string, unknown> = { ':now': new Date().toISOString() };
  const sets = ['#updatedAt = :now'];
  const conditions = ['attribute_exists(jobId)'];
  let i = 0;
  const name = (path: string) => path.split('.').map((part) => {
    const key = `#n${i++}`;
    names[key] = part;
    return key;
  }).join('.');
  const value = (v: unknown) => {
    const key = `:v${i++}`;
    values[key] = v;
    return key;
  };
  if (u.to) {
    sets.push(`${name('status')} = ${value(u.to)}`);
    const from = u.from ?? allowedSources(u.to);
    conditions.push(`${name('status')} IN (${from.map(value).join(', ')})`);
  }
  if (u.owner) conditions.push(`${name('executionArn')} = ${value(u.owner)}`);
  if (u.claim) sets.push(`${name('executionArn')} = ${value(u.claim)}`);
  for (const [k, v] of Object.entries(u.set ?? {})) sets.push(`${name(k)} = ${value(v)}`);
  for (const [k, v] of Object.entries(u.increment ?? {})) sets.push(`${name(k)} = if_not_exists(${name(k)}, ${value(0)}) + ${value(v)}`);
  if (u.append) sets.push(`${name('recoveries')} = list_append(if_not_exists(${name('recoveries')}, ${value([])}), ${value([u.append])})`);
  if (u.condition) {
    conditions.push(u.condition.expression);
    Object.assign(values, u.condition.values);
  }
  const remove = (u.remove ?? []).map(name);
  try {
    const res = await documentClient().send(new UpdateCommand({
      TableName: config().jobsTable,
      Key: { jobId },
      UpdateExpression: `SET ${sets.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    const updated = res.Attributes as JobRecord;
    // After the conditional write that made the transition: a retry of it fails, so it announces once.
    if (u.to !== undefined) await emitLifecycle(jobEvent(updated, updated.updatedAt, eventApiUrl()));
    return updated;
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
    const current = await findJob(jobId);
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

/**
 * Resolves pending recovery entries at the given indexes. Each is conditional on still
 * being pending, so two resolutions racing cannot both count.
 */
export async function resolveRecoveries(jobId: string, indexes: readonly number[], outcome: RecoveryOutcome): Promise<void> {
  if (indexes.length === 0) return;
  let job: JobRecord;
  const values: Record<string, unknown> = { ':o': outcome, ':t': new Date().toISOString(), ':pending': 'pending' };
  const sets = indexes.flatMap((ix) => [`recoveries[${ix}].outcome = :o`, `recoveries[${ix}].resolvedAt = :t`]);
  const conds = indexes.map((ix) => `recoveries[${ix}].outcome = :pending`);
  try {
    const res = await documentClient().send(new UpdateCommand({
      TableName: config().jobsTable, Key: { jobId },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: conds.join(' AND '),
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    }));
    job = res.Attributes as JobRecord;
  } catch (e) {
    // Another invocation resolved some of them first; the ledger is already right.
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
    return;
  }
  if (outcome !== 'recovered') return;
  for (const ix of indexes) {
    const r = job.recoveries[ix];
    if (r) await emitLifecycle(recoveredEvent(job, ix, { error: r.error, strategy: r.strategy }, values[':t'] as string, eventApiUrl()));
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
    if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
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

export async function updatePack(packId: string, set: Record<string, unknown>, opts: { status?: PackStatus; from?: readonly PackStatus[]; increment?: Record<string, number>; announce?: boolean } = {}): Promise<PackRecord> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':now': new Date().toISOString() };
  const sets = ['updatedAt = :now'];
  let i = 0;
  for (const [k, v] of Object.entries({ ...set, ...(opts.status && { status: opts.status }) })) {
    names[`#k${i}`] = k;
    values[`:v${i}`] = v;
    sets.push(`#k${i} = :v${i}`);
    i++;
  }
  for (const [k, v] of Object.entries(opts.increment ?? {})) {
    names[`#k${i}`] = k;
    values[`:v${i}`] = v;
    values[':zero'] = 0;
    sets.push(`#k${i} = if_not_exists(#k${i}, :zero) + :v${i}`);
    i++;
  }
  const conds = ['attribute_exists(packId)'];
  if (opts.from) {
    names['#st'] = 'status';
    conds.push(`#st IN (${opts.from.map((s, j) => { values[`:f${j}`] = s; return `:f${j}`; }).join(', ')})`);
  }
  try {
    const res = await documentClient().send(new UpdateCommand({
      TableName: config().packsTable, Key: { packId },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: conds.join(' AND '),
      ...(Object.keys(names).length > 0 && { ExpressionAttributeNames: names }),
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_NEW',
    }));
    const updated = res.Attributes as PackRecord;
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
  kind: 'error' | 'recovered' | 'failed';
  at: string;
  packId: string;
  jobId: string;
  error: string;
  strategy: string;
  timeToRecoverMs?: number;
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
