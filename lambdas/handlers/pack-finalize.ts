/** "Finalize the pack": counts jobs by status and sets the pack's outcome. */
import { PipelineError } from '../../core/errors.ts';
import { PACK_STATUSES, emptyCounts, packOutcome } from '../../core/status.ts';
import { getPack, jobsOfPack, updatePack } from '../../adapters/job-store.ts';
import { stateHandler } from '../state/state-handler.ts';
import { packStateSchema } from '../state/state-schemas.ts';

const UNCANCELLED = PACK_STATUSES.filter((s) => s !== 'cancelled');

export const handler = stateHandler({ fn: 'PackFinalize', stage: null, schema: packStateSchema, honourStop: false }, async ({ state }) => {
  const counts = emptyCounts();
  // Statuses from consistent reads of every job, never from the (lagging) index.
  for (const j of await jobsOfPack(await getPack(state.packId))) counts[j.status]++;
  const outcome = packOutcome(counts);
  // Jobs still short of a terminal status were stopped (emergency stop); resume continues them.
  const status = outcome === 'running' ? 'stopped' : outcome;
  try {
    // A pack cancelled while this run ended stays cancelled (POST /packs/{id}/cancel).
    await updatePack(state.packId, { counts }, { status, from: UNCANCELLED });
  } catch (e) {
    if (!(e instanceof PipelineError) || (await getPack(state.packId)).status !== 'cancelled') throw e;
    return { jobs: null, counts, status: 'cancelled' };
  }
  return { jobs: null, counts, status };
});
