/**
 * Erasing a pack (person photos are personal data): every object version and delete marker
 * under the pack's prefix (uploads, masks, GPU outputs, results), its job items, its
 * recovery events, the control items that name it (idempotency records, lifecycle-event
 * claims), and last its pack item. The API marks the pack `erasing` (its `kind` leaves the
 * pack list for the `erasing` partition of the byCreatedAt index) and erases within its time
 * budget; what is left the watchdog finishes on its next sweeps, as it expires finished
 * packs past the retention setting. Every step can run again: an erasure that stopped half
 * way goes on where it stopped.
 *
 * Statistics keep counts without ids: a recovery event of the pack is written again under
 * an anonymous sort key without packId and jobId (its time, error, strategy and outcome, all
 * GET /statistics reads), then the original is deleted, so no figure drops.
 */
import { randomUUID } from 'node:crypto';
import { DeleteObjectsCommand, ListObjectVersionsCommand, type ObjectIdentifier } from '@aws-sdk/client-s3';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, paginateQuery, paginateScan } from '@aws-sdk/lib-dynamodb';
import { parsePackRecord, type PackRecord } from '../core/job.ts';
import { s3Keys } from '../core/resources.ts';
import { runningWork } from '../core/pack-activity.ts';
import { TERMINAL_PACK_STATUSES, type PackStatus } from '../core/status.ts';
import { access, grant } from './access.ts';
import { documentClient, s3Client } from './aws-clients.ts';
import { config } from './config.ts';
import { deleteJobs, getJobs, jobIdsFromIndex } from './job-store.ts';
import { markSettled } from './pack-settlement.ts';

/** The byCreatedAt partition of packs being erased (live packs are `pack`). */
export const ERASING_KIND = 'erasing' satisfies PackRecord['kind'];

export const PACK_ERASURE_ACCESS = access(
  grant('bucket:artifacts', 's3', 'ListBucketVersions'),
  grant('objects:artifacts/packs/*', 's3', 'DeleteObject', 'DeleteObjectVersion'),
  grant('table:packs', 'dynamodb', 'GetItem', 'UpdateItem', 'DeleteItem'),
  grant('index:packs/byCreatedAt', 'dynamodb', 'Query'),
  grant('index:jobs/byPack', 'dynamodb', 'Query'),
  grant('table:jobs', 'dynamodb', 'BatchWriteItem', 'BatchGetItem'),
  grant('table:events', 'dynamodb', 'Query', 'PutItem', 'DeleteItem'),
  // Idempotency records and event claims are keyed by hashes and event ids: found by a scan.
  grant('table:control', 'dynamodb', 'Scan', 'DeleteItem', 'UpdateItem'),
);

/** DeleteObjects takes at most 1000 keys. */
const DELETE_BATCH = 1000;
const CALL_TIMEOUT_MS = 10_000;
const HOUR_MS = 3_600_000;
const signal = () => AbortSignal.timeout(CALL_TIMEOUT_MS);
/** Call options for a paginator, which passes the same options to every page's call: each page gets a fresh timeout. */
const eachCall = { get abortSignal() { return signal(); } };

/** A pack item marked for erasure: no route shows it, the eraser finishes it. */
export const isErasing = (pack: { kind?: string }): boolean => pack.kind === ERASING_KIND;

export class PackChangedError extends Error {
  override readonly name = 'PackChangedError';
}

/**
 * Marks the pack for erasure, only from the status it was read with (a run starting
 * meanwhile wins, and the caller decides again). Marking twice keeps the first mark.
 */
export async function markErasing(pack: PackRecord, by: string, now = new Date().toISOString()): Promise<void> {
  if (isErasing(pack)) return;
  try {
    await documentClient().send(new UpdateCommand({
      TableName: config().packsTable, Key: { packId: pack.packId },
      UpdateExpression: 'SET kind = :erasing, erasure = :mark, updatedAt = :now',
      ConditionExpression: '#s = :status AND kind = :pack',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':erasing': ERASING_KIND, ':pack': 'pack', ':status': pack.status, ':mark': { requestedAt: now, requestedBy: by }, ':now': now },
    }), { abortSignal: signal() });
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) throw new PackChangedError(`pack ${pack.packId} changed while it was marked for erasure`);
    throw e;
  }
}

/** Every object version and delete marker under a prefix, one page at a time. */
async function* versionPages(prefix: string): AsyncGenerator<ObjectIdentifier[]> {
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  do {
    const page = await s3Client().send(new ListObjectVersionsCommand({ Bucket: config().bucket, Prefix: prefix, KeyMarker, VersionIdMarker }), { abortSignal: signal() });
    yield [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId! }));
    KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    VersionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (KeyMarker !== undefined);
}

