/**
 * What every recovery function does before applying its strategy: record the failure in
 * the ledger (unless the failing function already did), then check the strategy's bound
 * and the job's budget. An exhausted bound ends the job through "Record the failure",
 * which marks the pending entries failed.
 */
import { RecoveryExhaustedError } from '../core/errors.ts';
import type { JobRecord } from '../core/job.ts';
import type { Stage } from '../core/strategies.ts';
import { DEFAULT_STRATEGY_ATTEMPTS, JOB_RECOVERY_BUDGET, entryFor, type Strategy } from '../core/taxonomy.ts';
import type { JobIncrement } from './job-update.ts';
import { LEDGER_ACCESS, pendingEntry, recordFailure } from './ledger.ts';

export const RECOVERY_ACCESS = LEDGER_ACCESS;

export interface LastError {
  readonly Error: string;
  readonly Cause?: string | undefined;
}

/** Returns this strategy's run number for the job (1-based). */
export async function beginRecovery(job: JobRecord, lastError: LastError | undefined, strategy: Strategy, stage: Stage): Promise<number> {
  const error = lastError?.Error ?? 'Unclassified';
  if (pendingEntry(job, error) === undefined) {
    // The GPU worker or Step Functions itself (a heartbeat timeout) met this failure, not a function.
    await recordFailure(job, { error, cause: lastError?.Cause ?? '', fn: 'GPU', stage });
  }
  const entry = entryFor(error);
  const bound = entry.strategy === strategy ? entry.maxStrategyAttempts : DEFAULT_STRATEGY_ATTEMPTS;
  const done = job.attempts[strategy] ?? 0;
  if (done >= bound) {
    throw new RecoveryExhaustedError(`${error}: ${strategy} already ran ${done} of ${bound} times`, { context: { jobId: job.jobId } });
  }
  if (job.recoveriesUsed >= JOB_RECOVERY_BUDGET) {
    throw new RecoveryExhaustedError(`${error}: the job spent its recovery budget of ${JOB_RECOVERY_BUDGET}`, { context: { jobId: job.jobId } });
  }
  return done + 1;
}

/** The update that counts a strategy run against its bound and the job's budget. */
export const countRecovery = (strategy: Strategy): JobIncrement => ({ attempts: { [strategy]: 1 }, recoveriesUsed: 1 });
