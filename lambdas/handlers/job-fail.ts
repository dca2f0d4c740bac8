/** "Record the failure": the job ends failed with its reason and full recovery history. */
import { DataCorruptionError } from '../../core/errors.ts';
import { entryFor } from '../../core/taxonomy.ts';
import { TASK_FAILURE_LIMITS } from '../../core/gpu-message.ts';
import { updateJobAndRead } from '../../adapters/job-store.ts';
import { resolve } from '../../adapters/ledger.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler(
  { fn: 'JobFail', stage: null, schema: jobStateSchema, keepLastError: true, honourStop: false, recordFailures: false },
  async ({ state, job, executionArn }) => {
    if (!job) throw new DataCorruptionError('JobFail needs a jobId');
    const name = state.lastError?.Error ?? 'Unclassified';
    const cause = (state.lastError?.Cause ?? '').slice(0, TASK_FAILURE_LIMITS.cause);
    const { recoverable, strategy } = entryFor(name);
    const updated = await updateJobAndRead(job.jobId, {
      to: 'failed', owner: executionArn,
      set: {
        error: { name, cause, at: new Date().toISOString() },
        // Fatal and unclassified failures need a person; an exhausted recovery says so too.
        needsIntervention: !recoverable || strategy === 'NEEDS_INTERVENTION',
      },
    });
    await resolve(updated, updated.recoveries.flatMap((r, i) => (r.outcome === 'pending' ? [i] : [])), 'failed');
    return {};
  },
);
