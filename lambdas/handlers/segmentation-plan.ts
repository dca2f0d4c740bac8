/** "Plan the segmentation calls": the prompts for this pass; alternatives after a degenerate mask. */
import { DataCorruptionError } from '../../core/errors.ts';
import { config } from '../../adapters/config.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'SegmentationPlan', stage: 'segmentation', schema: jobStateSchema }, async ({ job, executionArn }) => {
  if (!job) throw new DataCorruptionError('SegmentationPlan needs a jobId');
  const pass = (job.attempts.RESEGMENT ?? 0);
  const prompts = pass === 0 ? config().segmentationPrompts : config().segmentationAltPrompts;
  await updateJob(job.jobId, { to: 'segmenting', owner: executionArn, increment: { attempts: { segmentation: 1 } } });
  return { segmentation: { pass, calls: prompts.map((prompt, i) => ({ prompt, variant: pass * prompts.length + i })) } };
});
