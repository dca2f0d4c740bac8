/** "Switch model": a missing or corrupt model is cured by the next one along the fallback chain. */
import { DataCorruptionError, RecoveryExhaustedError } from '../../core/errors.ts';
import { switchModel } from '../../core/strategies.ts';
import { config } from '../../adapters/config.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { beginRecovery, countRecovery } from '../../adapters/recovery.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'SwitchModel', stage: null, schema: jobStateSchema, recordFailures: false }, async ({ state, job, executionArn }) => {
  if (!job) throw new DataCorruptionError('SwitchModel needs a jobId');
  await beginRecovery(job, state.lastError, 'SWITCH_MODEL', 'inpaint');
  const tried = job.triedModels;
  const next = switchModel(job.params.model, config().modelChain, tried);
  if (next === null) throw new RecoveryExhaustedError(`Gpu.ModelMissing: no untried model left in the fallback chain (tried ${[...tried, job.params.model].join(', ')})`);
  await updateJob(job.jobId, {
    to: 'recovering', owner: executionArn,
    set: { params: { ...job.params, model: next }, triedModels: [...tried, job.params.model] },
    increment: countRecovery('SWITCH_MODEL'),
  });
  return {};
});
