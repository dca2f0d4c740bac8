/** POST /packs/{id}/restart-incomplete: every job not complete runs again. */
import { ACTIVE_JOB_STATUSES, livePackStatus } from '../../core/status.ts';
import { jobsOfPack } from '../adapters/job-store.ts';
import { conflict } from './errors.ts';
import { resetToPending } from './job-reset.ts';
import { mapLimit } from './map-limit.ts';
import type { Operation } from './operation.ts';
import { RUNNING_PACK_STATUSES, claimPack, startPackRun } from './pack-run.ts';
import { packOr404 } from './read-packs.ts';
import { countsOf } from './views.ts';

export const restartIncomplete: Operation<'restartIncomplete'> = async (req) => {
  const pack = await packOr404(req.pathParams.id);
  if (RUNNING_PACK_STATUSES.includes(pack.status)) {
    throw conflict('PackRunning', `Pack ${pack.packId} is ${pack.status}; restart it once its run has ended`);
  }
  const jobs = await jobsOfPack(pack);
  // A job retried on its own after the pack's run ended is running (or its run, recorded on
  // it, is starting): resetting it would stop that run.
  const starting = jobs.find((j) => j.status === 'pending' && j.executionArn !== undefined);
  if (livePackStatus(pack.status, countsOf(jobs)) === 'running' || starting !== undefined) {
    const working = starting ?? jobs.find((j) => ACTIVE_JOB_STATUSES.includes(j.status));
    throw conflict('PackRunning', `Pack ${pack.packId} has a job running (${working?.jobId} is ${working?.status}); restart it once that run has ended`);
  }
  const incomplete = jobs.filter((j) => j.status !== 'complete');
  if (incomplete.length === 0) throw conflict('NothingToRestart', `Every job of pack ${pack.packId} is complete`);
  // Jobs first: a pending job in a pack that is not claimed is harmless (the next run takes it),
  // a claimed pack whose jobs could not be reset would run nothing.
  // An operator's restart gives every job fresh bounds; checkpoints are kept, so finished stages are not redone.
  await mapLimit(incomplete, 8, (j) => resetToPending(j, { resetBounds: true }));
  await claimPack(pack);
  const executionArn = await startPackRun(pack, pack.status);
  return {
    status: 202,
    body: { packId: pack.packId, status: 'pending', resetJobs: incomplete.length, executionArn, statusUrl: `${req.baseUrl}/packs/${pack.packId}` },
    headers: { location: `${req.baseUrl}/packs/${pack.packId}` },
  };
};
