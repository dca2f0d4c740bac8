/** "Submit to the hosted inpaint API": a new attempt on the hosted backend. */
import { DataCorruptionError } from '../../core/errors.ts';
import { getObject } from '../../adapters/artifacts.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { hostedSubmit } from '../../adapters/providers.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'HostedSubmit', stage: 'inpaint', schema: jobStateSchema }, async ({ job, executionArn }) => {
  if (!job) throw new DataCorruptionError('HostedSubmit needs a jobId');
  const mask = job.checkpoints.segmentation;
  if (mask === undefined) throw new DataCorruptionError(`job ${job.jobId} reached inpaint without a mask checkpoint`);
  const [image, maskPng, garment] = await Promise.all([getObject(job.inputs.person), getObject(mask), getObject(job.inputs.garment)]);
  const attempt = (job.attempts.gpu ?? 0) + 1;
  await updateJob(job.jobId, { to: 'inpainting', owner: executionArn, increment: { attempts: { gpu: 1 } } });
  const taskId = await hostedSubmit({ jobId: job.jobId, image, mask: maskPng, garment, params: job.params });
  return { hosted: { taskId, attempt, status: 'queued', polls: 0 } };
});
