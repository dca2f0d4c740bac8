/**
 * The job machine's routes, as a specification: the committed job.asl.json runs on
 * aws-local-stepfunctions with a fake behind every Task, and each error family thrown at a
 * representative state must take its route — retried in place, sent to its recovery state,
 * or recorded as a failure at once.
 */
import { describe, expect, it } from 'vitest';
import type { Stage } from '../../core/strategies.ts';
import { ERROR_NAMES, entryFor, type ErrorName } from '../../core/taxonomy.ts';
import { JOB_STATES as S } from '../../statemachines/job.ts';
import { allStates, committedAsl } from './support/asl.ts';
import type { Faults } from './support/call-log.ts';
import { JobWorld, type JobScenario } from './support/job-world.ts';
import { runMachine } from './support/run-machine.ts';

const JOB = committedAsl('job');

async function runJob(scenario: JobScenario = {}) {
  const world = new JobWorld(JOB, scenario);
  const report = await runMachine(JOB, { packId: 'pack-1', jobId: 'job-1' }, { tasks: world.tasks, executionId: world.executionId });
  return { world, report };
}

const HOSTED: JobScenario = { inpaint: 'hosted' };
const once = (state: string, name: string, item?: number): Faults => ({ [state]: { name, times: 1, ...(item === undefined ? {} : { item }) } });
const always = (state: string, name: string, item?: number): Faults => ({ [state]: { name, times: Infinity, ...(item === undefined ? {} : { item }) } });

/** Where each recovery state leads once it has done its work. */
const RECOVERY_NEXT: Record<string, string> = {
  [S.reduce]: S.chooseBackend,
  [S.switchModel]: S.chooseBackend,
  [S.resume]: S.chooseStage,
  [S.resegment]: S.planSegmentation,
  [S.planFix]: S.chooseBackend,
  [S.backoff]: S.backoffWait,
};
const RECOVERY_STATES = Object.keys(RECOVERY_NEXT);

/** The payload JobFail received: the failure it records. */
function recordedError(world: JobWorld): string | undefined {
  const call = world.log.calls.find((c) => c.state === S.recordFailure);
  const payload = call?.received as { state?: { lastError?: { Error?: string } } } | undefined;
  return payload?.state?.lastError?.Error;
}

describe('the job machine on the happy path', () => {
  it('runs every stage once on a GPU worker and completes, honouring the task contracts', async () => {
    // Act
    const { world, report } = await runJob();
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.path).toEqual([
      S.start, S.chooseStage, S.planSegmentation, S.runSegmentation, S.aggregate, S.expand,
      S.chooseBackend, S.prepareGpu, S.runGpu, S.compose, S.qa, S.done,
    ]);
    expect(world.calls(S.segmentOne)).toBe(3);
    expect(world.violations).toEqual([]);
  });

  it('fans the segmentation calls out and hands every mask to the aggregation', async () => {
    const { world } = await runJob({ segmentationCalls: 4 });
    const aggregateInput = world.log.calls.find((c) => c.state === S.aggregate)?.received as { state: { segmentation: { masks: unknown[] } } };
    expect(aggregateInput.state.segmentation.masks).toHaveLength(4);
  });

  it('takes the hosted path when the job says so, looping Wait → Poll until the API reports success', async () => {
    // Prepare
    const scenario: JobScenario = { ...HOSTED, hostedRunningPolls: 2 };
    // Act
    const { world, report } = await runJob(scenario);
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    const from = report.path.indexOf(S.hostedSubmit);
    expect(report.path.slice(from, report.path.indexOf(S.compose) + 1)).toEqual([
      S.hostedSubmit,
      S.hostedWait, S.hostedPoll, S.hostedDone,
      S.hostedWait, S.hostedPoll, S.hostedDone,
      S.hostedWait, S.hostedPoll, S.hostedDone,
      S.compose,
    ]);
    expect(world.calls(S.runGpu)).toBe(0);
    expect(world.violations).toEqual([]);
  });
});

