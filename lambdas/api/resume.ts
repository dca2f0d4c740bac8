/**
 * POST /resume: gather what the emergency stop left unfinished while nothing can start
 * (every job not terminal, by the byStatus index, and the packs the stop remembered),
 * clear the flag (conditionally: one resume wins), then run it again. Jobs go back to
 * pending with their checkpoints and counters, so each resumes where it stopped; a pack
 * runs again as a whole, a job whose pack had ended runs alone.
 */
import { jobExecutionName, type JobRecord } from '../../core/job.ts';
import { JOB_STATUSES, TERMINAL_JOB_STATUSES } from '../../core/status.ts';
import { forgetStopFlag } from '../../adapters/control.ts';
import { EMERGENCY_STOP_FLAG, getFlag, getJobs, jobIdsByStatus, updateJob } from '../../adapters/job-store.ts';
import { logger } from '../../adapters/logging.ts';
import { conflict } from './errors.ts';
import { startNamedRun } from './executions.ts';
import { resetToPending } from './job-reset.ts';
import { mapLimit } from './map-limit.ts';
import type { Operation } from './operation.ts';
import { RUNNING_PACK_STATUSES, claimPack, startPackRun } from './pack-run.ts';
import { clearEmergencyStopIfSet, findPack, stoppedPacksOf } from './store.ts';

const UNFINISHED = JOB_STATUSES.filter((s) => !TERMINAL_JOB_STATUSES.includes(s));
const CONCURRENCY = 8;

/** A pack in one of these statuses is re-run as a whole (nothing runs it while stopped). */
const RERUN_PACK_STATUSES = [...RUNNING_PACK_STATUSES, 'stopped'] as const;

export const resume: Operation<'resume'> = async () => {
  const flag = await getFlag(EMERGENCY_STOP_FLAG);
  if (flag?.['active'] !== true) throw conflict('NotEmergencyStopped', 'The pipeline is not emergency-stopped');
  const ids = (await Promise.all(UNFINISHED.map(async (s) => (await jobIdsByStatus(s)).ids))).flat();
  // The index may lag: the jobs as they are now, those still unfinished.
  const stranded = (await getJobs(ids)).filter((j) => UNFINISHED.includes(j.status));
  const packIds = [...new Set([...stoppedPacksOf(flag), ...stranded.map((j) => j.packId)])];
  if (!(await clearEmergencyStopIfSet())) throw conflict('NotEmergencyStopped', 'Another resume cleared the emergency stop first');
  forgetStopFlag();

  const byPack = new Map<string, JobRecord[]>();
  for (const j of stranded) byPack.set(j.packId, [...(byPack.get(j.packId) ?? []), j]);
  const packsResumed: string[] = [];
  const failures: { id: string; message: string }[] = [];
  let jobsResumed = 0;

  await mapLimit(packIds, CONCURRENCY, async (packId) => {
    const jobs = byPack.get(packId) ?? [];
    try {
      const pack = await findPack(packId);
      if (!pack) return;
      if ((RERUN_PACK_STATUSES as readonly string[]).includes(pack.status)) {
        await mapLimit(jobs, CONCURRENCY, (j) => resetToPending(j, { resetBounds: false }));
        if (pack.status !== 'pending') await claimPack(pack);
        await startPackRun({ ...pack, status: 'pending' }, pack.status);
        packsResumed.push(packId);
        jobsResumed += jobs.length;
        return;
      }
      // The pack had ended: these jobs were retried on their own, and run on their own again.
      for (const j of jobs) {
        await resumeJob(j);
        jobsResumed++;
      }
    } catch (e) {
      logger.error('could not resume', { packId, error: e as Error });
      failures.push({ id: packId, message: e instanceof Error ? e.message : String(e) });
    }
  });
  return { status: 202, body: { emergencyStopped: false, packsResumed: packsResumed.sort(), jobsResumed, failures } };
};

async function resumeJob(j: JobRecord): Promise<void> {
  const reset = await resetToPending(j, { resetBounds: false });
  let runs = reset.runs;
  await startNamedRun('job', () => jobExecutionName({ jobId: j.jobId, runs }), { packId: j.packId, jobId: j.jobId }, async () => {
    await updateJob(j.jobId, { increment: { runs: 1 } });
    runs++;
  });
}
