/**
 * What the state handlers of one execution share: its history, its `$$` context and the
 * service's parts (Lambda handlers, SQS, tokens, child executions).
 */
import type { Account } from './arns.ts';
import type { StateType } from './compile.ts';
import type { History } from './history.ts';
import type { LambdaRegistry } from './lambda-registry.ts';
import type { LambdaSlots } from './lambda-slots.ts';
import type { TaskTokens } from './task-tokens.ts';
import type { ExecutionStatus, JsonObject, SqsSender } from './types.ts';

export interface ExecutionDescription {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  /** Epoch ms. */
  readonly startDate: number;
  readonly stopDate?: number;
  readonly input: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

export interface StartedExecution {
  readonly executionArn: string;
  readonly startDate: number;
  /** Settles (never rejects) when the execution reaches a terminal status. */
  readonly done: Promise<ExecutionDescription>;
}

/** Tasks start and stop executions of this same service. */
export interface ChildExecutions {
  /** Throws the SfnApiError StartExecution would. */
  start(params: { stateMachineArn: unknown; name: unknown; input: string }): StartedExecution;
  /** Stops it when still running. */
  stop(executionArn: string, cause: string): void;
}

export interface ServiceDeps {
  readonly account: Account;
  readonly timeScale: number;
  readonly lambdas: LambdaRegistry;
  readonly lambdaSlots: LambdaSlots;
  readonly sqs: SqsSender | undefined;
  readonly tokens: TaskTokens;
  /** What `$$.Task.Token` evaluates to; each attempt swaps it for a fresh token. */
  readonly tokenPlaceholder: string;
  readonly statesTimeout: () => Error;
  readonly children: ChildExecutions;
  /** Running Lambda handlers, so stop() can wait for them a little. */
  trackHandler(p: Promise<unknown>): void;
}

export interface RunEnv {
  readonly executionArn: string;
  readonly history: History;
  readonly stateTypes: ReadonlyMap<string, StateType>;
  /** The `$$` context object given to the library. */
  readonly context: JsonObject;
  readonly deps: ServiceDeps;
}

/** A unit that can be aborted on its own: an execution, a Map iteration, a Parallel branch. */
export interface Scope {
  readonly signal: AbortSignal;
  abort(): void;
}

export function rootScope(): Scope {
  const controller = new AbortController();
  return { signal: controller.signal, abort: () => controller.abort() };
}

export function childScope(parent: Scope): Scope {
  const controller = new AbortController();
  return { signal: AbortSignal.any([parent.signal, controller.signal]), abort: () => controller.abort() };
}
