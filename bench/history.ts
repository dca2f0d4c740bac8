/**
 * Reading execution histories the way a bill and an auditor would: state transitions,
 * Lambda invocations and their durations, every failure and what followed it.
 *
 * Task events carry no link to the state that scheduled them (and a Map runs its
 * iterations side by side), so each scheduled attempt is keyed by what it runs — the
 * Lambda function (from the scheduled parameters), `GPU` for the SQS callback task, or the
 * resource — and an outcome event closes the oldest open attempt of its resource. Within
 * one Map all open attempts run the same function, so the pairing is exact up to which of
 * them ended first.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { entryFor } from '../core/taxonomy.ts';

/** A history event reduced to what the benchmark reads. */
export interface HistEvent {
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly type: string;
  /** StateEntered events: the state's name. */
  readonly stateName?: string;
  /** Scheduled events: what the attempt runs (function id, `GPU`, or the resource). */
  readonly fn?: string;
  /** Scheduled and outcome events: `resourceType:resource`, to pair them. */
  readonly resource?: string;
  /** Failed and timed-out events. */
  readonly error?: string;
  /** Succeeded events: the output text. */
  readonly output?: string;
  /** GPU task scheduled events: the attempt number the message carries. */
  readonly attempt?: number;
}

const SCHEDULED = new Set(['TaskScheduled', 'LambdaFunctionScheduled']);
const SUCCEEDED = new Set(['TaskSucceeded', 'LambdaFunctionSucceeded']);
const FAILED = new Set(['TaskFailed', 'LambdaFunctionFailed', 'LambdaFunctionScheduleFailed', 'LambdaFunctionStartFailed', 'TaskStartFailed', 'TaskSubmitFailed']);
const TIMED_OUT = new Set(['TaskTimedOut', 'LambdaFunctionTimedOut']);

/** `arn:…:function:vto-JobStart` → `JobStart`. */
export function functionIdOf(arn: string): string {
  const name = /:function:([^:]+)/.exec(arn)?.[1] ?? arn;
  return name.replace(/^[a-z0-9]+-/, '');
}

