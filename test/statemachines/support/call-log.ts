/**
 * What the fakes of a machine were asked, and the faults they were scripted to throw.
 * A fault makes the first `times` calls of a state fail with a named error, then the
 * state heals; `times: Infinity` is a fault that never heals.
 */
import type { Json, TaskHandler } from './run-machine.ts';
import { namedError } from './named-error.ts';

export interface Fault {
  /** The error name thrown, as ASL matches it. */
  readonly name: string;
  /** How many calls fail before the state heals (Infinity: never). */
  readonly times: number;
  /** For a state inside a Map: only calls for this item index fail. */
  readonly item?: number;
}

export type Faults = Readonly<Partial<Record<string, Fault>>>;

export interface Call {
  readonly state: string;
  /** Map item index, for states inside a Map. */
  readonly item: number | undefined;
  /** What the fake received: a Lambda task's Payload ({state, executionArn}), else the task input. */
  readonly received: unknown;
  /** The error name thrown, or null when the call succeeded. */
  readonly threw: string | null;
}

export class CallLog {
  readonly calls: Call[] = [];
  readonly #faults: Faults;

  constructor(faults: Faults = {}) {
    this.#faults = faults;
  }

  /** Records a call to `state`; throws its scripted fault when this call is one it covers. */
  enter(state: string, item: number | undefined, received: unknown): void {
    const fault = this.#faults[state];
    const covered = fault !== undefined && (fault.item === undefined || fault.item === item);
    const nth = covered ? this.count(state, fault.item) + 1 : 0;
    const threw = covered && nth <= fault.times ? fault.name : null;
    this.calls.push({ state, item, received, threw });
    if (threw !== null) throw namedError(threw);
  }

  /** Calls of a state, optionally only those for one Map item. */
  count(state: string, item?: number): number {
    return this.calls.filter((c) => c.state === state && (item === undefined || c.item === item)).length;
  }
}

/** What a Lambda task passes through `Parameters`: the machine state and the execution ARN. */
export interface LambdaInput {
  readonly FunctionName: string;
  readonly Payload: { readonly state: Record<string, unknown>; readonly executionArn: string };
}

/**
 * A fake for a `lambda:invoke` task: records the call, throws its fault if scripted, and
 * otherwise returns `{Payload: next state}` as Lambda's invocation envelope does.
 */
export function lambdaFake(
  log: CallLog,
  state: string,
  fake: (s: Record<string, unknown>, input: LambdaInput) => Record<string, unknown> | Promise<Record<string, unknown>>,
): TaskHandler {
  return async (input: Json) => {
    const li = input as unknown as LambdaInput;
    const s = li.Payload.state;
    log.enter(state, typeof s['index'] === 'number' ? s['index'] : undefined, li.Payload);
    return { Payload: (await fake(s, li)) as Json };
  };
}
