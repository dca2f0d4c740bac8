/**
 * Launching a new pack (POST /packs, refine): write the pack and its jobs (the pack item
 * is the commit marker), start its execution, and undo the writes if it cannot start, so
 * a caller's retry finds nothing half-done.
 */
import { packExecutionName, type JobRecord, type PackRecord } from '../../core/job.ts';
import { ConfigError } from '../../adapters/config.ts';
import { logger } from '../../adapters/logging.ts';
import { PackExistsError, deletePackWithJobs, putPackWithJobs, updatePack } from '../../adapters/job-store.ts';
import { conflict, unavailable } from './errors.ts';
import { startNamedRun } from './executions.ts';
import type { PackCreated } from './schemas.ts';
import { apiSettings } from './settings.ts';

export async function launchPack(pack: PackRecord, jobs: readonly JobRecord[], baseUrl: string): Promise<PackCreated> {
  try {
    await putPackWithJobs(pack, jobs);
  } catch (e) {
    if (e instanceof PackExistsError) {
      throw conflict('PackExists', `Pack ${pack.packId} already exists; reserve a new pack id with POST /uploads`);
    }
    throw e;
  }
  let runs = pack.runs;
  let executionArn: string;
  try {
    executionArn = await startNamedRun('pack', () => packExecutionName({ packId: pack.packId, runs }), { packId: pack.packId }, async () => {
      await updatePack(pack.packId, {}, { increment: { runs: 1 } });
      runs++;
    });
  } catch (e) {
    logger.error('the pack execution could not start; removing the pack', { packId: pack.packId, error: e as Error });
    await deletePackWithJobs(pack.packId, jobs.map((j) => j.jobId)).catch((err: unknown) =>
      logger.error('could not remove a pack that did not start', { packId: pack.packId, error: err as Error }));
    if (e instanceof ConfigError) throw e;
    throw unavailable('ServiceUnavailable', 'The pack could not be started (Step Functions unreachable); nothing was kept, retry', apiSettings().retryAfterSeconds, e);
  }
  return {
    packId: pack.packId,
    name: pack.name,
    status: pack.status,
    jobIds: jobs.map((j) => j.jobId),
    statusUrl: `${baseUrl}/packs/${pack.packId}`,
    executionArn,
    ...(pack.sourcePackId !== undefined && { sourcePackId: pack.sourcePackId }),
    ...(pack.refineScope !== undefined && { refineScope: pack.refineScope }),
  };
}
