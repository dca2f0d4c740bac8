/** "Aggregate the masks": per-pixel vote with a quorum; too few usable masks is degenerate. */
import { z } from 'zod';
import { s3Keys } from '../../core/resources.ts';
import { aggregateMasks, decodeMask, encodeMask } from '../../core/images/mask.ts';
import { DataCorruptionError } from '../../core/errors.ts';
import { getObject, putObject } from '../../adapters/artifacts.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

const schema = jobStateSchema.extend({
  segmentation: z.object({ pass: z.int(), masks: z.array(z.object({ maskKey: z.string().min(1) }).loose()).min(1) }).loose(),
});

export const handler = stateHandler({ fn: 'MaskAggregate', stage: 'segmentation', schema }, async ({ state, job }) => {
  if (!job) throw new DataCorruptionError('MaskAggregate needs a jobId');
  const masks = await Promise.all(state.segmentation.masks.map(async (m) => decodeMask(await getObject(m.maskKey))));
  const { mask, usable, rejected } = aggregateMasks(masks);
  const key = await putObject(s3Keys.artifact(job.packId, job.jobId, `segmentation/aggregated-${state.segmentation.pass}.png`), await encodeMask(mask));
  return { segmentation: { pass: state.segmentation.pass, aggregatedKey: key, usable, rejected } };
});
