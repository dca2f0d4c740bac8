/**
 * Single-flight for the watchdog: one lease item in the control table, taken with a
 * conditional write. A sweep runs only while it holds the lease, so a scheduled run that
 * starts while the previous one still sweeps exits at once instead of acting on the same
 * jobs. A holder that dies (timeout, crash) loses the lease at its deadline.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { access, grant } from './access.ts';
import { documentClient } from './aws-clients.ts';
import { config } from './config.ts';

/** The lease item: a conditional put to take it, a delete to give it back. */
export const WATCHDOG_LEASE_ACCESS = access(grant('table:control', 'dynamodb', 'PutItem', 'DeleteItem'));

export const WATCHDOG_LEASE_ID = 'watchdog#lease';

/** Past this the control table's TTL may delete a lease its holder never released. */
const TTL_GRACE_SECONDS = 3600;

/**
 * Takes the lease until `untilMs` (epoch ms) for `holder`; false when another holder has
 * an unexpired one.
 */
export async function acquireWatchdogLease(holder: string, untilMs: number, now: number = Date.now()): Promise<boolean> {
  try {
    await documentClient().send(new PutCommand({
      TableName: config().controlTable,
      Item: { id: WATCHDOG_LEASE_ID, holder, leaseUntil: untilMs, acquiredAt: new Date(now).toISOString(), expiration: Math.ceil(untilMs / 1000) + TTL_GRACE_SECONDS },
      ConditionExpression: 'attribute_not_exists(id) OR leaseUntil < :now',
      ExpressionAttributeValues: { ':now': now },
    }));
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

/** Gives the lease back, unless another holder took it meanwhile (ours had expired). */
export async function releaseWatchdogLease(holder: string): Promise<void> {
  try {
    await documentClient().send(new DeleteCommand({
      TableName: config().controlTable, Key: { id: WATCHDOG_LEASE_ID },
      ConditionExpression: 'holder = :h', ExpressionAttributeValues: { ':h': holder },
    }));
  } catch (e) {
    if (!(e instanceof ConditionalCheckFailedException)) throw e;
  }
}
