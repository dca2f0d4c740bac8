/** "Choose alternative segmentation": a degenerate mask is retried with other prompts. */
import { DataCorruptionError } from '../../core/errors.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { beginRecovery, countRecovery } from '../../adapters/recovery.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'Resegment', stage: null, schema: jobStateSchema, recordFailures: false }, async ({ state, job, executionArn }) => {
  if (!job) throw new DataCorruptionError('Resegment needs a jobId');
  await beginRecovery(job, state.lastError, 'RESEGMENT', 'segmentation');
  await updateJob(job.jobId, { to: 'recovering', owner: executionArn, increment: countRecovery('RESEGMENT') });
  return { segmentation: null };
});
