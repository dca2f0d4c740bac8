/**
 * The service's core, behind the HTTP API: state machines, executions and task tokens,
 * with the Step Functions rules for names, idempotent starts and task callbacks.
 */
import { randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionTimeoutError } from 'aws-local-stepfunctions';
import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidDefinition,
  InvalidExecutionInput,
  InvalidName,
  InvalidOutput,
  ServiceUnavailable,
  StateMachineAlreadyExists,
  StateMachineDoesNotExist,
  ValidationException,
} from './api-errors.ts';
import { assertArn, assertValidName, executionArn, stateMachineArn, type Account } from './arns.ts';
import { compileDefinition, type CompiledDefinition, type CompiledLevel } from './compile.ts';
import { Execution } from './execution.ts';
import { ExecutionStore, type ListQuery } from './execution-store.ts';
import { failureOf } from './flow-handlers.ts';
import { LambdaRegistry } from './lambda-registry.ts';
import { MAX_PAYLOAD_BYTES } from './payload-limit.ts';
import { runLevel } from './level-runner.ts';
import type { ChildExecutions, RunEnv, ServiceDeps, StartedExecution } from './run-env.ts';
import { StatusNotifier } from './status-events.ts';
import { TaskError } from './task-errors.ts';
import { TaskTokens } from './task-tokens.ts';
import { LambdaSlots } from './lambda-slots.ts';
import type { CreateStateMachineInput, EventBridgeStepFunctionsStatusEvent, Json, LambdaFunctionConfig, LambdaHandler, SqsSender } from './types.ts';


export interface StateMachineRecord {
  readonly arn: string;
  readonly name: string;
  readonly roleArn: string;
  readonly creationDate: number;
  readonly compiled: CompiledDefinition;
}

export interface EngineOptions {
  readonly account: Account;
  readonly timeScale: number;
  readonly lambdaHandlers: Readonly<Record<string, LambdaHandler | LambdaFunctionConfig>>;
  readonly sqs: SqsSender | undefined;
  readonly onStatusChange: ((e: EventBridgeStepFunctionsStatusEvent) => void | Promise<void>) | undefined;
  readonly maxExecutions: number;
  readonly lambdaTimeoutMs: number;
  readonly lambdaConcurrency: number;
  readonly statesTimeout: () => Error;
}

function usesSqs(level: CompiledLevel): boolean {
  for (const spec of level.specs.values()) {
    if (spec.kind === 'task' && spec.resource.kind === 'sqs-send') return true;
    if (spec.kind === 'map' && usesSqs(spec.processor)) return true;
    if (spec.kind === 'parallel' && spec.branches.some(usesSqs)) return true;
  }
  return false;
}

function parseJson(text: string, onError: (message: string) => Error): Json {
  if (Buffer.byteLength(text, 'utf8') > MAX_PAYLOAD_BYTES) throw new ValidationException(`The payload is larger than ${MAX_PAYLOAD_BYTES} bytes`);
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw onError((e as Error).message);
  }
}

