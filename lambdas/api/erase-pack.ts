/**
 * DELETE /packs/{id} and GET /packs/{id}/erasure. The pack is marked for erasure first (a
 * conditional write from the status it was read with, so a run starting meanwhile wins and
 * the request answers 409), then erased within the request's time budget; what is left the
 * watchdog finishes (adapters/pack-erasure.ts says why there, not in a queue).
 */
import { runningWork } from '../../core/pack-activity.ts';
import type { PackRecord } from '../../core/job.ts';
import { NotFoundError, getPack, jobsOfPack } from '../../adapters/job-store.ts';
import { PackChangedError, erasePack, erasureScope, isErasing, markErasing } from '../../adapters/pack-erasure.ts';
import { conflict, notFound } from './errors.ts';
import type { Operation } from './operation.ts';

/** Work within the request, leaving the gateway's 29 s for the answer. */
const INLINE_BUDGET_MS = 15_000;
const ANSWER_MARGIN_MS = 3_000;

async function anyPack(packId: string): Promise<PackRecord> {
  try {
    return await getPack(packId);
  } catch (e) {
    if (e instanceof NotFoundError) throw notFound('pack', packId);
    throw e;
  }
}

/** Refuses a pack with work running; marks it (again, after a race) otherwise. */
async function mark(pack: PackRecord, by: string): Promise<PackRecord> {
  let current = pack;
  for (let attempt = 1; ; attempt++) {
    if (isErasing(current)) return current;
    const running = runningWork(current, await jobsOfPack(current));
    if (running?.kind === 'pack') throw conflict('PackRunning', `Pack ${current.packId} is ${current.status}; cancel it (POST /packs/${current.packId}/cancel), then erase it`);
    if (running) throw conflict('PackRunning', `Pack ${current.packId} has a job running (${running.jobId} is ${running.status}); cancel it, then erase the pack`);
    try {
      await markErasing(current, by);
      return await anyPack(current.packId);
    } catch (e) {
      if (!(e instanceof PackChangedError) || attempt >= 3) throw e;
      current = await anyPack(current.packId);
    }
  }
}

export const deletePack: Operation<'deletePack'> = async (req) => {
  const pack = await mark(await anyPack(req.pathParams.id), req.caller);
  const budget = Math.min(INLINE_BUDGET_MS, req.lambda.getRemainingTimeInMillis() - ANSWER_MARGIN_MS);
  const progress = await erasePack(pack, Date.now() + Math.max(0, budget));
  const erasureUrl = `${req.baseUrl}/packs/${pack.packId}/erasure`;
  return {
    status: 202,
    headers: { location: erasureUrl },
    body: {
      packId: pack.packId, state: progress.done ? 'erased' : 'erasing', requestedAt: pack.erasure?.requestedAt ?? new Date().toISOString(),
      deleted: { versions: progress.versionsDeleted, jobs: progress.jobsDeleted, eventsAnonymized: progress.eventsAnonymized, controlItems: progress.controlItemsDeleted },
      erasureUrl,
    },
  };
};

export const getErasure: Operation<'getErasure'> = async (req) => {
  const pack = await anyPack(req.pathParams.id);
  const scope = await erasureScope(pack);
  return {
    status: 200,
    body: {
      packId: pack.packId, state: isErasing(pack) ? 'erasing' : 'present',
      ...(pack.erasure && { requestedAt: pack.erasure.requestedAt }), ...scope,
    },
  };
};
