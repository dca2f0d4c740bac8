/**
 * Packs whose outcome the watchdog still owes. A job the watchdog or reconciler re-runs
 * alone may end after its pack's run was finalized (the pack then reads `stopped`, or counts
 * the job unfinished), and a pack run that died never finalizes. Such packs are remembered
 * in one control item (a string set, changed atomically by ADD/DELETE), and each sweep
 * settles those whose jobs have all ended: counts and outcome, as PackFinalize computes them.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { settlement } from '../core/watchdog.ts';
import type { PackRecord } from '../core/job.ts';
import { PipelineError } from '../core/errors.ts';
import { documentClient } from './aws-clients.ts';
import { config } from './config.ts';
import { JOB_STORE_ACCESS, jobsOfPack, updatePack } from './job-store.ts';
import { access, grant } from './access.ts';

/** The unsettled-packs item in the control table, and the packs it settles. */
export const PACK_SETTLEMENT_ACCESS = access(
  grant('table:control', 'dynamodb', 'GetItem', 'UpdateItem'), JOB_STORE_ACCESS.jobsOfPack, JOB_STORE_ACCESS.writePack,
);

export const UNSETTLED_PACKS_ID = 'watchdog#unsettled-packs';

export async function markUnsettled(packId: string): Promise<void> {
  await documentClient().send(new UpdateCommand({
    TableName: config().controlTable, Key: { id: UNSETTLED_PACKS_ID },
    UpdateExpression: 'ADD packs :p SET updatedAt = :t',
    ExpressionAttributeValues: { ':p': new Set([packId]), ':t': new Date().toISOString() },
  }));
}

export async function markSettled(packId: string): Promise<void> {
  await documentClient().send(new UpdateCommand({
    TableName: config().controlTable, Key: { id: UNSETTLED_PACKS_ID },
    UpdateExpression: 'DELETE packs :p', ExpressionAttributeValues: { ':p': new Set([packId]) },
  }));
}

export async function unsettledPacks(): Promise<string[]> {
  const res = await documentClient().send(new GetCommand({ TableName: config().controlTable, Key: { id: UNSETTLED_PACKS_ID }, ConsistentRead: true }));
  const packs = res.Item?.['packs'];
  return packs instanceof Set ? [...(packs as Set<string>)].sort() : [];
}

/**
 * Sets a finished pack's counts and outcome from its jobs. Returns the status written, or
 * null while a job is unfinished or the pack is running (its own run finalizes it).
 */
export async function settlePack(pack: PackRecord): Promise<PackRecord['status'] | null> {
  const jobs = await jobsOfPack(pack);
  const s = settlement(pack, jobs.map((j) => j.status));
  if (s === null) return null;
  try {
    // Only from the status read: a resume or restart that took the pack meanwhile wins.
    await updatePack(pack.packId, { counts: s.counts }, { status: s.status, from: [pack.status] });
  } catch (e) {
    if (e instanceof PipelineError) return null;
    throw e;
  }
  return s.status;
}
