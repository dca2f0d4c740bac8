/**
 * The recovery ledger: every failure a job meets is appended to its history as
 * `pending`, and resolved `recovered` when the failing step later succeeds (or a later
 * stage does), or `failed` when the job fails. Each resolution is also a recovery event,
 * so statistics read events, not jobs.
 */
import type { JobRecord, RecoveryEntry, RecoveryOutcome } from '../core/job.ts';
import { STAGES, type Stage } from '../core/strategies.ts';
import { entryFor } from '../core/taxonomy.ts';
import { JOB_STORE_ACCESS, putEvent, resolveRecoveries, updateJob } from './job-store.ts';
import { access } from './access.ts';
import { logger } from './logging.ts';
import { publishPoints } from './metric-points.ts';

export const LEDGER_ACCESS = access(JOB_STORE_ACCESS.writeJob, JOB_STORE_ACCESS.writeEvent);

const stageIndex = (s: Stage | null) => (s === null ? -1 : STAGES.indexOf(s));
const CAUSE_CHARS = 1000;

/** Pending entries that a success of `fn` at `stage` cures. */
export function curedBy(job: JobRecord, fn: string, stage: Stage | null): number[] {
  if (stage === null) return [];
  return job.recoveries.flatMap((r, i) =>
    r.outcome === 'pending' && (r.fn === fn || stageIndex(r.stage) < stageIndex(stage)) ? [i] : []);
}

export async function resolve(job: JobRecord, indexes: number[], outcome: RecoveryOutcome): Promise<void> {
  if (indexes.length === 0) return;
  await resolveRecoveries(job.jobId, indexes.map((index) => ({ index, at: job.recoveries[index]!.at })), outcome);
  const now = new Date();
  for (const i of indexes) {
    const r = job.recoveries[i]!;
    // Recoveries by error name and strategy, and time to recover: the dashboard's recovery rate.
    publishPoints({ error: r.error, strategy: r.strategy, outcome }, ['Recoveries', 1],
      ...(outcome === 'recovered' ? [['TimeToRecover', now.getTime() - Date.parse(r.at)] as const] : []));
  }
  await Promise.all(indexes.map((i) => {
    const r = job.recoveries[i]!;
    return putEvent({
      kind: outcome === 'recovered' ? 'recovered' : 'failed', at: now.toISOString(), packId: job.packId, jobId: job.jobId,
      error: r.error, strategy: r.strategy, ...(outcome === 'recovered' && { timeToRecoverMs: now.getTime() - Date.parse(r.at) }),
    });
  }));
}

/** Records a failure met by `fn`; returns the entry appended. Never throws over the original error. */
export async function recordFailure(job: JobRecord, failure: { error: string; cause: string; fn: string; stage: Stage | null; detail?: string }): Promise<RecoveryEntry | undefined> {
  const { strategy } = entryFor(failure.error);
  const entry: RecoveryEntry = {
    at: new Date().toISOString(),
    error: failure.error,
    strategy,
    fn: failure.fn,
    stage: failure.stage,
    attempt: (job.attempts[strategy] ?? 0) + 1,
    cause: failure.cause.slice(0, CAUSE_CHARS),
    ...(failure.detail !== undefined && { detail: failure.detail }),
    outcome: 'pending',
  };
  try {
    await updateJob(job.jobId, { append: entry });
    await putEvent({ kind: 'error', at: entry.at, packId: job.packId, jobId: job.jobId, error: entry.error, strategy });
    return entry;
  } catch (e) {
    logger.warn('could not record a failure in the ledger', { jobId: job.jobId, error: e as Error });
    return undefined;
  }
}

/**
 * The entry a failing function appended for this very failure, if any: the newest entry,
 * still pending, for the same error, written by a function (the GPU worker and Step
 * Functions' own timeouts write none, so their failures are recorded by the strategy).
 */
export function pendingEntry(job: JobRecord, error: string): number | undefined {
  const i = job.recoveries.length - 1;
  const r = job.recoveries[i];
  return r !== undefined && r.outcome === 'pending' && r.error === error && r.fn !== 'GPU' ? i : undefined;
}
