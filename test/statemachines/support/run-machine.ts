/**
 * Runs an ASL definition with aws-local-stepfunctions, every Task replaced by a fake, every
 * Wait and retry interval shrunk to zero, and the event log drained while it runs, so a
 * test can read the route an execution took.
 */
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import type { StateMachineDefinition } from '../../../statemachines/asl-types.ts';
import { allStates, retriersOf } from './asl.ts';

type Run = ReturnType<StateMachine['run']>;
/** A JSON value as the library passes it around. */
export type Json = Parameters<StateMachine['run']>[0];
export type MachineEvent = Run['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
export type TaskHandler = (input: Json) => Promise<Json> | Json;
type LocalDefinition = ConstructorParameters<typeof StateMachine>[0];

export interface RunOptions {
  /** One fake per Task state, keyed by state name (nested states included). */
  readonly tasks: Readonly<Record<string, TaskHandler>>;
  /** `$$.Execution.Id`, which every Lambda task passes to its handler. */
  readonly executionId: string;
}

export interface ExecutionReport {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output: Json | null;
  /** The execution's error (name as ASL matches it, cause as the Fail state set it). */
  readonly error: { readonly name: string; readonly cause: string } | null;
  /** Top-level states in the order they were entered. */
  readonly path: readonly string[];
  readonly events: readonly MachineEvent[];
  /** Times a state was entered (at any depth). */
  entered(state: string): number;
  /** StateRetried events of a state (at any depth). */
  retried(state: string): number;
}

/** The task token the GPU task reads from `$$.Task.Token`. */
export const TASK_TOKEN = 'task-token-1';

/** Raised when a machine has a Task the test did not fake: offline it would call AWS. */
export class MissingFakeError extends Error {
  override readonly name = 'MissingFakeError';
}

/**
 * The library reads TimeoutSecondsPath from the task's Parameters output, not from its input
 * as Step Functions does, and the fakes answer at once anyway: task time limits are left to
 * the local Step Functions service, which runs them as AWS does (test/statemachines/gpu-wait.test.ts).
 */
function withoutTimeLimits(def: StateMachineDefinition): StateMachineDefinition {
  const copy = structuredClone(def);
  for (const { state } of allStates(copy)) {
    delete state['TimeoutSecondsPath'];
    delete state['HeartbeatSecondsPath'];
  }
  return copy;
}

/** Validating a definition compiles asl-validator's schemas (tens of ms): once per definition. */
const machines = new WeakMap<StateMachineDefinition, StateMachine>();
function machineFor(def: StateMachineDefinition): StateMachine {
  let machine = machines.get(def);
  if (machine === undefined) {
    machine = new StateMachine(withoutTimeLimits(def) as unknown as LocalDefinition);
    machines.set(def, machine);
  }
  return machine;
}

export async function runMachine(def: StateMachineDefinition, input: Json, o: RunOptions): Promise<ExecutionReport> {
  const located = allStates(def);
  const unfaked = located.filter((s) => s.state.Type === 'Task' && o.tasks[s.name] === undefined).map((s) => s.name);
  if (unfaked.length > 0) throw new MissingFakeError(`no fake for Task state(s): ${unfaked.join(', ')}`);

  const machine = machineFor(def);
  const run = machine.run(input, {
    context: { Execution: { Id: o.executionId }, Task: { Token: TASK_TOKEN } },
    overrides: {
      taskResourceLocalHandlers: { ...o.tasks },
      waitTimeOverrides: Object.fromEntries(located.filter((s) => s.state.Type === 'Wait').map((s) => [s.name, 0])),
      retryIntervalOverrides: Object.fromEntries(located.filter((s) => retriersOf(s.state).length > 0).map((s) => [s.name, 0])),
    },
  });
  const events: MachineEvent[] = [];
  const drained = (async () => { for await (const e of run.eventLogs) events.push(e); })();

  let output: Json | null = null;
  let error: ExecutionReport['error'] = null;
  try {
    output = await run.result;
  } catch (e) {
    if (!(e instanceof ExecutionError) || !(e.cause instanceof Error)) throw e;
    error = { name: e.cause.name, cause: e.cause.message };
  }
  await drained;

  const count = (type: MachineEvent['type'], state: string) =>
    events.filter((e) => e.type === type && 'state' in e && e.state.name === state).length;
  return {
    status: error === null ? 'SUCCEEDED' : 'FAILED',
    output,
    error,
    path: events.flatMap((e) => (e.type === 'StateEntered' && e.index === undefined ? [e.state.name] : [])),
    events,
    entered: (state) => count('StateEntered', state),
    retried: (state) => count('StateRetried', state),
  };
}
