/**
 * The work behind each supported Task resource. Each runner starts the work and reports
 * its outcome to the attempt; for callback tasks the outcome comes later, from SendTask*.
 */
import { createHash, randomUUID } from 'node:crypto';
import { SfnApiError } from './api-errors.ts';
import { lambdaContext, type ResolvedFunction } from './lambda-registry.ts';
import type { TaskResource } from './resources.ts';
import type { ExecutionDescription, RunEnv } from './run-env.ts';
import type { TaskAttempt } from './task-attempt.ts';
import { lambdaTaskError, StatesRuntimeError, TaskError } from './task-errors.ts';
import type { Json, JsonObject } from './types.ts';

export interface WorkContext {
  readonly env: RunEnv;
  readonly attempt: TaskAttempt;
  /** Scaled task timeout, bounding getRemainingTimeInMillis. */
  readonly timeoutMs: number | undefined;
  /** Records TaskSubmitted: the request went out; a callback or a child's end will finish the task. */
  submitted(output: Json): void;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function parametersOf(input: Json, resource: TaskResource): JsonObject {
  if (!isObject(input)) throw new StatesRuntimeError(`The Parameters of a ${resource.arn} task must be an object`);
  return input;
}

function requiredString(p: JsonObject, field: string, resource: TaskResource): string {
  const v = p[field];
  if (typeof v !== 'string' || v.length === 0) throw new StatesRuntimeError(`${resource.arn} needs a string ${field} in Parameters`);
  return v;
}

/** What Lambda returns to the caller: the handler's value serialised as JSON. */
function asJson(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value) ?? 'null') as Json);
}

/** How Lambda reports an invocation it ended at the function's timeout (newer runtimes). */
export function functionTimedOut(requestId: string, timeoutMs: number): TaskError {
  const errorType = 'Sandbox.Timedout';
  const errorMessage = `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`;
  return new TaskError(errorType, JSON.stringify({ errorType, errorMessage }));
}

/**
 * Runs the handler as Lambda would: bounded by the function's configured timeout. An
 * in-process handler cannot be killed, so at the timeout its abortSignal fires, the
 * invocation fails at once, and whatever it returns later is dropped.
 */
async function invoke(fn: ResolvedFunction, event: unknown, w: WorkContext): Promise<Json> {
  const release = await w.env.deps.lambdaSlots.acquire();
  try {
    // A task stopped while it waited for a slot never reaches its handler.
    if (w.attempt.abandoned.aborted) throw w.attempt.abandoned.reason as Error;
    return await invokeNow(fn, event, w);
  } finally {
    release();
  }
}

function invokeNow(fn: ResolvedFunction, event: unknown, w: WorkContext): Promise<Json> {
  const requestId = randomUUID();
  const ended = new AbortController();
  const deadline = Date.now() + Math.min(fn.timeoutMs, w.timeoutMs ?? Number.POSITIVE_INFINITY);
  const abortSignal = AbortSignal.any([w.attempt.abandoned, ended.signal]);
  const context = lambdaContext({ fn, requestId, executionArn: w.env.executionArn, abortSignal, deadline });
  const running = (async () => fn.handler(event, context))();
  w.env.deps.trackHandler(running);
  const result = running.then(
    (value) => {
      try {
        return asJson(value);
      } catch (e) {
        throw lambdaTaskError(Object.assign(new Error(`Unable to marshal the response: ${(e as Error).message}`), { name: 'Runtime.MarshalError' }));
      }
    },
    (thrown: unknown) => {
      throw lambdaTaskError(thrown);
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = functionTimedOut(requestId, fn.timeoutMs);
      ended.abort(error);
      reject(error);
    }, fn.timeoutMs);
  });
  // The task itself ending (its own timeout, a stop) needs no timer any more.
  w.attempt.onClose(() => clearTimeout(timer));
  return Promise.race([result, timedOut]).finally(() => clearTimeout(timer));
}

function resolveFunction(nameOrArn: string, w: WorkContext): ResolvedFunction {
  const fn = w.env.deps.lambdas.resolve(nameOrArn);
  if (fn) return fn;
  throw new TaskError(
    'Lambda.ResourceNotFoundException',
    JSON.stringify({ errorType: 'ResourceNotFoundException', errorMessage: `Function not found: ${nameOrArn} (no local handler is registered for it)` }),
  );
}