describe('the stage to run is chosen from $.job.resumeAt', () => {
  const STAGE_TASKS: Record<Stage, readonly string[]> = {
    segmentation: [S.planSegmentation, S.segmentOne, S.aggregate, S.expand],
    inpaint: [S.prepareGpu, S.runGpu],
    compositing: [S.compose],
    qa: [S.qa],
  };
  const ORDER: readonly Stage[] = ['segmentation', 'inpaint', 'compositing', 'qa'];

  it.each([
    { resumeAt: 'segmentation', next: [S.planSegmentation], sentence: 'a fresh job starts with segmentation' },
    { resumeAt: 'inpaint', next: [S.chooseBackend, S.prepareGpu], sentence: 'a checkpointed mask goes straight to the inpaint' },
    { resumeAt: 'compositing', next: [S.compose], sentence: 'a checkpointed inpaint goes straight to compositing' },
    { resumeAt: 'qa', next: [S.qa], sentence: 'a checkpointed composite goes straight to QA' },
  ] as const)('resumeAt "$resumeAt": $sentence, never re-running a finished stage', async ({ resumeAt, next }) => {
    // Act
    const { world, report } = await runJob({ resumeAt });
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    const at = report.path.indexOf(S.chooseStage);
    expect(report.path.slice(at + 1, at + 1 + next.length)).toEqual(next);
    const index = ORDER.indexOf(resumeAt);
    for (const stage of ORDER.slice(0, index)) for (const task of STAGE_TASKS[stage]) expect(world.calls(task), task).toBe(0);
    for (const stage of ORDER.slice(index)) for (const task of STAGE_TASKS[stage]) expect(world.calls(task), task).toBeGreaterThan(0);
  });

  it('a GPU timeout resumes at the inpaint: the checkpointed segmentation is not run again', async () => {
    const { world, report } = await runJob({ faults: once(S.runGpu, 'Gpu.Timeout') });
    expect(report.status).toBe('SUCCEEDED');
    const at = report.path.indexOf(S.resume);
    expect(report.path.slice(at, at + 5)).toEqual([S.resume, S.chooseStage, S.chooseBackend, S.prepareGpu, S.runGpu]);
    expect(world.calls(S.planSegmentation)).toBe(1);
  });
});

interface RecoveryRow {
  readonly name: ErrorName;
  readonly at: string;
  readonly recovery: string;
  readonly scenario?: JobScenario;
}

/** Recoverable names whose strategy is a state of its own. */
const RECOVERED: readonly RecoveryRow[] = [
  { name: 'Gpu.OutOfMemory', at: S.runGpu, recovery: S.reduce },
  { name: 'Gpu.ModelMissing', at: S.runGpu, recovery: S.switchModel },
  { name: 'Gpu.Timeout', at: S.runGpu, recovery: S.resume },
  { name: 'States.HeartbeatTimeout', at: S.runGpu, recovery: S.resume },
  { name: 'States.Timeout', at: S.runGpu, recovery: S.resume },
  { name: 'Transient.Network', at: S.runGpu, recovery: S.backoff },
  { name: 'Transient.ServiceUnavailable', at: S.runGpu, recovery: S.backoff },
  { name: 'Transient.RateLimited', at: S.runGpu, recovery: S.backoff },
  { name: 'Transient.Throttled', at: S.runGpu, recovery: S.backoff },
  { name: 'Transient.CircuitOpen', at: S.runGpu, recovery: S.backoff },
  { name: 'Gpu.ModelMissing', at: S.hostedSubmit, recovery: S.switchModel, scenario: HOSTED },
  { name: 'Gpu.OutOfMemory', at: S.hostedPoll, recovery: S.reduce, scenario: HOSTED },
  { name: 'Gpu.Timeout', at: S.hostedPoll, recovery: S.resume, scenario: HOSTED },
  { name: 'Segmentation.DegenerateMask', at: S.aggregate, recovery: S.resegment },
  { name: 'Segmentation.DegenerateMask', at: S.expand, recovery: S.resegment },
  { name: 'Qa.Rejected', at: S.qa, recovery: S.planFix },
];

describe('recoverable errors run their recovery state, bounded by the taxonomy', () => {
  it.each(RECOVERED)('$name at "$at" is caught, not retried in place; one "$recovery" heals it and the job completes', async (row) => {
    // Act
    const { world, report } = await runJob({ ...row.scenario, faults: once(row.at, row.name) });
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.path.at(-1)).toBe(S.done);
    expect(report.retried(row.at)).toBe(0);
    expect(world.calls(row.at)).toBe(2);
    expect(report.entered(row.recovery)).toBe(1);
    const at = report.path.indexOf(row.recovery);
    expect(report.path[at + 1]).toBe(RECOVERY_NEXT[row.recovery]);
    expect(world.calls(S.recordFailure)).toBe(0);
  });

  it.each(RECOVERED)('$name at "$at" that never heals runs "$recovery" up to its bound, then fails the job with Recovery.Exhausted', async (row) => {
    // Prepare
    const bound = entryFor(row.name).maxStrategyAttempts;
    // Act
    const { world, report } = await runJob({ ...row.scenario, faults: always(row.at, row.name) });
    // Assess
    expect(bound).toBeGreaterThan(0);
    expect(world.calls(row.at)).toBe(bound + 1);
    expect(report.entered(row.recovery)).toBe(bound + 1);
    expect(report.retried(row.at)).toBe(0);
    expect(report.path.slice(-2)).toEqual([S.recordFailure, S.failed]);
    expect(report.error?.name).toBe('Recovery.Exhausted');
    expect(world.calls(S.recordFailure)).toBe(1);
    expect(recordedError(world)).toBe('Recovery.Exhausted');
  });
});

