/**
 * POST /emergency-stop: set the flag first (stage functions, workers and the watchdog
 * refuse new work from then on), then stop the running executions, packs before jobs so
 * no pack starts a new child after its jobs were listed. Stopped packs are remembered in
 * the flag so POST /resume runs them again. A stop while stopped is refused (409): it
 * would rewrite the standing stop's time and reason.
 */
import { PipelineError } from '../../core/errors.ts';
import { forgetStopFlag } from '../../adapters/control.ts';
import { updatePack } from '../../adapters/job-store.ts';
import { conflict } from './errors.ts';
import { recordIdOf, runningExecutions, stopExecution } from './executions.ts';
import { mapLimit } from './map-limit.ts';
import { rememberStoppedPacks, setEmergencyStopIfClear } from './store.ts';
import type { Operation } from './operation.ts';

const STOP_CONCURRENCY = 10;

export const emergencyStop: Operation<'emergencyStop'> = async (req) => {
  const reason = req.body.reason;
  const since = new Date().toISOString();
  // Only one stop at a time: a second one would rewrite the first one's time and reason.
  const standing = await setEmergencyStopIfClear({ since, by: req.caller, ...(reason !== undefined && { reason }), stoppedPacks: [] });
  if (standing !== undefined) {
    const why = typeof standing['reason'] === 'string' ? ` (${standing['reason']})` : '';
    throw conflict('AlreadyEmergencyStopped', `The pipeline has been emergency-stopped since ${String(standing['since'] ?? 'earlier')}${why}; POST /resume before stopping again`);
  }
  forgetStopFlag();

  const cause = `Emergency stop by ${req.caller}${reason === undefined ? '' : `: ${reason}`}`;
  const packRuns = await runningExecutions('pack');
  await mapLimit(packRuns, STOP_CONCURRENCY, (e) => stopExecution(e.executionArn, cause));
  const jobRuns = await runningExecutions('job');
  await mapLimit(jobRuns, STOP_CONCURRENCY, (e) => stopExecution(e.executionArn, cause));

  const packIds = [...new Set(packRuns.map((e) => recordIdOf(e.name)))];
  await mapLimit(packIds, STOP_CONCURRENCY, async (packId) => {
    try {
      await updatePack(packId, {}, { status: 'stopped', from: ['pending', 'running'] });
    } catch (e) {
      // Finished (or vanished) between the listing and now: nothing to mark.
      if (!(e instanceof PipelineError)) throw e;
    }
  });
  await rememberStoppedPacks(packIds);
  return {
    status: 202,
    body: { emergencyStopped: true, since, ...(reason !== undefined && { reason }), packsStopped: packIds, executionsStopped: packRuns.length + jobRuns.length },
  };
};
