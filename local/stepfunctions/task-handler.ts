/**
 * The local handler of one Task state: for each call (first try and every retry) it
 * issues a fresh task token, writes the task events, arms TimeoutSeconds and
 * HeartbeatSeconds, and starts the resource's work.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DURATION_FIELDS, type TaskSpec } from './compile.ts';
import { jsonText, type History } from './history.ts';
import { resolveReferencePath, type ReferencePath } from './reference-path.ts';
import { overLimit } from './payload-limit.ts';
import { historyResource, type TaskResource } from './resources.ts';
import type { RunEnv, Scope } from './run-env.ts';
import { TaskAttempt, type TaskReporter } from './task-attempt.ts';
import { StatesRuntimeError, TaskAbortedError } from './task-errors.ts';
import { startTaskWork } from './task-runners.ts';
import { scaledTimerMs } from './time-scale.ts';
import type { Json, JsonObject } from './types.ts';

/** Replaces the `$$.Task.Token` placeholder wherever it landed (also inside States.Format strings). */
function withToken(value: Json, placeholder: string, token: () => string): Json {
  if (typeof value === 'string') return value.includes(placeholder) ? value.replaceAll(placeholder, token()) : value;
  if (Array.isArray(value)) return value.map((v) => withToken(v, placeholder, token));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withToken(v, placeholder, token)]));
  }
  return value;
}

interface Durations {
  readonly input: Json;
  readonly timeoutSeconds: number | undefined;
  readonly heartbeatSeconds: number | undefined;
}

function positive(v: Json | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new StatesRuntimeError(`${field} must point to a positive number, got ${JSON.stringify(v)}`);
  return v;
}

/** TimeoutSeconds/HeartbeatSeconds, fixed or from their paths; strips the hidden Parameters fields. */
function durations(spec: TaskSpec, input: Json, env: RunEnv): Durations {
  let timeout: Json | undefined;
  let heartbeat: Json | undefined;
  let effective = input;
  if (spec.durationsInParameters && input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const { [DURATION_FIELDS.timeout]: t, [DURATION_FIELDS.heartbeat]: h, ...rest } = input;
    [timeout, heartbeat, effective] = [t, h, rest];
  } else {
    const at = (path: ReferencePath | undefined) => (path === undefined ? undefined : resolveReferencePath(path, input, env.context) ?? null);
    [timeout, heartbeat] = [at(spec.timeoutSecondsPath), at(spec.heartbeatSecondsPath)];
  }
  return {
    input: effective,
    timeoutSeconds: spec.timeoutSeconds ?? positive(timeout, 'TimeoutSecondsPath'),
    heartbeatSeconds: spec.heartbeatSeconds ?? positive(heartbeat, 'HeartbeatSecondsPath'),
  };
}

interface Scheduled {
  readonly input: Json;
  readonly timeoutSeconds: number | undefined;
  readonly heartbeatSeconds: number | undefined;
}

/** Task events as AWS writes them: Lambda function ARNs get LambdaFunction*, integrations Task*. */
function reporterFor(resource: TaskResource, history: History, region: string): { scheduled(s: Scheduled): void; submitted(output: Json): void; reporter: TaskReporter } {
  if (resource.kind === 'lambda-function') {
    return {
      scheduled: (s) => {
        history.add('LambdaFunctionScheduled', 'lambdaFunctionScheduledEventDetails', {
          resource: resource.functionArn,
          input: jsonText(s.input),
          inputDetails: { truncated: false },
          ...(s.timeoutSeconds !== undefined ? { timeoutInSeconds: s.timeoutSeconds } : {}),
        });
        history.add('LambdaFunctionStarted');
      },
      submitted: () => undefined,
      reporter: {
        succeeded: (output) => history.add('LambdaFunctionSucceeded', 'lambdaFunctionSucceededEventDetails', { output: jsonText(output), outputDetails: { truncated: false } }),
        failed: (error, cause) => history.add('LambdaFunctionFailed', 'lambdaFunctionFailedEventDetails', { error, cause }),
        timedOut: (error, cause) => history.add('LambdaFunctionTimedOut', 'lambdaFunctionTimedOutEventDetails', { error, cause }),
      },
    };
  }
  const r: JsonObject = historyResource(resource);
  return {
    scheduled: (s) => {
      history.add('TaskScheduled', 'taskScheduledEventDetails', {
        ...r,
        region,
        parameters: jsonText(s.input),
        ...(s.timeoutSeconds !== undefined ? { timeoutInSeconds: s.timeoutSeconds } : {}),
        ...(s.heartbeatSeconds !== undefined ? { heartbeatInSeconds: s.heartbeatSeconds } : {}),
      });
      history.add('TaskStarted', 'taskStartedEventDetails', { ...r });
    },
    submitted: (output) => history.add('TaskSubmitted', 'taskSubmittedEventDetails', { ...r, output: jsonText(output), outputDetails: { truncated: false } }),
    reporter: {
      succeeded: (output) => history.add('TaskSucceeded', 'taskSucceededEventDetails', { ...r, output: jsonText(output), outputDetails: { truncated: false } }),
      failed: (error, cause) => history.add('TaskFailed', 'taskFailedEventDetails', { ...r, error, cause }),
      timedOut: (error, cause) => history.add('TaskTimedOut', 'taskTimedOutEventDetails', { ...r, error, cause }),
    },
  };
}

const isCallback = (r: TaskResource): boolean => r.kind !== 'lambda-function' && r.pattern === 'callback';

export function taskHandler(spec: TaskSpec, scope: Scope, env: RunEnv): (input: Json) => Promise<Json> {
  const { deps } = env;
  return async (rawInput) => {
    // The library reports state entry through an async generator; one turn of the event
    // loop lets that event reach the history before this task's own events.
    await nextTurn();
    if (scope.signal.aborted) throw new TaskAbortedError('The execution was stopped');
    const { input: effective, timeoutSeconds, heartbeatSeconds } = durations(spec, rawInput, env);
    let token: string | undefined;
    const input = withToken(effective, deps.tokenPlaceholder, () => (token ??= deps.tokens.issue()));
    // The input after Parameters counts against the quota too.
    const tooLarge = overLimit(spec.name, 'input', input);
    if (tooLarge) throw tooLarge;
    const events = reporterFor(spec.resource, env.history, deps.account.region);
    events.scheduled({ input, timeoutSeconds, heartbeatSeconds });
    const timeoutMs = timeoutSeconds === undefined ? undefined : scaledTimerMs(timeoutSeconds, deps.timeScale);
    const attempt = new TaskAttempt({
      stateName: spec.name,
      scope: scope.signal,
      reporter: events.reporter,
      timeoutMs,
      heartbeatMs: heartbeatSeconds !== undefined && isCallback(spec.resource) ? scaledTimerMs(heartbeatSeconds, deps.timeScale) : undefined,
      statesTimeout: deps.statesTimeout,
    });
    // Only callback tasks can be answered with their token, as on AWS.
    if (token !== undefined && isCallback(spec.resource)) deps.tokens.register(token, attempt);
    try {
      startTaskWork(spec.resource, input, {
        env,
        attempt,
        timeoutMs,
        submitted: (output) => {
          if (attempt.isOpen) events.submitted(output);
        },
      });
    } catch (e) {
      attempt.fail(e instanceof Error ? e : new Error(String(e)));
    }
    return attempt.result;
  };
}
