/** "Start the job": claims the job for this execution and decides where its run begins. */
import { resumeFrom } from '../../core/strategies.ts';
import { DataCorruptionError } from '../../core/errors.ts';
import type { JobStatus } from '../../core/status.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

const STATUS_AT = { segmentation: 'segmenting', inpaint: 'inpainting', compositing: 'compositing', qa: 'qa' } as const satisfies Record<string, JobStatus>;

export const handler = stateHandler({ fn: 'JobStart', stage: null, schema: jobStateSchema }, async ({ job, executionArn }) => {
  if (!job) throw new DataCorruptionError('JobStart needs a jobId');
  const resumeAt = resumeFrom(job.checkpoints);
  // Only a pending job can be claimed: a run for a job another run owns stops here.
  await updateJob(job.jobId, {
    to: STATUS_AT[resumeAt], from: ['pending'], claim: executionArn, increment: { runs: 1 },
  });
  return { job: { resumeAt, inpaint: job.inpaint } };
});
