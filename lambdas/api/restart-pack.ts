/** POST /packs/{id}/restart-incomplete: every job not complete runs again. */
import { runningWork } from '../../core/pack-activity.ts';
import { jobsOfPack } from '../../adapters/job-store.ts';
import { conflict } from './errors.ts';
import { resetToPending } from './job-reset.ts';
import { mapLimit } from './map-limit.ts';
import type { Operation } from './operation.ts';
import { claimPack, startPackRun } from './pack-run.ts';
import { packOr404 } from './read-packs.ts';

export const restartIncomplete: Operation<'restartIncomplete'> = async (req) => {
  const pack = await packOr404(req.pathParams.id);
  // A job retried on its own after the pack's run ended is running (or its run, recorded on
  // it, is starting): resetting it would stop that run.
  if (runningWork(pack, [])) throw conflict('PackRunning', `Pack ${pack.packId} is ${pack.status}; restart it once its run has ended`);
  const jobs = await jobsOfPack(pack);
  const running = runningWork(pack, jobs);
  if (running?.kind === 'job') throw conflict('PackRunning', `Pack ${pack.packId} has a job running (${running.jobId} is ${running.status}); restart it once that run has ended`);
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