/** What erasing the pack removes: its jobs and its stored object versions (delete markers included). */
export async function erasureScope(pack: PackRecord): Promise<{ jobs: number; objects: number; versions: number }> {
  const keys = new Set<string>();
  let versions = 0;
  for await (const page of versionPages(s3Keys.packPrefix(pack.packId))) {
    versions += page.length;
    for (const v of page) keys.add(v.Key!);
  }
  return { jobs: (await jobIdsFromIndex(pack.packId)).length, objects: keys.size, versions };
}

export interface ErasureProgress {
  /** Nothing of the pack is left. */
  readonly done: boolean;
  readonly versionsDeleted: number;
  readonly jobsDeleted: number;
  readonly eventsAnonymized: number;
  readonly controlItemsDeleted: number;
}

/** Deletes every version under the pack's prefix, 1000 per call, until a listing is empty or time runs out. */
async function eraseObjects(packId: string, outOfTime: () => boolean): Promise<{ deleted: number; done: boolean }> {
  let deleted = 0;
  for (;;) {
    // Listed from the start each round: what was deleted no longer shows.
    const first = await versionPages(s3Keys.packPrefix(packId)).next();
    const batch = (first.value ?? []).slice(0, DELETE_BATCH);
    if (batch.length === 0) return { deleted, done: true };
    for (let i = 0; i < batch.length; i += DELETE_BATCH) {
      const res = await s3Client().send(new DeleteObjectsCommand({ Bucket: config().bucket, Delete: { Objects: batch.slice(i, i + DELETE_BATCH), Quiet: true } }), { abortSignal: signal() });
      if (res.Errors && res.Errors.length > 0) throw new Error(`S3 refused to delete ${res.Errors.length} object version(s) of pack ${packId}: ${res.Errors[0]?.Code} ${res.Errors[0]?.Message ?? ''}`);
    }
    deleted += batch.length;
    if (outOfTime()) return { deleted, done: false };
  }
}

/** Rewrites the pack's recovery events without ids, hour bucket by hour bucket since it was created. */
async function anonymizeEvents(pack: PackRecord, now: number, outOfTime: () => boolean): Promise<{ count: number; done: boolean }> {
  const c = config();
  // Older buckets have expired (TTL) already.
  const from = Math.max(Date.parse(pack.createdAt), now - c.eventRetentionDays * 86_400_000);
  let count = 0;
  for (let t = Math.floor(from / HOUR_MS) * HOUR_MS; t <= now; t += HOUR_MS) {
    const bucket = new Date(t).toISOString().slice(0, 13);
    const pages = paginateQuery({ client: documentClient() }, {
      TableName: c.eventsTable, KeyConditionExpression: '#b = :b', FilterExpression: 'packId = :p',
      ExpressionAttributeNames: { '#b': 'bucket' }, ExpressionAttributeValues: { ':b': bucket, ':p': pack.packId },
    }, eachCall);
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const { packId: _p, jobId: _j, sk, ...rest } = item as Record<string, unknown> & { sk: string };
        const at = typeof rest['at'] === 'string' ? rest['at'] : sk.slice(0, 24);
        await documentClient().send(new PutCommand({ TableName: c.eventsTable, Item: { ...rest, sk: `${at}#erased#${randomUUID().slice(0, 8)}` } }), { abortSignal: signal() });
        await documentClient().send(new DeleteCommand({ TableName: c.eventsTable, Key: { bucket, sk } }), { abortSignal: signal() });
        count++;
      }
    }
    if (outOfTime()) return { count, done: false };
  }
  return { count, done: true };
}

/** Control items that name the pack or one of its jobs: idempotency records (their key or stored answer), lifecycle-event claims, attempt claims. */
async function eraseControlItems(packId: string, jobIds: readonly string[]): Promise<number> {
  const names = [packId, ...jobIds];
  let count = 0;
  const pages = paginateScan({ client: documentClient() }, {
    TableName: config().controlTable, ProjectionExpression: 'id, #d', ExpressionAttributeNames: { '#d': 'data' },
  }, eachCall);
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const id = String(item['id']);
      // Powertools stores the answer as a string or a map, depending on its version.
      const data = item['data'] === undefined ? '' : typeof item['data'] === 'string' ? item['data'] : JSON.stringify(item['data']);
      const named = names.some((n) => id.includes(n) || data.includes(n));
      if (!named) continue;
      await documentClient().send(new DeleteCommand({ TableName: config().controlTable, Key: { id } }), { abortSignal: signal() });
      count++;
    }
  }
  return count;
}

/**
 * Erases a pack marked for erasure, until nothing is left or `deadline` (epoch ms) passes.
 * The pack item goes last: while it exists, the watchdog finds the erasure to finish.
 */