function parsed(parameters: string | undefined): Record<string, unknown> {
  if (parameters === undefined) return {};
  try {
    const p: unknown = JSON.parse(parameters);
    return p !== null && typeof p === 'object' ? (p as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function parametersFunction(parameters: string | undefined): string | undefined {
  const name = parsed(parameters)['FunctionName'];
  return typeof name === 'string' ? functionIdOf(name) : undefined;
}

/** The attempt a GPU task message carries (MessageBody.attempt). */
function gpuAttempt(parameters: string | undefined): number | undefined {
  const body = parsed(parameters)['MessageBody'];
  const attempt = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)['attempt'] : undefined;
  return typeof attempt === 'number' ? attempt : undefined;
}

/** SDK history events (GetExecutionHistory with execution data) → HistEvent. */
export function fromSdk(e: HistoryEvent): HistEvent {
  const timestamp = e.timestamp?.getTime() ?? 0;
  const type = e.type ?? '';
  const base = { timestamp, type };
  if (e.stateEnteredEventDetails?.name !== undefined) return { ...base, stateName: e.stateEnteredEventDetails.name };
  const sched = e.taskScheduledEventDetails;
  if (sched) {
    const resource = `${sched.resourceType}:${sched.resource}`;
    if (sched.resourceType === 'sqs') {
      const attempt = gpuAttempt(sched.parameters);
      return { ...base, resource, fn: 'GPU', ...(attempt !== undefined && { attempt }) };
    }
    return { ...base, resource, fn: sched.resourceType === 'lambda' ? parametersFunction(sched.parameters) ?? resource : resource };
  }
  if (e.lambdaFunctionScheduledEventDetails) {
    const arn = e.lambdaFunctionScheduledEventDetails.resource ?? '';
    return { ...base, resource: `lambda:${arn}`, fn: functionIdOf(arn) };
  }
  const task = e.taskSucceededEventDetails ?? e.taskFailedEventDetails ?? e.taskTimedOutEventDetails ?? e.taskStartFailedEventDetails ?? e.taskSubmitFailedEventDetails;
  if (task) {
    return {
      ...base, resource: `${task.resourceType}:${task.resource}`,
      ...('error' in task && task.error !== undefined && { error: task.error }),
      ...('output' in task && task.output !== undefined && { output: task.output }),
    };
  }
  const lambda = e.lambdaFunctionSucceededEventDetails ?? e.lambdaFunctionFailedEventDetails ?? e.lambdaFunctionTimedOutEventDetails
    ?? e.lambdaFunctionScheduleFailedEventDetails ?? e.lambdaFunctionStartFailedEventDetails;
  if (lambda) {
    return { ...base, ...('error' in lambda && lambda.error !== undefined && { error: lambda.error }), ...('output' in lambda && lambda.output !== undefined && { output: lambda.output }) };
  }
  return base;
}

export interface Attempt {
  readonly fn: string;
  readonly resource: string;
  /** GPU attempts: the attempt number of the message. */
  readonly attempt: number | null;
  readonly scheduledAt: number;
  endedAt: number | null;
  outcome: 'succeeded' | 'failed' | 'timedOut' | null;
  error: string | null;
  output: string | null;
}

export interface FailureSeen {
  readonly at: number;
  readonly fn: string;
  readonly error: string;
  readonly recoverable: boolean;
  /** Non-recoverable and then retried: scheduled again, or a recovery state entered, in the same execution. */
  readonly falseRecovery: boolean;
}

export interface ExecutionFigures {
  /** Billed transitions: states entered plus retries (a retry is a billed transition). */
  readonly transitions: number;
  readonly statesEntered: readonly string[];
  readonly attempts: readonly Attempt[];
  readonly failures: readonly FailureSeen[];
}

const isLambda = (a: Pick<Attempt, 'resource'>) => a.resource.startsWith('lambda:');

/**
 * One execution's figures. `recoveryStates` are the states that run a recovery strategy:
 * entering one after a non-recoverable failure is a false recovery, as is scheduling the
 * failed function again.
 */
export function readExecution(events: readonly HistEvent[], recoveryStates: readonly string[]): ExecutionFigures {
  const attempts: Attempt[] = [];
  const open: Attempt[] = [];
  const statesEntered: string[] = [];
  const failures: { at: number; fn: string; error: string; recoverable: boolean; index: number }[] = [];
  /** Per event index: the attempt scheduled or the recovery state entered there. */
  const later: { index: number; fn?: string; recoveryState?: string }[] = [];
  const started = { task: 0, parallel: 0, map: 0 };
  const entered = { task: 0, parallel: 0, map: 0 };
  events.forEach((e, index) => {
    if (e.type.endsWith('StateEntered')) {
      statesEntered.push(e.stateName ?? '');
      if (e.type === 'TaskStateEntered') entered.task++;
      if (e.type === 'ParallelStateEntered') entered.parallel++;
      if (e.type === 'MapStateEntered') entered.map++;
      if (e.stateName !== undefined && recoveryStates.includes(e.stateName)) later.push({ index, recoveryState: e.stateName });
      return;
    }
    if (e.type === 'ParallelStateStarted') started.parallel++;
    if (e.type === 'MapStateStarted') started.map++;
    if (SCHEDULED.has(e.type)) {
      started.task++;
      const a: Attempt = { fn: e.fn ?? e.resource ?? '?', resource: e.resource ?? '?', attempt: e.attempt ?? null, scheduledAt: e.timestamp, endedAt: null, outcome: null, error: null, output: null };
      attempts.push(a);
      open.push(a);
      later.push({ index, fn: a.fn });
      return;
    }
    const outcome = SUCCEEDED.has(e.type) ? 'succeeded' : FAILED.has(e.type) ? 'failed' : TIMED_OUT.has(e.type) ? 'timedOut' : null;
    if (outcome === null) return;
    // Lambda function events name no resource: they close the oldest open Lambda attempt.
    const i = open.findIndex((a) => (e.resource === undefined ? isLambda(a) : a.resource === e.resource));
    if (i < 0) return;
    const [a] = open.splice(i, 1);
    a!.endedAt = e.timestamp;
    a!.outcome = outcome;
    a!.error = e.error ?? null;
    a!.output = e.output ?? null;
    if (outcome !== 'succeeded') {
      const error = e.error ?? 'Unclassified';
      failures.push({ at: e.timestamp, fn: a!.fn, error, recoverable: entryFor(error).recoverable, index });
    }
  });
  const retries = Math.max(0, started.task - entered.task) + Math.max(0, started.parallel - entered.parallel) + Math.max(0, started.map - entered.map);
  return {
    transitions: statesEntered.length + retries,
    statesEntered,
    attempts,
    failures: failures.map(({ index, ...f }) => ({
      ...f,
      falseRecovery: !f.recoverable && later.some((l) => l.index > index && (l.fn === f.fn || l.recoveryState !== undefined)),
    })),
  };
}

export type EpisodeOutcome = 'recovered' | 'failed';

/** A recoverable failure of one function, from its first occurrence until the function works again. */
export interface Episode {
  readonly fn: string;
  readonly error: string;
  readonly openedAt: number;
  readonly failures: number;
  readonly outcome: EpisodeOutcome;
  /** From the first failure to the function's next success (attempt scheduled after it); null when that never came. */
  readonly timeToRecoverMs: number | null;
}

/** How the job ended, from its DynamoDB item (not from the histories). */
export interface JobEnd {
  readonly complete: boolean;
  /** The error name the job was failed with (the item's `error.name`). */
  readonly error: string | null;
}

/**
 * A job's recoverable failures as episodes, over all its executions in order: a streak of
 * one function failing with one error, until the function next succeeds (its time to
 * recover) or fails otherwise. Operator stops (Control.Stopped) are not failures.
 *
 * Whether an episode was recovered is decided by how the job ended, which the histories'
 * pairing of concurrent Map attempts cannot blur: a complete job recovered from every
 * episode. A failed job failed of its recorded error: when that error is recoverable (its
 * bound ran out) the last episode of it failed; when it is a fault planned for the job (a
 * full disk, a corrupt input) the job died of that, and every episode before was recovered;
 * when it is neither (Recovery.Exhausted, or a failure the recovery itself caused, such as a
 * blind retry breaking a status rule) the last episode opened before it failed.
 */
export function episodes(executions: readonly ExecutionFigures[], end: JobEnd, planned: ReadonlySet<string> = new Set()): Episode[] {
  type Streak = { fn: string; error: string; openedAt: number; failures: number; recoveredAt: number | null };
  const streaks: Streak[] = [];
  const open = new Map<string, Streak>();
  let firstFinalError: number | null = null;
  for (const x of executions) {
    type Step = { at: number; kind: 'fail'; fn: string; error: string; recoverable: boolean } | { at: number; kind: 'ok'; fn: string; scheduledAt: number };
    const steps: Step[] = [
      ...x.failures.map((f): Step => ({ at: f.at, kind: 'fail', fn: f.fn, error: f.error, recoverable: f.recoverable })),
      ...x.attempts.filter((a) => a.outcome === 'succeeded').map((a): Step => ({ at: a.endedAt!, kind: 'ok', fn: a.fn, scheduledAt: a.scheduledAt })),
    ].sort((a, b) => a.at - b.at || (a.kind === 'fail' ? -1 : 1));
    for (const s of steps) {
      const o = open.get(s.fn);
      if (s.kind === 'ok') {
        if (o && s.scheduledAt >= o.openedAt) {
          o.recoveredAt = s.at;
          open.delete(s.fn);
        }
        continue;
      }
      if (s.error === 'Control.Stopped') continue;
      if (s.error === end.error && firstFinalError === null) firstFinalError = s.at;
      if (o && o.error === s.error) {
        o.failures++;
        continue;
      }
      open.delete(s.fn);
      if (s.recoverable) {
        const streak: Streak = { fn: s.fn, error: s.error, openedAt: s.at, failures: 1, recoveredAt: null };
        streaks.push(streak);
        open.set(s.fn, streak);
      }
    }
  }
  // A job that never ended (lost) recovered from nothing still open.
  if (!end.complete && end.error === null) {
    return streaks.map((x) => ({
      fn: x.fn, error: x.error, openedAt: x.openedAt, failures: x.failures,
      outcome: x.recoveredAt === null ? 'failed' : 'recovered',
      timeToRecoverMs: x.recoveredAt === null ? null : x.recoveredAt - x.openedAt,
    }));
  }
  let failed: Streak | undefined;
  if (!end.complete && end.error !== null && end.error !== 'Control.Stopped') {
    if (entryFor(end.error).recoverable) failed = streaks.filter((x) => x.error === end.error).at(-1);
    else if (!planned.has(end.error)) failed = streaks.filter((x) => firstFinalError === null || x.openedAt <= firstFinalError).at(-1);
  }
  return streaks.map((x) => ({
    fn: x.fn, error: x.error, openedAt: x.openedAt, failures: x.failures,
    outcome: x === failed ? 'failed' : 'recovered',
    timeToRecoverMs: x.recoveredAt === null ? null : x.recoveredAt - x.openedAt,
  }));
}

export interface LambdaUse {
  readonly invocations: number;
  /** Per function: invocations and summed duration (ms, scheduled to outcome). */
  readonly byFunction: Record<string, { invocations: number; ms: number }>;
}

export function lambdaUse(executions: readonly ExecutionFigures[]): LambdaUse {
  const byFunction: Record<string, { invocations: number; ms: number }> = {};
  let invocations = 0;
  for (const x of executions) {
    for (const a of x.attempts.filter(isLambda)) {
      invocations++;
      const f = (byFunction[a.fn] ??= { invocations: 0, ms: 0 });
      f.invocations++;
      f.ms += a.endedAt === null ? 0 : a.endedAt - a.scheduledAt;
    }
  }
  return { invocations, byFunction };
}

/** The promptId of the GPU attempt whose output the job kept: the last successful GPU task. */
export function finalPromptId(executions: readonly ExecutionFigures[]): string | null {
  const gpu = executions.flatMap((x) => x.attempts).filter((a) => a.fn === 'GPU' && a.outcome === 'succeeded' && a.output !== null);
  const last = gpu.at(-1);
  if (last === undefined) return null;
  try {
    const out = JSON.parse(last.output!) as { promptId?: unknown };
    return typeof out.promptId === 'string' ? out.promptId : null;
  } catch {
    return null;
  }
}
