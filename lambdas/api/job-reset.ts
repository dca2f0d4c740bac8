/**
 * Putting a job back to pending for another run (restart, retry, resume), and undoing
 * that when its run cannot start. Checkpoints stay unless the job is run from scratch.
 */
import type { JobRecord } from '../../core/job.ts';
import { PipelineError } from '../../core/errors.ts';
import { findJob, updateJob, updateJobAndRead } from '../../adapters/job-store.ts';
import type { JobSet, OptionalJobField } from '../../adapters/job-update.ts';
import { conflict } from './errors.ts';

export interface ResetOptions {
  /** Attempt counters, recovery budget and tried models start again. */
  readonly resetBounds: boolean;
  /** Checkpoints, outputs and QA report are dropped: the job runs from its first stage. */
  readonly fromScratch?: boolean;
  /**
   * The execution about to run the job, recorded on it before it starts, and only on the
   * record as read: of simultaneous callers exactly one claims the job, and the others (even
   * those that read it once it was pending) see it taken.
   */
  readonly claimFor?: string;
}

/** Fields a reset may change, so an undo can put them back: those it may remove, and those it may set. */
const RESET_OPTIONAL = ['error', 'needsIntervention', 'executionArn', 'qaReport', 'watchdogRestarts'] as const satisfies readonly OptionalJobField[];

export async function resetToPending(job: JobRecord, o: ResetOptions): Promise<JobRecord> {
  const set: { -readonly [K in keyof JobSet]: JobSet[K] } = {};
  // Without its owner, a run that was stopped but whose function is still finishing can no
  // longer write to the job (updateJob's owner condition); the next run claims it afresh.
  const remove: OptionalJobField[] = ['error', 'needsIntervention'];
  if (o.claimFor === undefined) remove.push('executionArn');
  else set.executionArn = o.claimFor;
  if (o.resetBounds) Object.assign(set, { attempts: {}, recoveriesUsed: 0, triedModels: [], watchdogRestarts: 0 });
  if (o.fromScratch) {
    Object.assign(set, { checkpoints: {}, outputs: {} });
    remove.push('qaReport');
  }
  // Every write stamps updatedAt, so the one read stands for the whole record.
  const asRead = o.claimFor === undefined ? {} : { unchangedSince: job.updatedAt };
  try {
    // Only from the status the caller saw: a job that moved meanwhile is not reset blindly.
    return await updateJobAndRead(job.jobId, { to: 'pending', from: [job.status], set, remove, ...asRead });
  } catch (e) {
    if (!(e instanceof PipelineError)) throw e;
    const now = await findJob(job.jobId);
    if (now?.status === 'pending' && o.claimFor === undefined) return now;
    throw conflict('JobChanged', `Job ${job.jobId} changed while being reset (now ${now?.status ?? 'gone'}); read it again`);
  }
}

/** Puts a job back as it was before resetToPending (best effort: its run did not start). */
export async function undoReset(before: JobRecord): Promise<void> {
  const { attempts, recoveriesUsed, triedModels, checkpoints, outputs } = before;
  const set: JobSet = {
    attempts, recoveriesUsed, triedModels, checkpoints, outputs,
    ...Object.fromEntries(RESET_OPTIONAL.flatMap((f) => (before[f] === undefined ? [] : [[f, before[f]]]))),
  };
  const remove = RESET_OPTIONAL.filter((f) => before[f] === undefined);
  await updateJob(before.jobId, { to: before.status, from: ['pending'], set, remove });
}
