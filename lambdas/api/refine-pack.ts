/** POST /packs/{id}/refine: a new pack, linked to its source, over chosen jobs of it. */
import { randomUUID } from 'node:crypto';
import { newJobRecord, newPackRecord, type JobRecord } from '../../core/job.ts';
import { refineSelection, refinedName, refinedParams } from '../../core/refine.ts';
import { jobsOfPack } from '../../adapters/job-store.ts';
import { conflict } from './errors.ts';
import { idempotent } from './idempotency.ts';
import { MAX_NAME_LENGTH } from './limits.ts';
import type { Operation } from './operation.ts';
import { launchPack } from './pack-launch.ts';
import { RUNNING_PACK_STATUSES } from './pack-run.ts';
import { packOr404 } from './read-packs.ts';

export const refinePack: Operation<'refinePack'> = async (req) => {
  const sourceId = req.pathParams.id;
  const scope = req.body.scope;
  const { value, replayed } = await idempotent(
    { key: req.idempotencyKey, caller: req.caller, scope: `refinePack:${sourceId}`, payload: { scope }, lambda: req.lambda },
    async () => {
      const source = await packOr404(sourceId);
      if (RUNNING_PACK_STATUSES.includes(source.status)) {
        throw conflict('PackRunning', `Pack ${sourceId} is ${source.status}; refine it once its run has ended`);
      }
      const chosen = refineSelection(await jobsOfPack(source), scope);
      if (chosen.length === 0) {
        throw conflict('NothingToRefine', `Pack ${sourceId} has no ${scope === 'successful_only' ? 'complete' : 'complete or failed'} job to refine`);
      }
      const packId = randomUUID();
      const now = new Date().toISOString();
      const jobs: JobRecord[] = chosen.map((j) => ({
        ...newJobRecord({ packId, jobId: randomUUID(), inpaint: j.inpaint, inputs: j.inputs, params: refinedParams(j), now, gpuWaitMinutes: j.gpuWaitMinutes }),
        sourceJobId: j.jobId,
      }));
      const pack = newPackRecord({
        packId, name: refinedName(source.name, MAX_NAME_LENGTH), inpaint: source.inpaint, jobCount: jobs.length, now,
        sourcePackId: sourceId, refineScope: scope, gpuWaitMinutes: source.gpuWaitMinutes,
      });
      return launchPack(pack, jobs, req.baseUrl);
    },
  );
  return { status: 202, body: value, headers: { location: value.statusUrl, ...(replayed && { 'idempotent-replayed': 'true' }) } };
};
