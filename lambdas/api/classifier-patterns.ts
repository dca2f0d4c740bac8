/**
 * GET/POST /classifier/patterns, POST /classifier/patterns/dry-run, DELETE
 * /classifier/patterns/{id}: operators teach the classifier (core/taught-patterns.ts).
 *
 * Recorded failures are the newest failed jobs, found through the byStatus index (ids only)
 * and read again consistently. Saving may reclassify them: each matched job's stored
 * failure takes the new name, written only if the job is unchanged since it was read; with
 * `recorded: rerun`, deferred recovery then looks at those jobs at once, under all its rules.
 */
import { deferredSettings } from '../../core/deferred-recovery.ts';
import { PipelineError } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import { dryRunTaught, type DryRunMatch } from '../../core/taught-dry-run.ts';
import { TaughtPatternError, addTaught, removeTaught, type TaughtPattern, type TaughtPatternSpec, type TaughtSet } from '../../core/taught-patterns.ts';
import { entryFor } from '../../core/taxonomy.ts';
import { access } from '../../adapters/access.ts';
import { EMERGENCY_STOP_FLAG, JOB_STORE_ACCESS, getFlag, getJobsInOrder, jobIdsByStatus, updateJob } from '../../adapters/job-store.ts';
import { logger } from '../../adapters/logging.ts';
import { forgetTaughtPatterns, taughtPatternStore } from '../../adapters/taught-classifier.ts';
import { TAUGHT_PATTERNS_ACCESS, TaughtPatternsConflictError } from '../../adapters/taught-patterns.ts';
import { WATCHDOG_DEFERRED_ACCESS, deferredSweep } from '../../adapters/watchdog-deferred.ts';
import { watchdogSettingsFromEnv } from '../../adapters/watchdog-settings.ts';
import { ApiError, conflict } from './errors.ts';
import type { Operation } from './operation.ts';

/** The set itself; failed jobs by the status index, read and reclassified; re-runs through deferred recovery. */
export const CLASSIFIER_PATTERNS_ACCESS = access(
  TAUGHT_PATTERNS_ACCESS.write, JOB_STORE_ACCESS.jobsByStatus,
  JOB_STORE_ACCESS.readJobs, JOB_STORE_ACCESS.writeJob, JOB_STORE_ACCESS.readFlag, WATCHDOG_DEFERRED_ACCESS,
);

const spec = (b: TaughtPatternSpec): TaughtPatternSpec => ({
  name: b.name, match: b.match, pattern: b.pattern, ignoreCase: b.ignoreCase,
  ...(b.stage !== undefined && { stage: b.stage }), ...(b.note !== undefined && { note: b.note }),
});

/** The newest `limit` failed jobs as they are now, and whether older ones exist. */
async function recordedFailures(limit: number): Promise<{ jobs: JobRecord[]; more: boolean }> {
  const { ids, more } = await jobIdsByStatus('failed', { newestFirst: true, limit });
  // The index may lag: a job no longer failed is left out by the dry run itself.
  return { jobs: await getJobsInOrder(ids), more };
}

const maxReruns = () => deferredSettings(watchdogSettingsFromEnv()).maxReruns;

export const dryRunClassifierPattern: Operation<'dryRunClassifierPattern'> = async (req) => {
  const pattern = spec(req.body);
  const { jobs, more } = await recordedFailures(req.body.limit);
  const matches = dryRunTaught(jobs, pattern, maxReruns());
  return {
    status: 200,
    body: {
      pattern, scanned: jobs.length, more, matches,
      changed: matches.filter((m) => m.before.name !== m.after.name).length,
      rerunnable: matches.filter((m) => m.rerunnable).length,
    },
  };
};

const listBody = (set: TaughtSet) => ({
  version: set.version, updatedBy: set.updatedBy, updatedAt: set.updatedAt,
  patterns: set.patterns.map((p) => ({ ...p })), history: set.history.map((h) => ({ ...h })),
});

export const listClassifierPatterns: Operation<'listClassifierPatterns'> = async () => ({ status: 200, body: listBody(await taughtPatternStore.read()) });

