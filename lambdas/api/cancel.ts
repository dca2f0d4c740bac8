/**
 * POST /jobs/{id}/cancel and POST /packs/{id}/cancel. The record changes first, by a
 * conditional write from an unfinished status: that write decides the race with the run
 * (a stage function that writes after it meets a cancelled job and stops, see
 * job-store.ts), and a second cancel finds the job already cancelled. Then the execution
 * is stopped: Step Functions closes its task token, so a GPU worker heartbeating it hears
 * TaskTimedOut and interrupts its ComfyUI prompt. Finished stages stay in place.
 */
import { PipelineError } from '../../core/errors.ts';
import { packEvent } from '../../core/lifecycle.ts';
import type { JobRecord, PackRecord } from '../../core/job.ts';
import { CANCELLABLE_JOB_STATUSES, CANCELLABLE_PACK_STATUSES, emptyCounts, isTerminalJob } from '../../core/status.ts';
import { stopExecution } from '../../adapters/job-executions.ts';
import { findJob, jobsOfPack, updateJobAndRead, updatePack } from '../../adapters/job-store.ts';
import { emitLifecycle, eventApiUrl } from '../../adapters/lifecycle-events.ts';
import { ApiError, conflict, notFound } from './errors.ts';
import { mapLimit } from './map-limit.ts';
import type { Operation } from './operation.ts';
import { jobOr404 } from './read-job.ts';
import { findPack } from './store.ts';

const STOP_CONCURRENCY = 10;
/** The error a cancelled execution ends with (its status is ABORTED; the reconciler leaves a cancelled job alone). */
const CANCEL_ERROR = 'Control.Stopped';

type CancelOutcome = { readonly job: JobRecord; readonly changed: boolean };

/**
 * Moves one job to cancelled and stops the run that owns it. `changed` is false when it
 * was cancelled already; a job that finished first is a 409.
 */
export async function cancelOneJob(job: JobRecord, by: string, now = new Date().toISOString()): Promise<CancelOutcome> {
  let current = job;
  for (let attempt = 1; ; attempt++) {
    if (current.status === 'cancelled') return { job: current, changed: false };
    if (isTerminalJob(current.status)) throw conflict('JobFinished', `Job ${current.jobId} is ${current.status}; only an unfinished job can be cancelled`);
    try {
      const cancelled = await updateJobAndRead(current.jobId, { to: 'cancelled', from: CANCELLABLE_JOB_STATUSES, set: { cancelledAt: now, cancelledBy: by } });
      if (current.executionArn !== undefined) await stopExecution(current.executionArn, CANCEL_ERROR, `Cancelled by ${by}`);
      return { job: cancelled, changed: true };
    } catch (e) {
      if (!(e instanceof PipelineError) || attempt >= 3) throw e;
      // The job moved between the read and the write: decide again on what it is now.
      const again = await findJob(current.jobId);
      if (!again) throw notFound('job', current.jobId);
      current = again;
    }
  }
}

const jobAnswer = (job: JobRecord, changed: boolean, baseUrl: string) => ({
  jobId: job.jobId, packId: job.packId, status: 'cancelled' as const, alreadyCancelled: !changed, statusUrl: `${baseUrl}/jobs/${job.jobId}`,
});

export const cancelJob: Operation<'cancelJob'> = async (req) => {
  const { job, changed } = await cancelOneJob(await jobOr404(req.pathParams.id), req.caller);
  return { status: 202, body: jobAnswer(job, changed, req.baseUrl) };
};

async function packOr404(packId: string): Promise<PackRecord> {
  const pack = await findPack(packId);
  if (!pack) throw notFound('pack', packId);
  return pack;
}

/** Cancels every unfinished job of a pack; returns how many it moved, and the counts after. */
async function cancelJobsOf(packId: string, by: string) {
  const jobs = await jobsOfPack(packId);
  const now = new Date().toISOString();
  const outcomes = await mapLimit(jobs, STOP_CONCURRENCY, async (j) => {
    if (isTerminalJob(j.status)) return j;
    try {
      return (await cancelOneJob(j, by, now)).job;
    } catch (e) {
      // Finished meanwhile: it keeps what it delivered.
      if (e instanceof ApiError && e.status === 409) return (await findJob(j.jobId)) ?? j;
      throw e;
    }
  });
  const counts = emptyCounts();
  for (const j of outcomes) counts[j.status]++;
  const moved = outcomes.filter((j, i) => j.status === 'cancelled' && jobs[i]!.status !== 'cancelled').length;
  return { counts, moved };
}

export const cancelPack: Operation<'cancelPack'> = async (req) => {
  const pack = await packOr404(req.pathParams.id);
  const statusUrl = `${req.baseUrl}/packs/${pack.packId}`;
  let changed = true;
  if (pack.status === 'cancelled') {
    changed = false;
  } else if (!CANCELLABLE_PACK_STATUSES.includes(pack.status)) {
    throw conflict('PackFinished', `Pack ${pack.packId} is ${pack.status}; only a pending, running or emergency-stopped pack can be cancelled`);
  } else {
    try {
      // Announced below, once its jobs are cancelled and counted.
      await updatePack(pack.packId, { cancelledAt: new Date().toISOString(), cancelledBy: req.caller }, { status: 'cancelled', from: CANCELLABLE_PACK_STATUSES, announce: false });
    } catch (e) {
      if (!(e instanceof PipelineError)) throw e;
      const now = await packOr404(pack.packId);
      if (now.status !== 'cancelled') throw conflict('PackFinished', `Pack ${pack.packId} is ${now.status}; only a pending, running or emergency-stopped pack can be cancelled`);
      changed = false;
    }
    // The pack run first, so its Map starts no child after the jobs were listed.
    if (pack.executionArn !== undefined) await stopExecution(pack.executionArn, CANCEL_ERROR, `Cancelled by ${req.caller}`);
  }
  // Also on a repeat: a cancel that failed half-way finishes here.
  const { counts, moved } = await cancelJobsOf(pack.packId, req.caller);
  try {
    const counted = await updatePack(pack.packId, { counts }, { from: ['cancelled'] });
    // Also on a repeat: the event id is the pack run's, so it goes out once.
    await emitLifecycle(packEvent(counted, counted.cancelledAt ?? counted.updatedAt, eventApiUrl()));
  } catch (e) {
    // Run again meanwhile (restart-incomplete): that run announces itself.
    if (!(e instanceof PipelineError)) throw e;
  }
  return { status: 202, body: { packId: pack.packId, status: 'cancelled', alreadyCancelled: !changed, jobsCancelled: moved, counts, statusUrl } };
};
