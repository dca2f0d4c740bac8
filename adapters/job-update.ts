/**
 * A job update typed against the job record (core/job.ts), and the DynamoDB UpdateExpression
 * it compiles to. Field names are checked by TypeScript: a whole field is `set`, a member of
 * one of the record's maps is set through `setIn`, a counter through `increment`, and only
 * optional fields may be removed. No caller writes an attribute path as a string.
 */
import type { AttemptKey, JobRecord, RecoveryEntry } from '../core/job.ts';
import { allowedSources, type JobStatus } from '../core/status.ts';
import { UpdateExpression, definedEntries, type CompiledUpdate } from './update-expression.ts';

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

/** The UpdateExpression and ConditionExpression of one update, stamped `now`. */
export function compileJobUpdate(u: JobUpdate, now: string): CompiledUpdate {
  const x = new UpdateExpression('jobId', now);
  if (u.to) {
    x.set(['status'], u.to);
    x.oneOf(['status'], u.from ?? allowedSources(u.to));
  }
  if (u.owner) x.condition(`${x.name('executionArn')} = ${x.value(u.owner)}`);
  if (u.claim) x.set(['executionArn'], u.claim);
  if (u.unchangedSince !== undefined) x.condition(`#updatedAt = ${x.value(u.unchangedSince)}`);
  for (const [k, v] of definedEntries(u.set)) x.set([k], v);
  for (const [map, members] of definedEntries(u.setIn)) {
    for (const [k, v] of definedEntries(members)) x.set([map, k], v);
  }
  const { attempts, ...counters } = u.increment ?? {};
  for (const [k, v] of definedEntries(counters)) x.add([k], v as number);
  for (const [k, v] of definedEntries(attempts)) x.add(['attempts', k], v as number);
  if (u.append) {
    const recoveries = x.name('recoveries');
    x.setClause(`${recoveries} = list_append(if_not_exists(${recoveries}, ${x.value([])}), ${x.value([u.append])})`);
  }
  for (const k of u.remove ?? []) x.remove([k]);
  for (const [map, members] of definedEntries(u.removeIn)) for (const k of members as readonly string[]) x.remove([map, k]);
  return x.compile();
}