interface RetryRow {
  readonly name: ErrorName;
  readonly at: string;
  /** For the state inside the segmentation Map: the item that fails. */
  readonly item?: number;
  readonly scenario?: JobScenario;
}

/** Recoverable names a Lambda task retries in place with the taxonomy's policy. */
const RETRIED_IN_PLACE: readonly RetryRow[] = [
  { name: 'Lambda.ServiceException', at: S.start },
  { name: 'Lambda.AWSLambdaException', at: S.planSegmentation },
  { name: 'Lambda.SdkClientException', at: S.expand },
  { name: 'Lambda.TooManyRequestsException', at: S.prepareGpu },
  { name: 'Lambda.ClientExecutionTimeoutException', at: S.compose },
  { name: 'Lambda.Unknown', at: S.qa },
  { name: 'Sandbox.Timedout', at: S.aggregate },
  { name: 'Sandbox.Timedout', at: S.segmentOne, item: 0 },
  { name: 'Transient.Network', at: S.aggregate },
  { name: 'Transient.ServiceUnavailable', at: S.compose },
  { name: 'Transient.RateLimited', at: S.hostedSubmit, scenario: HOSTED },
  { name: 'Transient.Throttled', at: S.start },
  { name: 'Transient.CircuitOpen', at: S.hostedPoll, scenario: HOSTED },
  { name: 'Provider.MalformedResponse', at: S.segmentOne, item: 0 },
  { name: 'Provider.MalformedResponse', at: S.hostedPoll, scenario: HOSTED },
  { name: 'Provider.MalformedResponse', at: S.qa },
  { name: 'Compositing.Failed', at: S.compose },
];

describe('an inpaint output that compositing cannot decode', () => {
  it('is retried in place, then regenerated by resuming from the inpaint checkpoint', async () => {
    // Prepare: compositing fails its first attempt and both retries, then heals.
    const maxAttempts = entryFor('Compositing.Failed').retry!.MaxAttempts;
    const faults: Faults = { [S.compose]: { name: 'Compositing.Failed', times: maxAttempts + 1 } };
    // Act
    const { world, report } = await runJob({ faults });
    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.retried(S.compose)).toBe(maxAttempts);
    expect(report.entered(S.resume)).toBe(1);
    expect(world.calls(S.compose)).toBe(maxAttempts + 2);
    expect(world.calls(S.recordFailure)).toBe(0);
  });
});

describe('recoverable errors of a Lambda task are retried in place', () => {
  it.each(RETRIED_IN_PLACE)('$name at "$at" heals after a single retry and the job completes', async (row) => {
    const { world, report } = await runJob({ ...row.scenario, faults: once(row.at, row.name, row.item) });
    expect(report.status).toBe('SUCCEEDED');
    expect(report.retried(row.at)).toBe(1);
    expect(world.calls(row.at, row.item)).toBe(2);
    expect(RECOVERY_STATES.filter((r) => report.entered(r) > 0)).toEqual([]);
  });

  // Compositing.Failed is the exception: spent retries regenerate the inpaint (below).
  it.each(RETRIED_IN_PLACE.filter((r) => r.name !== 'Compositing.Failed'))('$name at "$at" that never heals is retried MaxAttempts times, then recorded as the job\'s failure', async (row) => {
    // Prepare
    const maxAttempts = entryFor(row.name).retry?.MaxAttempts;
    // Act
    const { world, report } = await runJob({ ...row.scenario, faults: always(row.at, row.name, row.item) });
    // Assess
    expect(maxAttempts).toBeGreaterThan(0);
    expect(report.retried(row.at)).toBe(maxAttempts);
    expect(world.calls(row.at, row.item)).toBe((maxAttempts ?? 0) + 1);
    expect(RECOVERY_STATES.filter((r) => report.entered(r) > 0)).toEqual([]);
    expect(report.path.slice(-2)).toEqual([S.recordFailure, S.failed]);
    expect(report.error?.name).toBe(row.name);
    expect(world.calls(S.recordFailure)).toBe(1);
    expect(recordedError(world)).toBe(row.name);
  });
});

