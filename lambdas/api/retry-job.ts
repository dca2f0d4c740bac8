/** POST /jobs/{id}/retry: run one job again by starting the job machine for it. */
import { jobExecutionName } from '../../core/job.ts';
import { isTerminalJob } from '../../core/status.ts';
import { entryFor } from '../../core/taxonomy.ts';
import { ConfigError } from '../../adapters/config.ts';
import { executionArnOf, viewExecution } from '../../adapters/job-executions.ts';
import { getPack, updateJob } from '../../adapters/job-store.ts';
import { logger } from '../../adapters/logging.ts';
import { markUnsettled } from '../../adapters/pack-settlement.ts';
import { conflict, unavailable } from './errors.ts';
import { machineArn, startNamedRun } from './executions.ts';
import { resetToPending, undoReset } from './job-reset.ts';
import type { Operation } from './operation.ts';
import { RUNNING_PACK_STATUSES } from './pack-run.ts';
import { jobOr404 } from './read-job.ts';
import { apiSettings } from './settings.ts';

export const retryJob: Operation<'retryJob'> = async (req) => {
  const job = await jobOr404(req.pathParams.id);
  const force = req.body.force === true;
  if (job.status !== 'pending' && !isTerminalJob(job.status)) {
    throw conflict('JobRunning', `Job ${job.jobId} is ${job.status}; retry it once its run has ended`);
  }
  if (job.status === 'complete' && !force) {
    throw conflict('JobComplete', `Job ${job.jobId} is complete; send {"force": true} to run it again from scratch`);
  }
  const notRecoverable = job.needsIntervention === true || (job.error !== undefined && !entryFor(job.error.name).recoverable);
  if (job.status === 'failed' && notRecoverable && !force) {
    throw conflict('JobNotRecoverable', `Job ${job.jobId} failed with ${job.error?.name ?? 'an unrecoverable error'}, which a retry does not cure; fix the cause, then send {"force": true}`);
  }
  const pack = await getPack(job.packId);
  if (RUNNING_PACK_STATUSES.includes(pack.status)) {
    throw conflict('PackRunning', `Pack ${pack.packId} is ${pack.status}; its run will take the job, or retry once it has ended`);
  }
  if (job.status === 'pending' && job.executionArn !== undefined && (await startingOrRunning(job.executionArn))) {
    throw conflict('JobRunning', `Job ${job.jobId} is being run by ${job.executionArn}; retry it once that run has ended`);
  }
  // The run is recorded on the job before it starts: of simultaneous retries only the one
  // that claimed the job starts (and reports) the run, the others get 409.
  const planned = executionArnOf(machineArn('job'), jobExecutionName({ jobId: job.jobId, runs: job.runs }));
  const reset = await resetToPending(job, { resetBounds: force, fromScratch: job.status === 'complete', claimFor: planned });
  let runs = reset.runs;
  let executionArn: string;
  try {
    executionArn = await startNamedRun('job', () => jobExecutionName({ jobId: job.jobId, runs }), { packId: job.packId, jobId: job.jobId }, async () => {
      await updateJob(job.jobId, { increment: { runs: 1 } });
      runs++;
    });
  } catch (e) {
    logger.error('the job execution could not start', { jobId: job.jobId, error: e as Error });
    await undoReset(job).catch(() => undefined);
    if (e instanceof ConfigError) throw e;
    throw unavailable('ServiceUnavailable', `Job ${job.jobId} could not be started (Step Functions unreachable); retry`, apiSettings().retryAfterSeconds, e);
  }
  // A name taken by an earlier run moved the run on: the job names the one that runs.
  if (executionArn !== planned) await updateJob(job.jobId, { owner: planned, claim: executionArn }).catch(() => undefined);
  // The pack's run has ended: once this job's run ends, the watchdog settles the pack's counts and outcome.
  await markUnsettled(job.packId);
  const statusUrl = `${req.baseUrl}/jobs/${job.jobId}`;
  return {
    status: 202,
    body: { jobId: job.jobId, packId: job.packId, status: 'pending', forced: force, executionArn, statusUrl },
    headers: { location: statusUrl },
  };
};

/** A run recorded on a pending job that has not ended: it is running, or about to start. */
async function startingOrRunning(executionArn: string): Promise<boolean> {
  const { status } = await viewExecution(executionArn, false);
  return status === 'RUNNING' || status === 'MISSING';
}