export async function erasePack(pack: PackRecord, deadline: number, now = Date.now()): Promise<ErasureProgress> {
  const outOfTime = () => Date.now() >= deadline;
  const progress = { done: false, versionsDeleted: 0, jobsDeleted: 0, eventsAnonymized: 0, controlItemsDeleted: 0 };
  const objects = await eraseObjects(pack.packId, outOfTime);
  progress.versionsDeleted = objects.deleted;
  if (!objects.done) return progress;
  const events = await anonymizeEvents(pack, now, outOfTime);
  progress.eventsAnonymized = events.count;
  if (!events.done) return progress;
  const jobIds = await jobIdsFromIndex(pack.packId);
  progress.controlItemsDeleted = await eraseControlItems(pack.packId, jobIds);
  // The watchdog's set of packs it owes an outcome names it too.
  await markSettled(pack.packId);
  await deleteJobs(jobIds);
  progress.jobsDeleted = jobIds.length;
  if (outOfTime()) return progress;
  // The index may lag: the jobs are asked for again before the pack item, the marker, goes.
  if ((await jobIdsFromIndex(pack.packId)).length > 0) return progress;
  await documentClient().send(new DeleteCommand({ TableName: config().packsTable, Key: { packId: pack.packId } }), { abortSignal: signal() });
  return { ...progress, done: true };
}

/** Packs in the byCreatedAt partition `kind` (created before `before`), oldest first, that `keep` accepts: at most `limit`, within 10 pages. */
async function packsOfKind(kind: string, limit: number, keep: (p: PackRecord) => boolean, before?: string): Promise<PackRecord[]> {
  const out: PackRecord[] = [];
  let read = 0;
  const pages = paginateQuery({ client: documentClient() }, {
    TableName: config().packsTable, IndexName: 'byCreatedAt',
    KeyConditionExpression: before === undefined ? 'kind = :k' : 'kind = :k AND createdAt < :before',
    ExpressionAttributeValues: { ':k': kind, ...(before !== undefined && { ':before': before }) },
  }, eachCall);
  for await (const page of pages) {
    out.push(...(page.Items ?? []).map(parsePackRecord).filter(keep));
    if (out.length >= limit || ++read >= 10) break;
  }
  return out.slice(0, limit);
}

/** Packs marked for erasure that are not erased yet (the index may lag: the caller reads each again). */
export const packsBeingErased = (limit: number): Promise<PackRecord[]> => packsOfKind(ERASING_KIND, limit, () => true);

/** The statuses the retention setting expires: finished, and not stopped (a stopped pack waits to be resumed). */
export const EXPIRING_PACK_STATUSES: readonly PackStatus[] = TERMINAL_PACK_STATUSES.filter((s) => s !== 'stopped');

/** Finished packs created before `before`: the retention setting's candidates (the caller reads each again before acting). */
export const finishedPacksBefore = (before: string, limit: number): Promise<PackRecord[]> =>
  packsOfKind('pack', limit, (p) => EXPIRING_PACK_STATUSES.includes(p.status), before);

export interface SweptErasure {
  readonly packId: string;
  readonly reason: 'requested' | 'retention';
  readonly done: boolean;
  readonly error?: string;
}

/** Packs finished per sweep; the rest wait for the next one. */
const ERASURES_PER_SWEEP = 10;

/**
 * The watchdog's part: finish the erasures the API began, then erase finished packs older
 * than `retentionMs` (none when undefined), until `deadline`.
 */
export async function sweepErasures(retentionMs: number | undefined, now: number, deadline: number): Promise<SweptErasure[]> {
  const out: SweptErasure[] = [];
  const run = async (pack: PackRecord, reason: SweptErasure['reason']) => {
    try {
      out.push({ packId: pack.packId, reason, done: (await erasePack(pack, deadline, now)).done });
    } catch (e) {
      out.push({ packId: pack.packId, reason, done: false, error: (e as Error).message });
    }
  };
  for (const candidate of await packsBeingErased(ERASURES_PER_SWEEP)) {
    if (Date.now() >= deadline) return out;
    const pack = await currentPack(candidate.packId);
    if (pack && isErasing(pack)) await run(pack, 'requested');
  }
  if (retentionMs === undefined) return out;
  for (const candidate of await finishedPacksBefore(new Date(now - retentionMs).toISOString(), ERASURES_PER_SWEEP)) {
    if (Date.now() >= deadline) return out;
    const pack = await currentPack(candidate.packId);
    if (!pack || isErasing(pack) || !EXPIRING_PACK_STATUSES.includes(pack.status)) continue;
    // A job retried on its own after the pack ended may be running: it is left to finish.
    if (runningWork(pack, await getJobs(await jobIdsFromIndex(pack.packId)))) continue;
    try {
      await markErasing(pack, 'retention');
    } catch (e) {
      if (e instanceof PackChangedError) continue;
      throw e;
    }
    await run({ ...pack, kind: ERASING_KIND }, 'retention');
  }
  return out;
}

async function currentPack(packId: string): Promise<PackRecord | undefined> {
  const res = await documentClient().send(new GetCommand({ TableName: config().packsTable, Key: { packId }, ConsistentRead: true }), { abortSignal: signal() });
  return res.Item && parsePackRecord(res.Item);
}