interface StageRow {
  readonly state: string;
  readonly item?: number;
  readonly scenario?: JobScenario;
  /** For a recovery state: the fault that leads the job into it. */
  readonly trigger?: Faults;
}

/** Every Task a job can run, with what it takes to get there. */
const STAGES: readonly StageRow[] = [
  { state: S.start },
  { state: S.planSegmentation },
  { state: S.segmentOne, item: 0 },
  { state: S.aggregate },
  { state: S.expand },
  { state: S.prepareGpu },
  { state: S.runGpu },
  { state: S.hostedSubmit, scenario: HOSTED },
  { state: S.hostedPoll, scenario: HOSTED },
  { state: S.compose },
  { state: S.qa },
  { state: S.reduce, trigger: once(S.runGpu, 'Gpu.OutOfMemory') },
  { state: S.switchModel, trigger: once(S.runGpu, 'Gpu.ModelMissing') },
  { state: S.resume, trigger: once(S.runGpu, 'Gpu.Timeout') },
  { state: S.resegment, trigger: once(S.aggregate, 'Segmentation.DegenerateMask') },
  { state: S.planFix, trigger: once(S.qa, 'Qa.Rejected') },
  { state: S.backoff, trigger: once(S.runGpu, 'Transient.Network') },
];

const NON_RECOVERABLE = ERROR_NAMES.filter((n) => !entryFor(n).recoverable && n !== 'Control.Stopped');

const atEveryStage = (names: readonly ErrorName[]) =>
  names.flatMap((name) => STAGES.map((stage) => ({ name, ...stage })));

const stageFaults = (row: StageRow & { readonly name: string }): JobScenario => ({
  ...row.scenario,
  faults: { ...row.trigger, ...always(row.state, row.name, row.item) },
});

describe('non-recoverable errors fail the job at once, at any stage', () => {
  it('the non-recoverable names are the Fatal family, Unclassified and Recovery.Exhausted (Control.Stopped aside)', () => {
    expect([...NON_RECOVERABLE].sort()).toEqual(
      ['Fatal.DataCorruption', 'Fatal.DiskFull', 'Fatal.InvalidInput', 'Fatal.WorkflowInvalid', 'Recovery.Exhausted', 'Unclassified'],
    );
  });

  it.each(atEveryStage(NON_RECOVERABLE))('$name thrown by "$state" is never retried: "Record the failure" once, then "Job failed"', async (row) => {
    // Act
    const { world, report } = await runJob(stageFaults(row));
    // Assess
    expect(world.calls(row.state, row.item)).toBe(1);
    expect(report.events.filter((e) => e.type === 'StateRetried')).toEqual([]);
    expect(RECOVERY_STATES.filter((r) => r !== row.state && report.entered(r) > 0)).toEqual([]);
    expect(report.path.slice(-2)).toEqual([S.recordFailure, S.failed]);
    expect(report.error?.name).toBe(row.name);
    expect(world.calls(S.recordFailure)).toBe(1);
    expect(recordedError(world)).toBe(row.name);
  });

  it.each(atEveryStage(['Control.Stopped']))('$name thrown by "$state" ends at "Stopped by emergency stop" without recording a failure', async (row) => {
    const { world, report } = await runJob(stageFaults(row));
    expect(world.calls(row.state, row.item)).toBe(1);
    expect(report.path.at(-1)).toBe(S.stopped);
    expect(report.error?.name).toBe('Control.Stopped');
    expect(world.calls(S.recordFailure)).toBe(0);
  });

  it('a failure recorder that fails itself ends the run at "Job failed" with the original error, without looping', async () => {
    const { world, report } = await runJob({ faults: { ...always(S.runGpu, 'Fatal.InvalidInput'), ...always(S.recordFailure, 'Unclassified') } });
    expect(world.calls(S.recordFailure)).toBe(1);
    expect(report.path.slice(-2)).toEqual([S.recordFailure, S.failed]);
    expect(report.error?.name).toBe('Fatal.InvalidInput');
  });
});

describe('the route tables above', () => {
  it('cover every name of the taxonomy', () => {
    const covered = new Set<string>([...RECOVERED, ...RETRIED_IN_PLACE].map((r) => r.name).concat(NON_RECOVERABLE, 'Control.Stopped'));
    expect(ERROR_NAMES.filter((n) => !covered.has(n))).toEqual([]);
  });

  it('reach every Task of the job machine', () => {
    const tasks = allStates(JOB).filter((s) => s.state.Type === 'Task').map((s) => s.name);
    const reached = new Set(STAGES.map((s) => s.state).concat(S.recordFailure));
    expect(tasks.filter((t) => !reached.has(t))).toEqual([]);
  });
});
