/** "Load the pack": marks it running and lists its pending jobs with their next execution names. */
import { jobExecutionName } from '../../core/job.ts';
import { getPack, jobsOfPack, updatePack } from '../../adapters/job-store.ts';
import { stateHandler } from '../state/state-handler.ts';
import { packStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'PackLoad', stage: null, schema: packStateSchema }, async ({ state, executionArn }) => {
  const pack = await getPack(state.packId);
  // The pack's jobCount says how many the index must list; each job is then read consistently.
  const jobs = (await jobsOfPack(pack)).filter((j) => j.status === 'pending');
  await updatePack(state.packId, { executionArn }, { status: 'running', increment: { runs: 1 } });
  jobs.sort((a, b) => a.jobId.localeCompare(b.jobId));
  return { jobs: jobs.map((j) => ({ packId: j.packId, jobId: j.jobId, executionName: jobExecutionName(j) })) };
});