function runLambdaInvoke(resource: TaskResource & { kind: 'lambda-invoke' }, input: Json, w: WorkContext): void {
  const p = parametersOf(input, resource);
  const fn = resolveFunction(requiredString(p, 'FunctionName', resource), w);
  invoke(fn, p['Payload'] ?? {}, w).then(
    (payload) => {
      const response: JsonObject = { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
      if (resource.pattern === 'callback') w.submitted(response);
      else w.attempt.succeed(response);
    },
    (e: unknown) => w.attempt.fail(e as Error),
  );
}

function runLambdaFunction(resource: TaskResource & { kind: 'lambda-function' }, input: Json, w: WorkContext): void {
  const fn = resolveFunction(resource.functionArn, w);
  invoke(fn, input, w).then(
    (output) => w.attempt.succeed(output),
    (e: unknown) => w.attempt.fail(e as Error),
  );
}

function runSqsSend(resource: TaskResource & { kind: 'sqs-send' }, input: Json, w: WorkContext): void {
  const sqs = w.env.deps.sqs;
  if (!sqs) throw new StatesRuntimeError('sqs:sendMessage needs the `sqs` option of startLocalStepFunctions');
  const p = parametersOf(input, resource);
  const queueUrl = requiredString(p, 'QueueUrl', resource);
  const raw = p['MessageBody'];
  const body = typeof raw === 'string' ? raw : JSON.stringify(raw ?? null);
  sqs.send(queueUrl, body).then(
    (sent) => {
      const messageId = typeof sent === 'object' && sent !== null ? sent.MessageId : undefined;
      const response: JsonObject = {
        MessageId: messageId ?? randomUUID(),
        MD5OfMessageBody: createHash('md5').update(body).digest('hex'),
      };
      if (resource.pattern === 'callback') w.submitted(response);
      else w.attempt.succeed(response);
    },
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      w.attempt.fail(new TaskError(`SQS.${err.name === 'Error' ? 'SdkClientException' : err.name}`, err.message));
    },
  );
}

function parseOr(text: string | undefined): Json {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** What a .sync task returns: DescribeExecution, with Input/Output parsed for .sync:2. */
export function syncOutput(d: ExecutionDescription, parsed: boolean): JsonObject {
  return {
    ExecutionArn: d.executionArn,
    StateMachineArn: d.stateMachineArn,
    Name: d.name,
    Status: d.status,
    StartDate: d.startDate,
    ...(d.stopDate !== undefined ? { StopDate: d.stopDate } : {}),
    Input: parsed ? parseOr(d.input) : d.input,
    InputDetails: { Included: true },
    ...(d.output !== undefined ? { Output: parsed ? parseOr(d.output) : d.output, OutputDetails: { Included: true } } : {}),
    ...(d.error !== undefined ? { Error: d.error } : {}),
    ...(d.cause !== undefined ? { Cause: d.cause } : {}),
    RedriveCount: 0,
    RedriveStatus: 'NOT_REDRIVABLE',
  };
}

function runStartExecution(resource: TaskResource & { kind: 'start-execution' }, input: Json, w: WorkContext): void {
  const p = parametersOf(input, resource);
  const childInput = p['Input'];
  const text = childInput === undefined ? '{}' : typeof childInput === 'string' ? childInput : JSON.stringify(childInput);
  let child;
  try {
    child = w.env.deps.children.start({ stateMachineArn: p['StateMachineArn'], name: p['Name'], input: text });
  } catch (e) {
    if (e instanceof SfnApiError) throw new TaskError(`StepFunctions.${e.code}Exception`, e.message);
    throw e;
  }
  const started: JsonObject = { ExecutionArn: child.executionArn, StartDate: child.startDate };
  if (resource.pattern === 'request-response') {
    w.attempt.succeed(started);
    return;
  }
  w.submitted(started);
  if (resource.pattern === 'callback') return;
  const childArn = child.executionArn;
  // Abandoning the parent task (abort, timeout) stops the child, as for .sync on AWS.
  w.attempt.onClose(() => w.env.deps.children.stop(childArn, `The parent task in ${w.env.executionArn} ended`));
  void child.done.then((d) => {
    const output = syncOutput(d, resource.pattern === 'sync2');
    if (d.status === 'SUCCEEDED') w.attempt.succeed(output);
    else w.attempt.fail(new TaskError('States.TaskFailed', JSON.stringify(output)));
  });
}

/** Starts the work; a synchronous throw means the task failed before it began. */
export function startTaskWork(resource: TaskResource, input: Json, w: WorkContext): void {
  switch (resource.kind) {
    case 'lambda-invoke':
      return runLambdaInvoke(resource, input, w);
    case 'lambda-function':
      return runLambdaFunction(resource, input, w);
    case 'sqs-send':
      return runSqsSend(resource, input, w);
    case 'start-execution':
      return runStartExecution(resource, input, w);
  }
}
