/**
 * GPU worker presence in the control table (`worker#<workerId>`): each worker refreshes its
 * item well inside a lease while it runs and deletes it when it stops on purpose. An item
 * whose lease lapsed was left by a worker that died (SIGKILL, crash, lost host): GET /health
 * counts it as lost capacity until a worker with the same id takes it back or it is
 * forgotten. No Lambda-only imports: the worker (bin/worker.ts) uses it.
 */
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { access, grant } from './access.ts';
import { documentClient } from './aws-clients.ts';

export const PRESENCE_PREFIX = 'worker#';
/** Each worker puts its own presence item and deletes it when it stops on purpose. */
export const WORKER_PRESENCE_ACCESS = access(grant('table:control', 'dynamodb', 'PutItem', 'DeleteItem'));

export const presenceId = (workerId: string) => `${PRESENCE_PREFIX}${workerId}`;

/** How long DynamoDB keeps a lapsed item (TTL) after its lease, so health can report the loss. */
const KEEP_AFTER_LEASE_SECONDS = 24 * 3600;
const WRITE_TIMEOUT_MS = 5000;

export interface PresenceOptions {
  readonly table: string;
  readonly workerId: string;
  /** The ComfyUI host the worker drives (host:port). */
  readonly host: string;
  /** Jobs the worker holds at once. */
  readonly slots: number;
  /** The item counts as alive this long after each refresh; refreshed every third of it. */
  readonly leaseMs: number;
  readonly client?: DynamoDBDocumentClient;
  readonly now?: () => number;
  /** Told when a refresh could not be written (the worker keeps working). */
  readonly onError?: (e: unknown) => void;
}

export interface Presence {
  /** Stops refreshing and deletes the item: the worker left on purpose. */
  leave(): Promise<void>;
}

export async function startPresence(o: PresenceOptions): Promise<Presence> {
  const client = () => o.client ?? documentClient();
  const now = () => o.now?.() ?? Date.now();
  const startedAt = new Date(now()).toISOString();
  const beat = async () => {
    const at = now();
    const expiresAt = at + o.leaseMs;
    await client().send(new PutCommand({
      TableName: o.table,
      Item: {
        id: presenceId(o.workerId), workerId: o.workerId, host: o.host, slots: o.slots,
        startedAt, seenAt: new Date(at).toISOString(), expiresAt,
        expiration: Math.ceil(expiresAt / 1000) + KEEP_AFTER_LEASE_SECONDS,
      },
    }), { abortSignal: AbortSignal.timeout(WRITE_TIMEOUT_MS) });
  };
  await beat();
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    inFlight = beat().catch((e: unknown) => o.onError?.(e));
  }, Math.max(50, Math.round(o.leaseMs / 3)));
  timer.unref();
  return {
    async leave() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await client().send(new DeleteCommand({ TableName: o.table, Key: { id: presenceId(o.workerId) } }), { abortSignal: AbortSignal.timeout(WRITE_TIMEOUT_MS) });
    },
  };
}
