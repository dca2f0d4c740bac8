/**
 * What AWS access a piece of code needs, declared beside the code that makes the calls.
 * The CDK stack grants exactly these (lib/grants.ts) and the offline stack refuses any call
 * the synthesized policies do not allow (local/iam/), so a missing grant fails offline as it
 * would on AWS. Names are IAM's: `dynamodb:PutItem` on `table:control`.
 */
import type { BUCKETS, EVENT_BUS, QUEUES, SECRETS, STATE_MACHINES, TABLES } from '../core/resources.ts';

type TableKey = keyof typeof TABLES;
export type QueueKey = keyof typeof QUEUES | `${keyof typeof QUEUES}DeadLetter`;
export type SecretKey = keyof typeof SECRETS;
type MachineKey = keyof typeof STATE_MACHINES;

/**
 * What a grant is on: a table, one of its indexes, objects of the artifacts bucket matching
 * a key pattern, the bucket itself, a queue (or its dead-letter queue), a state machine, its
 * executions, a secret (the hosted inpaint API key, the webhook signing key), the lifecycle
 * events bus, or `*` (actions without resource-level permissions).
 */
export type AccessTarget =
  | `table:${TableKey}`
  | `index:${TableKey}/${string}`
  | `objects:${keyof typeof BUCKETS}/${string}`
  | `bucket:${keyof typeof BUCKETS}`
  | `queue:${QueueKey}`
  | `stateMachine:${MachineKey}`
  | `executions:${MachineKey}`
  | `secret:${SecretKey}`
  | `bus:${(typeof EVENT_BUS)['name']}`
  | '*';

export interface AccessGrant {
  readonly on: AccessTarget;
  /** IAM actions, e.g. `dynamodb:GetItem`. */
  readonly actions: readonly string[];
}

/** A set of grants, at most one per target, actions sorted. */
export type Access = readonly AccessGrant[];

/** The union of grants and access sets, merged per target. */
export function access(...parts: readonly (Access | AccessGrant)[]): Access {
  const merged = new Map<AccessTarget, Set<string>>();
  for (const g of parts.flatMap((p): readonly AccessGrant[] => ('on' in p ? [p] : p))) {
    const set = merged.get(g.on) ?? new Set<string>();
    for (const a of g.actions) set.add(a);
    merged.set(g.on, set);
  }
  return [...merged].sort(([a], [b]) => a.localeCompare(b)).map(([on, actions]) => ({ on, actions: [...actions].sort() }));
}

/** Shorthand: these actions of one service on one target (`grant('table:jobs', 'dynamodb', 'GetItem')`). */
export function grant(on: AccessTarget, service: string, ...actions: readonly string[]): AccessGrant {
  return { on, actions: actions.map((a) => `${service}:${a}`) };
}
