/**
 * POST /emergency-stop: set the flag first (stage functions, workers and the watchdog
 * refuse new work from then on), then stop the running executions, packs before jobs so
 * no pack starts a new child after its jobs were listed. Stopped packs are remembered in
 * the flag so POST /resume runs them again.
 */
import { PipelineError } from '../../core/errors.ts';
import { forgetStopFlag } from '../adapters/control.ts';
import { EMERGENCY_STOP_FLAG, getFlag, setFlag, updatePack } from '../adapters/job-store.ts';
import { recordIdOf, runningExecutions, stopExecution } from './executions.ts';
import { mapLimit } from './map-limit.ts';
import { rememberStoppedPacks, stoppedPacksOf } from './store.ts';
import type { Operation } from './operation.ts';

const STOP_CONCURRENCY = 10;

export const emergencyStop: Operation<'emergencyStop'> = async (req) => {
  const reason = req.body.reason;
  const before = await getFlag(EMERGENCY_STOP_FLAG);
  const wasActive = before?.['active'] === true;
  const since = wasActive && typeof before?.['since'] === 'string' ? before['since'] : new Date().toISOString();
  // A second stop keeps what the first one remembered.
  const remembered = wasActive ? stoppedPacksOf(before) : [];
  await setFlag(EMERGENCY_STOP_FLAG, { since, by: req.caller, ...(reason !== undefined && { reason }), stoppedPacks: remembered });
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
