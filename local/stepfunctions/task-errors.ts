/**
 * The errors our task handlers hand back to aws-local-stepfunctions. The library matches
 * Retry/Catch on `error.name`, writes `{Error: name, Cause: message}` on Catch, and reads
 * `isRetryable` / `isCatchable` (default true) off the error object.
 */
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';

/**
 * A task failure carrying an ASL error name. The name is data (what the Lambda threw,
 * what SendTaskFailure said), so it is set per instance; the class name stays stable.
 */
export class TaskError extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

/** Ends a task of an aborted execution: nothing may retry or catch it. */
export class TaskAbortedError extends Error {
  override readonly name = 'States.Aborted';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

/** A runtime failure of the state itself (bad path, bad type), as AWS's States.Runtime: terminal. */
export class StatesRuntimeError extends Error {
  override readonly name = 'States.Runtime';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

/** No SendTaskHeartbeat within HeartbeatSeconds. Matched by its name, by States.ALL and by States.TaskFailed. */
export class HeartbeatTimeoutError extends Error {
  override readonly name = 'States.HeartbeatTimeout';
}

/**
 * States.Timeout must be an instance of the library's own (unexported) StatesTimeoutError:
 * that is how it keeps States.TaskFailed from matching a timeout. We enforce task timeouts
 * ourselves (to close tokens and fire the handler's AbortSignal at the same instant), so
 * we obtain the class once by letting the library time out a 1 ms task.
 */
let statesTimeoutFactory: (() => Error) | undefined;

export async function loadStatesTimeoutError(): Promise<() => Error> {
  if (statesTimeoutFactory) return statesTimeoutFactory;
  const probe = new StateMachine(
    { StartAt: 'Probe', States: { Probe: { Type: 'Task', Resource: 'arn:aws:states:::local:probe', TimeoutSeconds: 0.001, End: true } } },
    { validationOptions: { noValidate: true } },
  );
  let release: () => void = () => undefined;
  const pending = new Promise<null>((resolve) => {
    release = () => resolve(null);
  });
  let factory: () => Error = () => new TaskError('States.Timeout', 'States.Timeout');
  try {
    await probe.run({}, { overrides: { taskResourceLocalHandlers: { Probe: () => pending } } }).result;
  } catch (e) {
    const cause = e instanceof ExecutionError ? e.cause : undefined;
    if (cause instanceof Error && cause.name === 'States.Timeout') {
      const Ctor = cause.constructor as new () => Error;
      factory = () => new Ctor();
    }
  } finally {
    release();
  }
  statesTimeoutFactory = factory;
  return factory;
}

interface LambdaErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

/** What Lambda reports for an error thrown by a Node handler. */
export function lambdaErrorPayload(thrown: unknown): LambdaErrorPayload {
  if (thrown instanceof Error) {
    return { errorType: thrown.name || 'Error', errorMessage: thrown.message, trace: (thrown.stack ?? '').split('\n') };
  }
  return { errorType: 'Error', errorMessage: typeof thrown === 'string' ? thrown : JSON.stringify(thrown) ?? String(thrown), trace: [] };
}

/** Error = errorType, Cause = the JSON error payload, as Step Functions reports a failed Lambda. */
export function lambdaTaskError(thrown: unknown): TaskError {
  const payload = lambdaErrorPayload(thrown);
  return new TaskError(payload.errorType, JSON.stringify(payload));
}
