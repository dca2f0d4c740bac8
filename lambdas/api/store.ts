/**
 * The reads and writes only the API makes: pages of packs and jobs, event buckets and the
 * conditional clear of the emergency stop. (Lookups by status are job-store's jobIdsByStatus.)
 * Every lookup is a Query on a key or an index, never a scan.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, paginateQuery, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { parseJobRecord, parsePackRecord, type JobRecord, type PackRecord } from '../../core/job.ts';
import type { JobStatus } from '../../core/status.ts';
import { isErasing } from '../../adapters/pack-erasure.ts';
import { documentClient } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import { EMERGENCY_STOP_FLAG, getFlag } from '../../adapters/job-store.ts';
import { access, grant } from '../../adapters/access.ts';

/** The API's reads by index, the statistics' event buckets, the emergency-stop flag's updates. */
export const API_STORE_ACCESS = access(
  grant('table:packs', 'dynamodb', 'GetItem'), grant('index:packs/byCreatedAt', 'dynamodb', 'Query'),
  grant('index:jobs/byPack', 'dynamodb', 'Query'),
  grant('table:events', 'dynamodb', 'Query'), grant('table:control', 'dynamodb', 'UpdateItem'),
);

export interface Page<T> {
  readonly items: T[];
  readonly lastKey: Record<string, unknown> | undefined;
}

/** The pack, or undefined when there is none or it is being erased (gone for every route). */
export async function findPack(packId: string): Promise<PackRecord | undefined> {
  const res = await documentClient().send(new GetCommand({ TableName: config().packsTable, Key: { packId }, ConsistentRead: true }));
  const pack = res.Item && parsePackRecord(res.Item);
  return pack && !isErasing(pack) ? pack : undefined;
}

export async function packsPage(limit: number, start: Record<string, unknown> | undefined): Promise<Page<PackRecord>> {
  const res = await documentClient().send(new QueryCommand({
    TableName: config().packsTable, IndexName: 'byCreatedAt',
    KeyConditionExpression: 'kind = :k', ExpressionAttributeValues: { ':k': 'pack' },
    ScanIndexForward: false, Limit: limit,
    ...(start && { ExclusiveStartKey: start }),
  }));
  return { items: (res.Items ?? []).map(parsePackRecord), lastKey: res.LastEvaluatedKey };
}

/** The status of every job of a pack (projected: progress polls stay cheap on large packs). */
export async function jobStatusesOfPack(packId: string): Promise<Pick<JobRecord, 'status'>[]> {
  const out: Pick<JobRecord, 'status'>[] = [];
  const pages = paginateQuery({ client: documentClient() }, {
    TableName: config().jobsTable, IndexName: 'byPack',
    KeyConditionExpression: 'packId = :p', ExpressionAttributeValues: { ':p': packId },
    ProjectionExpression: '#s', ExpressionAttributeNames: { '#s': 'status' },
  });
  for await (const page of pages) out.push(...((page.Items ?? []) as Pick<JobRecord, 'status'>[]));
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

/** Every recovery event of one hour bucket at or after `fromSk` (the sort key starts with the ISO time). */
export async function eventsOfBucket(bucket: string, fromSk?: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const pages = paginateQuery({ client: documentClient() }, {
    TableName: config().eventsTable,
    // `bucket` is a DynamoDB reserved word, and so are some attribute names read here.
    KeyConditionExpression: fromSk === undefined ? '#b = :b' : '#b = :b AND sk >= :from',
    ExpressionAttributeNames: { '#b': 'bucket', '#k': 'kind', '#at': 'at', '#err': 'error', '#st': 'strategy', '#ttr': 'timeToRecoverMs', '#out': 'outcome' },
    ExpressionAttributeValues: { ':b': bucket, ...(fromSk !== undefined && { ':from': fromSk }) },
    ProjectionExpression: '#k, #at, #err, #st, #ttr, #out',
  });
  for await (const page of pages) out.push(...(page.Items ?? []));
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
