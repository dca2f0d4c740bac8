/** "Composite the result": the inpainted region onto the original through the mask. */
import { gpuTaskOutputSchema } from '../../core/gpu-message.ts';
import { compositeThroughMask } from '../../core/images/composite.ts';
import { decodeMask } from '../../core/images/mask.ts';
import { DataCorruptionError } from '../../core/errors.ts';
import { s3Keys } from '../../core/resources.ts';
import { getObject, putObject } from '../../adapters/artifacts.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

const schema = jobStateSchema.extend({
  // The GPU worker's answer, or the hosted inpaint's in the same shape (HostedPoll).
  inpaint: gpuTaskOutputSchema.optional(),
});

export const handler = stateHandler({ fn: 'Compose', stage: 'compositing', schema }, async ({ state, job, executionArn }) => {
  if (!job) throw new DataCorruptionError('Compose needs a jobId');
  // A fresh inpaint output comes in the state; a resumed run reads the checkpoint.
  const inpaintedKey = state.inpaint?.outputs[0] ?? job.checkpoints.inpaint;
  const maskKey = job.checkpoints.segmentation;
  if (inpaintedKey === undefined || maskKey === undefined) {
    throw new DataCorruptionError(`job ${job.jobId} reached compositing without inpaint output and mask`);
  }
  const [original, inpainted, maskPng] = await Promise.all([getObject(job.inputs.person), getObject(inpaintedKey), getObject(maskKey)]);
  const result = await compositeThroughMask({ original, inpainted, mask: await decodeMask(maskPng) });
  const key = await putObject(s3Keys.artifact(job.packId, job.jobId, 'result.png'), result);
  await updateJob(job.jobId, {
    to: 'compositing', owner: executionArn,
    setIn: { checkpoints: { inpaint: inpaintedKey, compositing: key }, outputs: { inpainted: inpaintedKey, result: key } },
    ...(state.inpaint && { increment: { gpuSeconds: state.inpaint.gpuSeconds } }),
  });
  return { inpaint: null, hosted: null, gpu: null };
});