export class Engine {
  readonly account: Account;
  private readonly opts: EngineOptions;
  private readonly machines = new Map<string, StateMachineRecord>();
  private readonly executions: ExecutionStore;
  private readonly tokens = new TaskTokens();
  private readonly notifier: StatusNotifier;
  private readonly deps: ServiceDeps;
  private readonly runs = new Set<Promise<void>>();
  private readonly handlers = new Set<Promise<unknown>>();
  private seq = 0;
  private stopping = false;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.account = opts.account;
    this.executions = new ExecutionStore(opts.maxExecutions);
    this.notifier = new StatusNotifier(opts.onStatusChange, opts.account);
    const children: ChildExecutions = {
      start: (p) => this.startChild(p),
      stop: (arn, cause) => {
        this.executions.get(arn)?.finish('ABORTED', { cause });
      },
    };
    this.deps = {
      account: opts.account,
      timeScale: opts.timeScale,
      lambdas: new LambdaRegistry(opts.lambdaHandlers, opts.account, opts.lambdaTimeoutMs),
      lambdaSlots: new LambdaSlots(opts.lambdaConcurrency),
      sqs: opts.sqs,
      tokens: this.tokens,
      tokenPlaceholder: `local-sfn-task-token-placeholder-${randomUUID()}`,
      statesTimeout: opts.statesTimeout,
      children,
      trackHandler: (p) => {
        const tracked = p.then(
          () => undefined,
          () => undefined,
        );
        this.handlers.add(tracked);
        void tracked.then(() => this.handlers.delete(tracked));
      },
    };
  }

  // ---- state machines ----

  createStateMachine(input: CreateStateMachineInput): StateMachineRecord {
    assertValidName('state machine', input.name);
    const compiled = compileDefinition(input.definition, input.substitutions ?? {}, this.opts.timeScale);
    if (!this.opts.sqs && usesSqs(compiled.root)) {
      throw new InvalidDefinition(`State machine '${input.name}' has sqs:sendMessage tasks; pass the sqs option to startLocalStepFunctions`);
    }
    const arn = stateMachineArn(this.account, input.name);
    const existing = this.machines.get(arn);
    if (existing) {
      if (existing.compiled.definition === compiled.definition) return existing;
      throw new StateMachineAlreadyExists(`State Machine Already Exists: '${arn}'`);
    }
    const record: StateMachineRecord = {
      arn,
      name: input.name,
      roleArn: input.roleArn ?? `arn:aws:iam::${this.account.accountId}:role/local-stepfunctions`,
      creationDate: Date.now(),
      compiled,
    };
    this.machines.set(arn, record);
    return record;
  }

  stateMachine(arn: unknown): StateMachineRecord {
    const machine = this.machines.get(assertArn(arn, 'stateMachine'));
    if (!machine) throw new StateMachineDoesNotExist(`State Machine Does Not Exist: '${String(arn)}'`);
    return machine;
  }

  stateMachines(): StateMachineRecord[] {
    return [...this.machines.values()];
  }

  // ---- executions ----

  startExecution(p: { stateMachineArn: unknown; name?: unknown; input?: unknown }): Execution {
    if (this.stopping) throw new ServiceUnavailable('The local Step Functions service is stopping');
    const machine = this.stateMachine(p.stateMachineArn);
    if (p.name !== undefined && p.name !== null && typeof p.name !== 'string') throw new InvalidName('Invalid execution name: it must be a string');
    const name = typeof p.name === 'string' ? p.name : randomUUID();
    assertValidName('execution', name);
    if (p.input !== undefined && p.input !== null && typeof p.input !== 'string') throw new InvalidExecutionInput('Invalid execution input: it must be a JSON string');
    const input = typeof p.input === 'string' ? p.input : '{}';
    const parsed = parseJson(input, (m) => new InvalidExecutionInput(`Invalid State Machine Execution Input: '${m}'`));
    const arn = executionArn(this.account, machine.name, name);
    const existing = this.executions.get(arn);
    if (existing) {
      // As for Standard machines: the same name and input while it runs is the same start.
      if (existing.running && existing.input === input) return existing;
      throw new ExecutionAlreadyExists(`Execution Already Exists: '${arn}'`);
    }
    const execution = new Execution({
      arn,
      stateMachineArn: machine.arn,
      name,
      input,
      roleArn: machine.roleArn,
      seq: ++this.seq,
      onFinish: (e) => {
        this.notifier.notify(e.describe());
        this.executions.evict();
      },
      onHistoryLimit: (e) =>
        queueMicrotask(() => e.finish('FAILED', { error: 'States.Runtime', cause: 'The execution reached the limit of 25,000 history events' })),
    });
    this.executions.add(execution);
    this.notifier.notify(execution.describe());
    const run = this.run(execution, machine, parsed);
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
    return execution;
  }

  private startChild(p: { stateMachineArn: unknown; name: unknown; input: string }): StartedExecution {
    const child = this.startExecution({ stateMachineArn: p.stateMachineArn, name: p.name ?? undefined, input: p.input });
    return { executionArn: child.arn, startDate: child.startDate, done: child.done };
  }

  private async run(execution: Execution, machine: StateMachineRecord, input: Json): Promise<void> {
    const env: RunEnv = {
      executionArn: execution.arn,
      history: execution.history,
      stateTypes: machine.compiled.stateTypes,
      context: {
        Execution: { Id: execution.arn, Name: execution.name, RoleArn: machine.roleArn, StartTime: new Date(execution.startDate).toISOString(), Input: input },
        StateMachine: { Id: machine.arn, Name: machine.name },
        Task: { Token: this.deps.tokenPlaceholder },
      },
      deps: this.deps,
    };
    try {
      const output = await runLevel(machine.compiled.root, input, execution.scope, env);
      execution.finish('SUCCEEDED', { output: JSON.stringify(output ?? null) });
    } catch (e) {
      if (e instanceof ExecutionTimeoutError) {
        execution.finish('TIMED_OUT', { error: 'States.Timeout', cause: 'The execution ran longer than its TimeoutSeconds' });
      } else if (e instanceof ExecutionAbortedError) {
        execution.finish('ABORTED', {});
      } else {
        const failure = failureOf(e);
        execution.finish('FAILED', { error: failure.name, cause: failure.message });
      }
    }
  }

  execution(arn: unknown): Execution {
    const execution = this.executions.get(assertArn(arn, 'execution'));
    if (!execution) throw new ExecutionDoesNotExist(`Execution Does Not Exist: '${String(arn)}'`);
    return execution;
  }

  /** StopExecution: ABORTED with the given error and cause; a finished execution stays as it is. */
  stopExecution(arn: unknown, error?: string, cause?: string): Execution {
    const execution = this.execution(arn);
    execution.finish('ABORTED', { error, cause });
    return execution;
  }

  listExecutions(q: ListQuery): { executions: Execution[]; nextToken?: string } {
    this.stateMachine(q.stateMachineArn);
    return this.executions.list(q);
  }

  // ---- task callbacks ----

  sendTaskSuccess(token: unknown, output: unknown): void {
    const attempt = this.tokens.find(token);
    if (typeof output !== 'string') throw new InvalidOutput('Invalid output: it must be a JSON string');
    attempt.succeed(parseJson(output, (m) => new InvalidOutput(`Invalid Output: '${m}'`)));
  }

  sendTaskFailure(token: unknown, error?: string, cause?: string): void {
    this.tokens.find(token).fail(new TaskError(error ?? '', cause ?? ''));
  }

  sendTaskHeartbeat(token: unknown): void {
    this.tokens.find(token).heartbeat();
  }

  // ---- shutdown ----

  /** Aborts every running execution and waits for them to unwind (handlers: at most graceMs). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const execution of this.executions.running()) {
      execution.finish('ABORTED', { cause: 'The local Step Functions service stopped' });
    }
    await Promise.allSettled([...this.runs]);
    const stragglers = Promise.allSettled([...this.handlers, ...this.notifier.inFlight()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stragglers, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
}
