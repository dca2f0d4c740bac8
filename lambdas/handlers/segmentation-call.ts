/** "Segment with one prompt": one provider call; its mask is stored for the vote. */
import { z } from 'zod';
import { s3Keys } from '../../core/resources.ts';
import { decodeMask } from '../../core/images/mask.ts';
import { DataCorruptionError, MalformedResponseError } from '../../core/errors.ts';
import { getObject, putObject } from '../../adapters/artifacts.ts';
import { segment } from '../../adapters/providers.ts';
import { stateHandler } from '../state/state-handler.ts';

const schema = z.object({
  packId: z.string().min(1),
  jobId: z.string().min(1),
  index: z.int().min(0),
  call: z.object({ prompt: z.string().min(1), variant: z.int().min(0) }),
});

export const handler = stateHandler({ fn: 'SegmentationCall', stage: 'segmentation', schema }, async ({ state, job }) => {
  if (!job) throw new DataCorruptionError('SegmentationCall needs a jobId');
  const image = await getObject(job.inputs.person);
  const maskPng = await segment({ jobId: job.jobId, image, prompt: state.call.prompt });
  try {
    await decodeMask(maskPng);
  } catch (e) {
    // The provider answered, but not with an image: its answer is malformed, not our input.
    throw new MalformedResponseError(`segmentation returned an unreadable mask: ${(e as Error).message}`, { cause: e });
  }
  const key = await putObject(s3Keys.artifact(job.packId, job.jobId, `segmentation/mask-${state.call.variant}.png`), maskPng);
  return { maskKey: key };
});
