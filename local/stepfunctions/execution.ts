/**
 * One execution's record: status, data, history, and the scope whose abort ends all of
 * its pending work. The first terminal status wins; later ones are ignored.
 */
import { History } from './history.ts';
import { rootScope, type ExecutionDescription, type Scope } from './run-env.ts';
import type { ExecutionStatus, JsonObject } from './types.ts';

export interface ExecutionInit {
  readonly arn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly roleArn: string;
  readonly seq: number;
  /** Called once, when the execution reaches a terminal status. */
  readonly onFinish: (e: Execution) => void;
  /** Called once, when the history reaches its event limit. */
  readonly onHistoryLimit: (e: Execution) => void;
}

interface Outcome {
  output?: string;
  error?: string | undefined;
  cause?: string | undefined;
}

const TERMINAL_EVENTS: Record<Exclude<ExecutionStatus, 'RUNNING'>, [type: string, detailsKey: string]> = {
  SUCCEEDED: ['ExecutionSucceeded', 'executionSucceededEventDetails'],
  FAILED: ['ExecutionFailed', 'executionFailedEventDetails'],
  TIMED_OUT: ['ExecutionTimedOut', 'executionTimedOutEventDetails'],
  ABORTED: ['ExecutionAborted', 'executionAbortedEventDetails'],
};

export class Execution {
  readonly arn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly seq: number;
  readonly startDate = Date.now();
  readonly history: History;
  readonly scope: Scope = rootScope();
  readonly done: Promise<ExecutionDescription>;
  status: ExecutionStatus = 'RUNNING';
  stopDate: number | undefined;
  output: string | undefined;
  error: string | undefined;
  cause: string | undefined;
  private resolveDone: (d: ExecutionDescription) => void = () => undefined;
  private readonly onFinish: (e: Execution) => void;

  constructor(init: ExecutionInit) {
    this.arn = init.arn;
    this.stateMachineArn = init.stateMachineArn;
    this.name = init.name;
    this.input = init.input;
    this.seq = init.seq;
    this.onFinish = init.onFinish;
    this.history = new History(() => init.onHistoryLimit(this));
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.history.add('ExecutionStarted', 'executionStartedEventDetails', {
      input: init.input,
      inputDetails: { truncated: false },
      roleArn: init.roleArn,
    });
  }

  get running(): boolean {
    return this.status === 'RUNNING';
  }

  /** Sets the terminal status, writes its event and aborts whatever is still pending. */
  finish(status: Exclude<ExecutionStatus, 'RUNNING'>, outcome: Outcome): boolean {
    if (this.status !== 'RUNNING') return false;
    this.status = status;
    this.stopDate = Date.now();
    this.output = outcome.output;
    this.error = outcome.error || undefined;
    this.cause = outcome.cause || undefined;
    const [type, key] = TERMINAL_EVENTS[status];
    const details: JsonObject =
      status === 'SUCCEEDED'
        ? { output: outcome.output ?? 'null', outputDetails: { truncated: false } }
        : { ...(this.error !== undefined ? { error: this.error } : {}), ...(this.cause !== undefined ? { cause: this.cause } : {}) };
    this.history.close(type, key, details);
    this.scope.abort();
    this.resolveDone(this.describe());
    this.onFinish(this);
    return true;
  }

  describe(): ExecutionDescription {
    return {
      executionArn: this.arn,
      stateMachineArn: this.stateMachineArn,
      name: this.name,
      status: this.status,
      startDate: this.startDate,
      input: this.input,
      ...(this.stopDate !== undefined ? { stopDate: this.stopDate } : {}),
      ...(this.output !== undefined ? { output: this.output } : {}),
      ...(this.error !== undefined ? { error: this.error } : {}),
      ...(this.cause !== undefined ? { cause: this.cause } : {}),
    };
  }
}
