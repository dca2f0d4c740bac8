/**
 * Running an existing pack again (restart, resume): claim it for a new run by a
 * conditional status change, start the pack machine under its next execution name, and
 * give the pack its old status back if the machine cannot start.
 */
import { packExecutionName, type PackRecord } from '../../core/job.ts';
import { PipelineError } from '../../core/errors.ts';
import type { PackStatus } from '../../core/status.ts';
import { ConfigError } from '../../adapters/config.ts';
import { updatePack } from '../../adapters/job-store.ts';
import { logger } from '../../adapters/logging.ts';
import { conflict, unavailable } from './errors.ts';
import { startNamedRun } from './executions.ts';
import { apiSettings } from './settings.ts';

export { RUNNING_PACK_STATUSES } from '../../core/pack-activity.ts';

/** Moves the pack to pending, only from the status it had when read. */
export async function claimPack(pack: PackRecord): Promise<void> {
  try {
    await updatePack(pack.packId, {}, { status: 'pending', from: [pack.status] });
  } catch (e) {
    if (e instanceof PipelineError) throw conflict('PackChanged', `Pack ${pack.packId} changed meanwhile; read it again`);
    throw e;
  }
}

/** Starts the pack machine for a claimed pack; on failure the pack gets `previous` back. */
export async function startPackRun(pack: PackRecord, previous: PackStatus): Promise<string> {
  let runs = pack.runs;
  try {
    return await startNamedRun('pack', () => packExecutionName({ packId: pack.packId, runs }), { packId: pack.packId }, async () => {
      await updatePack(pack.packId, {}, { increment: { runs: 1 } });
      runs++;
    });
  } catch (e) {
    logger.error('the pack execution could not start', { packId: pack.packId, error: e as Error });
    await updatePack(pack.packId, {}, { status: previous, from: ['pending'] }).catch(() => undefined);
    if (e instanceof ConfigError) throw e;
    throw unavailable('ServiceUnavailable', `Pack ${pack.packId} could not be started (Step Functions unreachable); retry`, apiSettings().retryAfterSeconds, e);
  }
}
