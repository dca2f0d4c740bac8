/**
 * The reads and writes only the API makes: pages of packs and jobs, index lookups by
 * status (stuck jobs, cleanup, resume) and the conditional clear of the emergency stop.
 * Every lookup is a Query on a key or an index, never a scan.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { parseJobRecord, type JobRecord, type PackRecord } from '../../core/job.ts';
import type { JobStatus } from '../../core/status.ts';
import { isErasing } from '../../adapters/pack-erasure.ts';
import { documentClient } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import { EMERGENCY_STOP_FLAG, getFlag } from '../../adapters/job-store.ts';
import { access, grant } from '../../adapters/access.ts';

/** The API's reads by index, the statistics' event buckets, the emergency-stop flag's updates. */
export const API_STORE_ACCESS = access(
  grant('table:packs', 'dynamodb', 'GetItem'), grant('index:packs/byCreatedAt', 'dynamodb', 'Query'),
  grant('index:jobs/byPack', 'dynamodb', 'Query'), grant('index:jobs/byStatus', 'dynamodb', 'Query'),
  grant('table:events', 'dynamodb', 'Query'), grant('table:control', 'dynamodb', 'UpdateItem'),
);

export interface Page<T> {
  readonly items: T[];
  readonly lastKey: Record<string, unknown> | undefined;
}

/** The pack, or undefined. */
/** The pack, or undefined when there is none or it is being erased (gone for every route). */
export async function findPack(packId: string): Promise<PackRecord | undefined> {
  const res = await documentClient().send(new GetCommand({ TableName: config().packsTable, Key: { packId }, ConsistentRead: true }));
  const pack = res.Item as PackRecord | undefined;
  return pack && !isErasing(pack) ? pack : undefined;
}

export async function packsPage(limit: number, start: Record<string, unknown> | undefined): Promise<Page<PackRecord>> {
  const res = await documentClient().send(new QueryCommand({
    TableName: config().packsTable, IndexName: 'byCreatedAt',
    KeyConditionExpression: 'kind = :k', ExpressionAttributeValues: { ':k': 'pack' },
    ScanIndexForward: false, Limit: limit,
    ...(start && { ExclusiveStartKey: start }),
  }));
  return { items: (res.Items ?? []) as PackRecord[], lastKey: res.LastEvaluatedKey };
}

/** The status of every job of a pack (projected: progress polls stay cheap on large packs). */
export async function jobStatusesOfPack(packId: string): Promise<Pick<JobRecord, 'status'>[]> {
  const out: Pick<JobRecord, 'status'>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await documentClient().send(new QueryCommand({
      TableName: config().jobsTable, IndexName: 'byPack',
      KeyConditionExpression: 'packId = :p', ExpressionAttributeValues: { ':p': packId },
      ProjectionExpression: '#s', ExpressionAttributeNames: { '#s': 'status' },
      ...(start && { ExclusiveStartKey: start }),
    }));
    out.push(...((res.Items ?? []) as Pick<JobRecord, 'status'>[]));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Most index pages read to fill one filtered page. */
const MAX_FILTER_ROUNDS = 20;

/**
 * A page of a pack's jobs in id order, optionally of one status. With a status filter a
 * page is filled from several index pages; its cursor is the last job returned.
 */
export async function jobsPage(packId: string, status: JobStatus | undefined, limit: number, start: Record<string, unknown> | undefined): Promise<Page<JobRecord>> {
  const items: JobRecord[] = [];
  let key = start;
  for (let round = 0; round < MAX_FILTER_ROUNDS; round++) {
    const input: QueryCommandInput = {
      TableName: config().jobsTable, IndexName: 'byPack',
      KeyConditionExpression: 'packId = :p',
      ExpressionAttributeValues: { ':p': packId, ...(status && { ':s': status }) },
      ...(status && { FilterExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'status' } }),
      Limit: limit,
      ...(key && { ExclusiveStartKey: key }),
    };
    const res = await documentClient().send(new QueryCommand(input));
    items.push(...(res.Items ?? []).map(parseJobRecord));
    key = res.LastEvaluatedKey;
    if (!key || items.length >= limit) break;
  }
  if (items.length > limit) {
    const page = items.slice(0, limit);
    const last = page[page.length - 1]!;
    return { items: page, lastKey: { packId: last.packId, jobId: last.jobId } };
  }
  return { items, lastKey: key && { packId: key['packId'], jobId: key['jobId'] } };
}

/**
 * Jobs of one status (the byStatus index), optionally last updated before `before` and
 * not yet cleaned, up to `max` (all when omitted).
 */
