/** "Back off before resubmitting": a transient GPU-side failure waits out an exponential, jittered backoff. */
import { DataCorruptionError } from '../../core/errors.ts';
import { nextBackoff } from '../../core/strategies.ts';
import { entryFor } from '../../core/taxonomy.ts';
import { config } from '../../adapters/config.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { beginRecovery, countRecovery } from '../../adapters/recovery.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'BackoffGpu', stage: null, schema: jobStateSchema, recordFailures: false }, async ({ state, job, executionArn }) => {
  if (!job) throw new DataCorruptionError('BackoffGpu needs a jobId');
  const attempt = await beginRecovery(job, state.lastError, 'RETRY_BACKOFF', 'inpaint');
  const policy = entryFor(state.lastError?.Error ?? 'Transient.Network').retry ?? entryFor('Transient.Network').retry!;
  // Wait states take whole seconds; the time scale compresses them offline.
  const waitSeconds = Math.round(nextBackoff(attempt, policy) * config().timeScale);
  await updateJob(job.jobId, { to: 'recovering', owner: executionArn, increment: countRecovery('RETRY_BACKOFF') });
  return { backoff: { waitSeconds, attempt } };
});
