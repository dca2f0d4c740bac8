/** "Finalize the pack": counts jobs by status and sets the pack's outcome. */
import { emptyCounts, packOutcome } from '../../core/status.ts';
import { getPack, jobsOfPack, updatePack } from '../adapters/job-store.ts';
import { stateHandler } from '../adapters/state-handler.ts';
import { packStateSchema } from '../adapters/state-schemas.ts';

export const handler = stateHandler({ fn: 'PackFinalize', stage: null, schema: packStateSchema, honourStop: false }, async ({ state }) => {
  const counts = emptyCounts();
  // Statuses from consistent reads of every job, never from the (lagging) index.
  for (const j of await jobsOfPack(await getPack(state.packId))) counts[j.status]++;
  const outcome = packOutcome(counts);
  // Jobs still short of a terminal status were stopped (emergency stop); resume continues them.
  const status = outcome === 'running' ? 'stopped' : outcome;
  await updatePack(state.packId, { counts }, { status });
  return { jobs: null, counts, status };
});