export async function jobsByStatus(status: JobStatus, opts: { before?: string; max?: number; uncleanedOnly?: boolean } = {}): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await documentClient().send(new QueryCommand({
      TableName: config().jobsTable, IndexName: 'byStatus',
      KeyConditionExpression: opts.before === undefined ? '#s = :s' : '#s = :s AND updatedAt < :t',
      ExpressionAttributeNames: { '#s': 'status', ...(opts.uncleanedOnly && { '#c': 'cleanedAt' }) },
      ExpressionAttributeValues: { ':s': status, ...(opts.before !== undefined && { ':t': opts.before }) },
      ...(opts.uncleanedOnly && { FilterExpression: 'attribute_not_exists(#c)' }),
      ...(opts.max !== undefined && { Limit: Math.max(opts.max - out.length, 100) }),
      ...(start && { ExclusiveStartKey: start }),
    }));
    out.push(...(res.Items ?? []).map(parseJobRecord));
    start = res.LastEvaluatedKey;
  } while (start && (opts.max === undefined || out.length < opts.max));
  return opts.max === undefined ? out : out.slice(0, opts.max);
}

/** How many jobs of one status were last updated before `before` (a counting Query). */
export async function countByStatus(status: JobStatus, before: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const res = await documentClient().send(new QueryCommand({
      TableName: config().jobsTable, IndexName: 'byStatus', Select: 'COUNT',
      KeyConditionExpression: '#s = :s AND updatedAt < :t',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': status, ':t': before },
      ...(start && { ExclusiveStartKey: start }),
    }));
    count += res.Count ?? 0;
    start = res.LastEvaluatedKey;
  } while (start);
  return count;
}

/** Every recovery event of one hour bucket at or after `fromSk` (the sort key starts with the ISO time). */
export async function eventsOfBucket(bucket: string, fromSk?: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await documentClient().send(new QueryCommand({
      TableName: config().eventsTable,
      // `bucket` is a DynamoDB reserved word, and so are some attribute names read here.
      KeyConditionExpression: fromSk === undefined ? '#b = :b' : '#b = :b AND sk >= :from',
      ExpressionAttributeNames: { '#b': 'bucket', '#k': 'kind', '#at': 'at', '#err': 'error', '#st': 'strategy', '#ttr': 'timeToRecoverMs', '#out': 'outcome' },
      ExpressionAttributeValues: { ':b': bucket, ...(fromSk !== undefined && { ':from': fromSk }) },
      ProjectionExpression: '#k, #at, #err, #st, #ttr, #out',
      ...(start && { ExclusiveStartKey: start }),
    }));
    out.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

/**
 * Sets the emergency stop only if it is not set, so a second stop cannot rewrite the first
 * one's time and reason. Returns the flag as it stands when it was already set.
 */
export async function setEmergencyStopIfClear(value: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  try {
    await documentClient().send(new PutCommand({
      TableName: config().controlTable,
      Item: { ...value, id: EMERGENCY_STOP_FLAG, active: true, updatedAt: new Date().toISOString() },
      ConditionExpression: 'attribute_not_exists(id) OR active <> :on',
      ExpressionAttributeValues: { ':on': true },
    }));
    return undefined;
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
    return (await getFlag(EMERGENCY_STOP_FLAG)) ?? {};
  }
}

/**
 * Clears the emergency stop only if it is set, so two resumes cannot both proceed.
 * Returns false when it was not set.
 */
export async function clearEmergencyStopIfSet(): Promise<boolean> {
  try {
    await documentClient().send(new UpdateCommand({
      TableName: config().controlTable, Key: { id: EMERGENCY_STOP_FLAG },
      UpdateExpression: 'SET active = :f, updatedAt = :t',
      ConditionExpression: 'active = :on',
      ExpressionAttributeValues: { ':f': false, ':on': true, ':t': new Date().toISOString() },
    }));
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

/** Adds pack ids to the emergency stop's list of stopped packs, if the stop is still set. */
export async function rememberStoppedPacks(packIds: readonly string[]): Promise<void> {
  if (packIds.length === 0) return;
  try {
    await documentClient().send(new UpdateCommand({
      TableName: config().controlTable, Key: { id: EMERGENCY_STOP_FLAG },
      UpdateExpression: 'SET stoppedPacks = list_append(if_not_exists(stoppedPacks, :empty), :ids)',
      ConditionExpression: 'active = :on',
      ExpressionAttributeValues: { ':empty': [], ':ids': [...packIds], ':on': true },
    }));
  } catch (e) {
    // A resume cleared the stop meanwhile; it found these packs by their jobs.
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}

/** The pack ids an emergency stop remembered, deduplicated. */
export function stoppedPacksOf(flag: Record<string, unknown> | undefined): string[] {
  const list = flag?.['stoppedPacks'];
  return Array.isArray(list) ? [...new Set(list.filter((x): x is string => typeof x === 'string'))] : [];
}
