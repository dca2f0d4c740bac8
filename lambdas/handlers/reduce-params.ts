/** "Reduce GPU parameters": out of memory is cured by asking less of the GPU. */
import { DataCorruptionError, RecoveryExhaustedError } from '../../core/errors.ts';
import { reduceParams } from '../../core/strategies.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { beginRecovery, countRecovery } from '../../adapters/recovery.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'ReduceParams', stage: null, schema: jobStateSchema, recordFailures: false }, async ({ state, job, executionArn }) => {
  if (!job) throw new DataCorruptionError('ReduceParams needs a jobId');
  await beginRecovery(job, state.lastError, 'REDUCE_PARAMS', 'inpaint');
  const next = reduceParams(job.params);
  if (next === null) throw new RecoveryExhaustedError(`Gpu.OutOfMemory: parameters are already at their minimum (${job.params.width}×${job.params.height}, batch ${job.params.batch}, ${job.params.steps} steps)`);
  await updateJob(job.jobId, { to: 'recovering', owner: executionArn, set: { params: next }, increment: countRecovery('REDUCE_PARAMS') });
  return {};
});
