/**
 * What a taught pattern would change among recorded failures: the failed jobs whose stored
 * failure it matches, each with its name before and after, and whether deferred recovery
 * could then re-run it (a temporary cause, re-runs left: core/deferred-recovery.ts).
 */
import { extractFacts } from './classifier-facts.ts';
import { DEFERRED_FN, isDeferrable } from './deferred-recovery.ts';
import type { JobRecord } from './job.ts';
import type { Stage } from './strategies.ts';
import { taughtMatcher, type TaughtPatternSpec } from './taught-patterns.ts';
import { entryFor } from './taxonomy.ts';

export type RecordedFailure = Pick<JobRecord, 'jobId' | 'packId' | 'status' | 'error' | 'recoveries' | 'deferredReruns'>;

export interface NameChange {
  readonly name: string;
  readonly recoverable: boolean;
}

export interface DryRunMatch {
  readonly jobId: string;
  readonly packId: string;
  readonly failedAt: string | null;
  readonly stage: Stage | null;
  readonly before: NameChange;
  readonly after: NameChange;
  /** Deferred recovery would re-run it under its new name: a temporary cause with re-runs left. */
  readonly rerunnable: boolean;
  /** The fragment of the stored failure that matched. */
  readonly matched: string;
}

/** The stage a recorded failure was met in: its newest failed ledger entry's (deferred re-runs name none). */
export function failureStage(job: Pick<JobRecord, 'recoveries'>): Stage | null {
  return [...(job.recoveries ?? [])].reverse().find((r) => r.outcome === 'failed' && r.fn !== DEFERRED_FN)?.stage ?? null;
}

const nameChange = (name: string): NameChange => ({ name, recoverable: entryFor(name).recoverable });

/** The failures `pattern` matches, in the order given; `maxReruns` is deferred recovery's bound. */
export function dryRunTaught(failures: readonly RecordedFailure[], pattern: TaughtPatternSpec, maxReruns: number): DryRunMatch[] {
  const matcher = taughtMatcher({ ...pattern, id: 'candidate' });
  const out: DryRunMatch[] = [];
  for (const job of failures) {
    if (job.status !== 'failed' || job.error === undefined) continue;
    const stage = failureStage(job);
    const hit = matcher.test(extractFacts(job.error.cause), { stage });
    if (hit === null) continue;
    out.push({
      jobId: job.jobId, packId: job.packId, failedAt: job.error.at ?? null, stage,
      before: nameChange(job.error.name), after: nameChange(pattern.name),
      rerunnable: isDeferrable(pattern.name) && (job.deferredReruns ?? 0) < maxReruns,
      matched: hit.slice(0, 200),
    });
  }
  return out;
}
