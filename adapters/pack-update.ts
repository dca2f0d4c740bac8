/**
 * A pack update typed against the pack record (core/job.ts), and the DynamoDB
 * UpdateExpression it compiles to, as adapters/job-update.ts does for jobs: whole fields
 * are `set`, the run counter is `increment`ed, and the status moves only from the statuses
 * given. Fields with writers of their own stay out: the keys, the stamp, the erasure mark
 * (adapters/pack-erasure.ts) and the webhook's dead letters (adapters/webhook-delivery.ts).
 */
import type { PackRecord } from '../core/job.ts';
import type { PackStatus } from '../core/status.ts';
import { UpdateExpression, definedEntries, type CompiledUpdate } from './update-expression.ts';

type Settable = Omit<PackRecord, 'packId' | 'kind' | 'status' | 'createdAt' | 'updatedAt' | 'erasure' | 'webhookFailures' | 'webhookFailureCount'>;
export type PackSet = Partial<Settable>;

export interface PackUpdate {
  readonly set?: PackSet;
  /** New status. */
  readonly status?: PackStatus;
  /** Statuses the pack may be in; any when omitted. */
  readonly from?: readonly PackStatus[];
  /** Counters added to (from 0 when absent). */
  readonly increment?: { readonly runs?: number };
}

/** The UpdateExpression and ConditionExpression of one update, stamped `now`; the pack must exist. */
export function compilePackUpdate(u: PackUpdate, now: string): CompiledUpdate {
  const x = new UpdateExpression('packId', now);
  for (const [k, v] of definedEntries({ ...u.set, ...(u.status && { status: u.status }) })) x.set([k], v);
  for (const [k, v] of definedEntries(u.increment)) x.add([k], v as number);
  if (u.from) x.oneOf(['status'], u.from);
  return x.compile();
}
