/**
 * Public types of the local Step Functions service: what the offline runtime passes in
 * (handlers, an SQS sender, a status listener) and what it gets back.
 */
import type { Context } from 'aws-lambda';
import type { VerifierCredentials } from '../sigv4-verify.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/**
 * The context a Lambda handler receives: the fields of the real one (so Powertools and
 * middy accept it) plus an AbortSignal that fires when the task is abandoned (execution
 * stopped, task timed out), because an in-process handler cannot be killed.
 */
export interface LambdaLikeContext extends Context {
  readonly abortSignal: AbortSignal;
  /** The execution that invoked the function. */
  readonly executionArn: string;
}

export type LambdaHandler = (event: unknown, context: LambdaLikeContext) => Promise<unknown>;

/** A handler with its function's configuration, as the deployed function has it. */
export interface LambdaFunctionConfig {
  readonly handler: LambdaHandler;
  /**
   * The function's configured timeout, in real seconds (handlers run at their own speed,
   * whatever the time scale). Past it the invocation fails as Lambda's does
   * (`Sandbox.Timedout`), the handler's abortSignal fires and its late result is dropped.
   * @default the service's lambdaTimeoutSeconds
   */
  readonly timeoutSeconds?: number;
}

/** What sqs:sendMessage tasks use to deliver; the offline runtime passes a real SQS client. */
export interface SqsSender {
  send(queueUrl: string, body: string): Promise<void | { MessageId?: string }>;
}

/** Shaped like the EventBridge "Step Functions Execution Status Change" event. */
export interface EventBridgeStepFunctionsStatusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'Step Functions Execution Status Change';
  readonly source: 'aws.states';
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: {
    readonly executionArn: string;
    readonly stateMachineArn: string;
    readonly name: string;
    readonly status: ExecutionStatus;
    /** Epoch milliseconds, as in the real event. */
    readonly startDate: number;
    readonly stopDate: number | null;
    readonly input: string;
    readonly inputDetails: { included: boolean };
    readonly output: string | null;
    readonly outputDetails: { included: boolean } | null;
    readonly error: string | null;
    readonly cause: string | null;
  };
}

export interface LocalStepFunctionsOptions {
  /** 0 (default) picks a free port; the server listens on 127.0.0.1. */
  port?: number;
  /** Who may call the endpoint: every request must be signed (SigV4, service `states`, this region) with one of these. */
  credentials: VerifierCredentials | readonly VerifierCredentials[];
  region?: string;
  accountId?: string;
  /**
   * 1 = real time; 0.05 = 20× faster. Scales Wait states, Retry intervals and caps,
   * HeartbeatSeconds, TimeoutSeconds (task and execution). Lambda handlers run at their
   * own speed.
   */
  timeScale?: number;
  /** Key = the FunctionName of lambda:invoke (an ARN or a name) or a Lambda ARN Resource. */
  lambdaHandlers: Record<string, LambdaHandler | LambdaFunctionConfig>;
  sqs?: SqsSender;
  /** Called on RUNNING and on every terminal status; its failures never reach the execution. */
  onStatusChange?: (event: EventBridgeStepFunctionsStatusEvent) => void | Promise<void>;
  /** Finished executions kept in memory before the oldest are dropped (default 10,000). */
  maxExecutions?: number;
  /** The timeout of functions registered without their own timeoutSeconds (default 900 s, Lambda's maximum; real time). */
  lambdaTimeoutSeconds?: number;
  /**
   * Handlers running at once (default unbounded); later invocations wait in order. The offline
   * stack bounds it to the machine (local/stepfunctions/lambda-slots.ts says why).
   */
  lambdaConcurrency?: number;
  /** How long stop() waits for running Lambda handlers and status listeners (default 2,000 ms). */
  stopGraceMs?: number;
}

export interface CreateStateMachineInput {
  name: string;
  /** ASL as a JSON string or object. */
  definition: string | object;
  /** `${Key}` placeholders replaced in the definition text, like CDK DefinitionSubstitutions. */
  substitutions?: Record<string, string>;
  roleArn?: string;
}

export interface LocalStepFunctions {
  /** http://127.0.0.1:PORT — pass as `endpoint` to SFNClient or as AWS_ENDPOINT_URL_SFN. */
  readonly url: string;
  readonly region: string;
  readonly accountId: string;
  /** Registers a Standard state machine; the same name with the same definition returns the same ARN. */
  createStateMachine(input: CreateStateMachineInput): { stateMachineArn: string };
  /** Aborts running executions, rejects pending callbacks, closes the server; leaves no timers. */
  stop(): Promise<void>;
}
