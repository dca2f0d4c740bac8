/** "Record the pack failure": the pack could not run; its item says why. */
import { updatePack } from '../../adapters/job-store.ts';
import { stateHandler } from '../state/state-handler.ts';
import { packStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler(
  { fn: 'PackFail', stage: null, schema: packStateSchema, keepLastError: true, honourStop: false, recordFailures: false },
  async ({ state }) => {
    await updatePack(state.packId, { error: { name: state.lastError?.Error ?? 'Unclassified', cause: (state.lastError?.Cause ?? '').slice(0, 4000) } }, { status: 'failed' });
    return {};
  },
);
