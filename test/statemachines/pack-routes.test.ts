/**
 * The pack machine's routes, as a specification: the committed pack.asl.json runs on
 * aws-local-stepfunctions, and each job runs as a child execution of the committed
 * job.asl.json through the startExecution.sync:2 override.
 */
import { describe, expect, it } from 'vitest';
import { PACK_MAP_CONCURRENCY } from '../../core/resources.ts';
import { ERROR_NAMES, entryFor } from '../../core/taxonomy.ts';
import { JOB_STATES } from '../../statemachines/job.ts';
import { PACK_STATES as S } from '../../statemachines/pack.ts';
import { committedAsl } from './support/asl.ts';
import { PackWorld, type PackScenario } from './support/pack-world.ts';
import { runMachine } from './support/run-machine.ts';

const PACK = committedAsl('pack');
const JOB = committedAsl('job');

async function runPack(scenario: PackScenario) {
  const world = new PackWorld(PACK, JOB, scenario);
  const report = await runMachine(PACK, { packId: world.packId }, { tasks: world.tasks, executionId: world.executionId });
  return { world, report };
}

describe('the pack machine runs every job as a child execution', () => {
  it('runs three jobs whose child executions carry the pack, the job and the parent execution', async () => {
    // Act
    const { world, report } = await runPack({ jobs: 3 });
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.path).toEqual([S.load, S.runJobs, S.finalize, S.done]);
    expect(world.children.map((c) => c.name).sort()).toEqual(['pack-1-job-1-run-1', 'pack-1-job-2-run-1', 'pack-1-job-3-run-1']);
    for (const child of world.children) {
      expect(child.input).toEqual({ packId: 'pack-1', jobId: child.input.jobId, AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: world.executionId });
      expect(child.report.path.at(-1)).toBe(JOB_STATES.done);
    }
    expect([...world.jobs.values()].flatMap((j) => j.violations)).toEqual([]);
  });

  it('one failed job never fails the pack: it is noted, and the pack still reaches "Finalize the pack" and succeeds', async () => {
    // Prepare
    const scenario: PackScenario = {
      jobs: 3,
      jobScenarios: { 'job-2': { faults: { [JOB_STATES.runGpu]: { name: 'Fatal.InvalidInput', times: Infinity } } } },
    };
    // Act
    const { world, report } = await runPack(scenario);
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.path).toEqual([S.load, S.runJobs, S.finalize, S.done]);
    expect(report.entered(S.noteFailure)).toBe(1);
    expect(world.jobs.get('job-2')?.calls(JOB_STATES.recordFailure)).toBe(1);
    expect(world.children.find((c) => c.input.jobId === 'job-2')?.report.error?.name).toBe('Fatal.InvalidInput');
    expect(world.log.count(S.finalize)).toBe(1);
    expect(world.log.count(S.recordFailure)).toBe(0);
    expect(report.output).toMatchObject({ pack: { status: 'completed_with_failures' } });
  });

  it('a child execution refused by the service limit is retried, then runs', async () => {
    const { world, report } = await runPack({ jobs: 1, faults: { [S.runJob]: { name: 'StepFunctions.ExecutionLimitExceeded', times: 1 } } });
    expect(report.status).toBe('SUCCEEDED');
    expect(report.retried(S.runJob)).toBe(1);
    expect(world.children).toHaveLength(1);
    expect(report.entered(S.noteFailure)).toBe(0);
  });

  it(`runs at most MaxConcurrency (${PACK_MAP_CONCURRENCY}) child executions at once, and that many side by side`, async () => {
    // Prepare
    const jobs = 2 * PACK_MAP_CONCURRENCY + 1;
    // Act
    const { world, report } = await runPack({ jobs });
    // Assess
    expect(PACK.States[S.runJobs]?.['MaxConcurrency']).toBe(PACK_MAP_CONCURRENCY);
    expect(report.status).toBe('SUCCEEDED');
    expect(world.children).toHaveLength(jobs);
    expect(world.maxConcurrentChildren).toBe(PACK_MAP_CONCURRENCY);
  });
});

const NON_RECOVERABLE = ERROR_NAMES.filter((n) => !entryFor(n).recoverable && n !== 'Control.Stopped');

describe('the pack fails only when the pack itself cannot run', () => {
  it.each(NON_RECOVERABLE)('%s from loading the pack is never retried: "Record the pack failure" once, then "Pack failed"', async (name) => {
    // Act
    const { world, report } = await runPack({ jobs: 3, faults: { [S.load]: { name, times: Infinity } } });
    // Assess
    expect(world.log.count(S.load)).toBe(1);
    expect(report.retried(S.load)).toBe(0);
    expect(report.path).toEqual([S.load, S.recordFailure, S.failed]);
    expect(report.error?.name).toBe(name);
    expect(world.log.count(S.recordFailure)).toBe(1);
    expect(world.children).toEqual([]);
  });

  it.each(NON_RECOVERABLE)('%s from finalizing the pack is recorded as the pack failure after the jobs ran', async (name) => {
    const { world, report } = await runPack({ jobs: 2, faults: { [S.finalize]: { name, times: Infinity } } });
    expect(world.log.count(S.finalize)).toBe(1);
    expect(report.path).toEqual([S.load, S.runJobs, S.finalize, S.recordFailure, S.failed]);
    expect(world.children).toHaveLength(2);
  });

  it('Control.Stopped from loading the pack ends at "Stopped by emergency stop" without recording a failure', async () => {
    const { world, report } = await runPack({ jobs: 3, faults: { [S.load]: { name: 'Control.Stopped', times: Infinity } } });
    expect(report.path).toEqual([S.load, S.stopped]);
    expect(report.error?.name).toBe('Control.Stopped');
    expect(world.log.count(S.recordFailure)).toBe(0);
  });

  it('a transient failure loading the pack is retried in place, and the pack runs', async () => {
    const { world, report } = await runPack({ jobs: 1, faults: { [S.load]: { name: 'Transient.Throttled', times: 1 } } });
    expect(report.status).toBe('SUCCEEDED');
    expect(report.retried(S.load)).toBe(1);
    expect(world.children).toHaveLength(1);
  });
});
