/** "Resume from checkpoint": a dead or stuck run continues from its last finished stage. */
import { DataCorruptionError } from '../../core/errors.ts';
import { resumeFrom } from '../../core/strategies.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { beginRecovery, countRecovery } from '../../adapters/recovery.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'ResumeCheckpoint', stage: null, schema: jobStateSchema, recordFailures: false }, async ({ state, job, executionArn }) => {
  if (!job) throw new DataCorruptionError('ResumeCheckpoint needs a jobId');
  await beginRecovery(job, state.lastError, 'RESUME_CHECKPOINT', 'inpaint');
  const resumeAt = resumeFrom(job.checkpoints);
  await updateJob(job.jobId, { to: 'recovering', owner: executionArn, increment: countRecovery('RESUME_CHECKPOINT') });
  return { job: { resumeAt, inpaint: job.inpaint }, inpaint: null, hosted: null };
});
