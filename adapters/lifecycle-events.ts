/**
 * Puts lifecycle events on the pipeline's event bus, each transition once. The emission
 * follows the conditional write that made the transition; a retried Lambda whose write
 * already happened, or a second path announcing the same outcome (PackFinalize and the
 * watchdog's settlement), meets the event id already claimed in the control table and
 * emits nothing. When the bus is not configured (EVENT_BUS_NAME unset) nothing is emitted.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { EVENT_SOURCE, detailTypeOf, type LifecycleDetail } from '../core/lifecycle.ts';
import { EVENT_BUS } from '../core/resources.ts';
import { access, grant } from './access.ts';
import { documentClient, eventBridgeClient } from './aws-clients.ts';
import { config } from './config.ts';
import { logger } from './logging.ts';
import { addPoint } from './metric-points.ts';
import { onReset } from './process-caches.ts';

/** Each event id is claimed once in the control table, then put on the bus. */
export const LIFECYCLE_EVENTS_ACCESS = access(grant('table:control', 'dynamodb', 'PutItem', 'DeleteItem'), grant('bus:events', 'events', 'PutEvents'));

export const EVENT_BUS_ENV = EVENT_BUS.envVar;
export const API_URL_ENV = 'VTO_API_URL';
/** How long a claimed event id is remembered: far beyond any Lambda retry. */
const CLAIM_SECONDS = 7 * 86_400;

const settingsSchema = z.object({
  [EVENT_BUS_ENV]: z.string().min(1).optional(),
  [API_URL_ENV]: z.url().optional(),
});

let settings: { bus: string | undefined; apiUrl: string | undefined } | undefined;

function eventSettings() {
  if (settings) return settings;
  const r = settingsSchema.safeParse(process.env);
  if (!r.success) {
    // Called after a transition was written: a bad setting silences events, it never fails the write.
    logger.error('lifecycle events are off: invalid environment', { issues: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    settings = { bus: undefined, apiUrl: undefined };
    return settings;
  }
  settings = { bus: r.data[EVENT_BUS_ENV], apiUrl: r.data[API_URL_ENV]?.replace(/\/+$/, '') };
  return settings;
}

/** The API URL events link to (undefined: links are paths). */
export const eventApiUrl = () => eventSettings().apiUrl;

/** Tests that change the environment call it (the client's endpoint is reset with the others, resetClients). */
export function resetEventSettings(): void {
  settings = undefined;
}
onReset(resetEventSettings);

const claimId = (eventId: string) => `lifecycle#${eventId}`;

async function claim(eventId: string): Promise<boolean> {
  try {
    await documentClient().send(new PutCommand({
      TableName: config().controlTable,
      Item: { id: claimId(eventId), expiration: Math.floor(Date.now() / 1000) + CLAIM_SECONDS },
      ConditionExpression: 'attribute_not_exists(id)',
    }));
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return false;
    throw e;
  }
}

/**
 * Emits one lifecycle event unless its id was emitted before. Never throws: the
 * transition it announces has happened and must not be undone by a notification; a lost
 * event is logged and counted (LifecycleEventsLost).
 */
export async function emitLifecycle(detail: LifecycleDetail | undefined): Promise<void> {
  if (detail === undefined) return;
  const { bus } = eventSettings();
  if (bus === undefined) return;
  let claimed = false;
  try {
    claimed = await claim(detail.eventId);
    if (!claimed) return;
    const res = await eventBridgeClient().send(new PutEventsCommand({
      Entries: [{ EventBusName: bus, Source: EVENT_SOURCE, DetailType: detailTypeOf(detail.type), Detail: JSON.stringify(detail), Time: new Date(detail.occurredAt) }],
    }), { abortSignal: AbortSignal.timeout(15_000) });
    if ((res.FailedEntryCount ?? 0) > 0) throw new Error(`PutEvents refused the event: ${res.Entries?.[0]?.ErrorCode ?? 'unknown'} ${res.Entries?.[0]?.ErrorMessage ?? ''}`);
  } catch (e) {
    // Unclaim so a later emission of the same transition (a settlement) may still announce it.
    if (claimed) await documentClient().send(new DeleteCommand({ TableName: config().controlTable, Key: { id: claimId(detail.eventId) } })).catch(() => undefined);
    logger.error('a lifecycle event could not be emitted', { eventId: detail.eventId, error: e as Error });
    addPoint('LifecycleEventsLost', 1);
  }
}
