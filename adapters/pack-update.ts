/**
 * A pack update typed against the pack record (core/job.ts), and the DynamoDB
 * UpdateExpression it compiles to, as adapters/job-update.ts does for jobs: whole fields
 * are `set`, the run counter is `increment`ed, and the status moves only from the statuses
 * given. Fields with writers of their own stay out: the keys, the stamp, the erasure mark
 * (adapters/pack-erasure.ts) and the webhook's dead letters (adapters/webhook-delivery.ts).
 */
import type { PackRecord } from '../core/job.ts';
import type { PackStatus } from '../core/status.ts';

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

export interface CompiledPackUpdate {
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

const defined = <T extends object>(o: T | undefined) =>
  Object.entries(o ?? {}).filter((e): e is [string, NonNullable<unknown>] => e[1] !== undefined);

/** The UpdateExpression and ConditionExpression of one update, stamped `now`; the pack must exist. */
export function compilePackUpdate(u: PackUpdate, now: string): CompiledPackUpdate {
  const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
  const values: Record<string, unknown> = { ':now': now };
  const sets = ['#updatedAt = :now'];
  const conditions = ['attribute_exists(packId)'];
  let i = 0;
  const name = (k: string) => {
    const key = `#k${i++}`;
    names[key] = k;
    return key;
  };
  const value = (v: unknown) => {
    const key = `:v${i++}`;
    values[key] = v;
    return key;
  };
  for (const [k, v] of defined({ ...u.set, ...(u.status && { status: u.status }) })) sets.push(`${name(k)} = ${value(v)}`);
  for (const [k, v] of defined(u.increment)) {
    const n = name(k);
    sets.push(`${n} = if_not_exists(${n}, ${value(0)}) + ${value(v)}`);
  }
  if (u.from) conditions.push(`${name('status')} IN (${u.from.map(value).join(', ')})`);
  return {
    UpdateExpression: `SET ${sets.join(', ')}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}