async function changeSet<T>(change: (set: TaughtSet) => { set: TaughtSet; result: T }): Promise<{ set: TaughtSet; result: T }> {
  try {
    const out = await taughtPatternStore.change(change);
    forgetTaughtPatterns();
    return out;
  } catch (e) {
    if (e instanceof TaughtPatternsConflictError) throw conflict('PatternsChanged', e.message);
    if (e instanceof TaughtPatternError) {
      if (e.code === 'PatternNotFound') throw new ApiError(404, 'NotFound', e.message);
      throw conflict(e.code, e.message);
    }
    throw e;
  }
}

/** The matched job's stored failure under the new name, if the job is as it was read. */
async function reclassify(job: JobRecord, m: DryRunMatch, pattern: TaughtPattern, by: string): Promise<boolean> {
  if (job.error === undefined || m.before.name === m.after.name) return false;
  const at = new Date().toISOString();
  try {
    await updateJob(job.jobId, {
      unchangedSince: job.updatedAt,
      set: {
        error: { ...job.error, name: m.after.name },
        needsIntervention: !entryFor(m.after.name).recoverable,
        reclassified: { from: m.before.name, to: m.after.name, pattern: pattern.id, by, at },
      },
    });
    return true;
  } catch (e) {
    // The job moved (a retry, a re-run) since it was read: its failure is no longer this one.
    if (e instanceof PipelineError) return false;
    throw e;
  }
}

export const addClassifierPattern: Operation<'addClassifierPattern'> = async (req) => {
  const now = new Date().toISOString();
  const { set, result: added } = await changeSet((s) => {
    const r = addTaught(s, spec(req.body), req.caller, now);
    return { set: r.set, result: r.added };
  });
  const recorded = req.body.recorded;
  const { jobs } = recorded === 'leave' ? { jobs: [] } : await recordedFailures(req.body.limit);
  const matches = dryRunTaught(jobs, added, maxReruns());
  const byId = new Map(jobs.map((j) => [j.jobId, j]));
  const reclassified: string[] = [];
  for (const m of matches) {
    const job = byId.get(m.jobId);
    if (job !== undefined && (await reclassify(job, m, added, req.caller))) reclassified.push(m.jobId);
  }
  let reruns: { jobId: string; action: 'rerun' | 'leave' | 'skipped' | 'error'; reason: string }[] = [];
  if (recorded === 'rerun') {
    const rerunnable = matches.filter((m) => m.rerunnable && reclassified.includes(m.jobId)).map((m) => m.jobId);
    const settings = watchdogSettingsFromEnv();
    const stopped = (await getFlag(EMERGENCY_STOP_FLAG))?.['active'] === true;
    const why = stopped ? 'the pipeline is emergency-stopped' : settings.deferredRecovery ? null : 'deferred recovery is off (VTO_DEFERRED_RECOVERY)';
    if (why !== null) {
      reruns = rerunnable.map((jobId) => ({ jobId, action: 'leave' as const, reason: why }));
    } else if (rerunnable.length > 0) {
      const report = await deferredSweep(settings, Date.now(), rerunnable);
      reruns = report.reruns.map((r) => ({ jobId: r.jobId, action: r.action, reason: r.reason }));
    }
  }
  logger.info('classifier pattern taught', { id: added.id, name: added.name, by: req.caller, version: set.version, reclassified: reclassified.length, reruns: reruns.length });
  return { status: 200, body: { version: set.version, pattern: { ...added }, scanned: jobs.length, matches, reclassified, reruns } };
};

export const removeClassifierPattern: Operation<'removeClassifierPattern'> = async (req) => {
  const { set, result: removed } = await changeSet((s) => {
    const r = removeTaught(s, req.pathParams.id, req.caller, new Date().toISOString());
    return { set: r.set, result: r.removed };
  });
  logger.info('classifier pattern removed', { id: removed.id, by: req.caller, version: set.version });
  return { status: 200, body: { version: set.version, removed: { ...removed } } };
};
