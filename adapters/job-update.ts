/**
 * A job update typed against the job record (core/job.ts), and the DynamoDB UpdateExpression
 * it compiles to. Field names are checked by TypeScript: a whole field is `set`, a member of
 * one of the record's maps is set through `setIn`, a counter through `increment`, and only
 * optional fields may be removed. No caller writes an attribute path as a string.
 */
import type { AttemptKey, JobRecord, RecoveryEntry } from '../core/job.ts';
import { allowedSources, type JobStatus } from '../core/status.ts';

/** Whole fields an update may set: all but the keys, the status (`to`), the stamp and the ledger (`append`). */
type Settable = Omit<JobRecord, 'jobId' | 'packId' | 'status' | 'createdAt' | 'updatedAt' | 'recoveries' | 'recoveriesDropped'>;
export type JobSet = Partial<Settable>;

/** Members of the record's maps, set one by one (the rest of the map stays). */
export interface JobSetIn {
  readonly checkpoints?: Partial<JobRecord['checkpoints']>;
  readonly outputs?: Partial<JobRecord['outputs']>;
}

/** Counters added to (from 0 when absent). */
export interface JobIncrement {
  readonly runs?: number;
  readonly recoveriesUsed?: number;
  readonly gpuSeconds?: number;
  readonly attempts?: Partial<Record<AttemptKey, number>>;
}

/** The fields a record may lack. */
export type OptionalJobField = { [K in keyof JobRecord]-?: undefined extends JobRecord[K] ? K : never }[keyof JobRecord];

export interface JobUpdate {
  /** New status; the write fails unless the current status may move to it. */
  readonly to?: JobStatus;
  /** Statuses the job may be in; defaults to every status that may move to `to`. */
  readonly from?: readonly JobStatus[];
  /** Only this execution may write (the job's current owner). */
  readonly owner?: string;
  /** Make this execution the owner (JobStart). */
  readonly claim?: string;
  readonly set?: JobSet;
  readonly setIn?: JobSetIn;
  readonly increment?: JobIncrement;
  readonly append?: RecoveryEntry;
  readonly remove?: readonly OptionalJobField[];
  /** Members of the record's maps to drop. */
  readonly removeIn?: { readonly [M in keyof JobSetIn]?: readonly (keyof NonNullable<JobSetIn[M]>)[] };
  /** The job as read was last written at this time (every write stamps updatedAt): nothing changed it since. */
  readonly unchangedSince?: string;
}

export interface CompiledUpdate {
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

const entries = <T extends object>(o: T | undefined) =>
  Object.entries(o ?? {}).filter((e): e is [string, NonNullable<unknown>] => e[1] !== undefined);

/** The UpdateExpression and ConditionExpression of one update, stamped `now`. */
export function compileJobUpdate(u: JobUpdate, now: string): CompiledUpdate {
  const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
  const values: Record<string, unknown> = { ':now': now };
  const sets = ['#updatedAt = :now'];
  const conditions = ['attribute_exists(jobId)'];
  let i = 0;
  const name = (...path: string[]) => path.map((part) => {
    const key = `#n${i++}`;
    names[key] = part;
    return key;
  }).join('.');
  const value = (v: unknown) => {
    const key = `:v${i++}`;
    values[key] = v;
    return key;
  };
  const add = (path: string[], v: number) => {
    const p = name(...path);
    sets.push(`${p} = if_not_exists(${p}, ${value(0)}) + ${value(v)}`);
  };
  if (u.to) {
    sets.push(`${name('status')} = ${value(u.to)}`);
    const from = u.from ?? allowedSources(u.to);
    conditions.push(`${name('status')} IN (${from.map(value).join(', ')})`);
  }
  if (u.owner) conditions.push(`${name('executionArn')} = ${value(u.owner)}`);
  if (u.claim) sets.push(`${name('executionArn')} = ${value(u.claim)}`);
  if (u.unchangedSince !== undefined) conditions.push(`#updatedAt = ${value(u.unchangedSince)}`);
  for (const [k, v] of entries(u.set)) sets.push(`${name(k)} = ${value(v)}`);
  for (const [map, members] of entries(u.setIn)) {
    for (const [k, v] of entries(members)) sets.push(`${name(map, k)} = ${value(v)}`);
  }
  const { attempts, ...counters } = u.increment ?? {};
  for (const [k, v] of entries(counters)) add([k], v as number);
  for (const [k, v] of entries(attempts)) add(['attempts', k], v as number);
  if (u.append) sets.push(`${name('recoveries')} = list_append(if_not_exists(${name('recoveries')}, ${value([])}), ${value([u.append])})`);
  const remove = (u.remove ?? []).map((k) => name(k));
  for (const [map, members] of entries(u.removeIn)) for (const k of members as readonly string[]) remove.push(name(map, k));
  return {
    UpdateExpression: `SET ${sets.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}
