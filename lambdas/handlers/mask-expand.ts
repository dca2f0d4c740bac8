/** "Expand the mask": dilation gives inpainting margin; the result is the segmentation checkpoint. */
import { z } from 'zod';
import { s3Keys } from '../../core/resources.ts';
import { decodeMask, encodeMask, expandMask } from '../../core/images/mask.ts';
import { DataCorruptionError } from '../../core/errors.ts';
import { getObject, putObject } from '../../adapters/artifacts.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

const schema = jobStateSchema.extend({ segmentation: z.object({ aggregatedKey: z.string().min(1) }).loose() });

export const handler = stateHandler({ fn: 'MaskExpand', stage: 'segmentation', schema }, async ({ state, job, executionArn }) => {
  if (!job) throw new DataCorruptionError('MaskExpand needs a jobId');
  const mask = expandMask(await decodeMask(await getObject(state.segmentation.aggregatedKey)), job.params.maskExpandPx);
  const key = await putObject(s3Keys.artifact(job.packId, job.jobId, 'mask.png'), await encodeMask(mask));
  await updateJob(job.jobId, { owner: executionArn, setIn: { checkpoints: { segmentation: key }, outputs: { mask: key } } });
  // The segmentation scratch leaves the state: the checkpoint holds what the next stages need.
  return { segmentation: null };
});
