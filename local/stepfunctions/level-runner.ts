/**
 * Runs one state graph (an execution's root, a Map iteration, a Parallel branch) with
 * aws-local-stepfunctions, our handlers standing in for the states we own, and copies
 * the library's state events into the execution's history.
 */
import type { RunOptions } from 'aws-local-stepfunctions';
import type { CompiledLevel } from './compile.ts';
import { mapHandler, parallelHandler, waitHandler } from './flow-handlers.ts';
import { recordLibraryEvent, type LibraryEvent } from './history.ts';
import type { RunEnv, Scope } from './run-env.ts';
import { taskHandler } from './task-handler.ts';
import type { Json } from './types.ts';

type LocalHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;

function handlersFor(level: CompiledLevel, scope: Scope, env: RunEnv): LocalHandlers {
  const handlers: LocalHandlers = {};
  for (const [name, spec] of level.specs) {
    switch (spec.kind) {
      case 'task':
        handlers[name] = taskHandler(spec, scope, env);
        break;
      case 'wait':
        handlers[name] = waitHandler(spec, scope, env);
        break;
      case 'map':
        handlers[name] = mapHandler(spec, scope, env, runLevel);
        break;
      case 'parallel':
        handlers[name] = parallelHandler(spec, scope, env, runLevel);
        break;
    }
  }
  return handlers;
}

async function drain(events: AsyncGenerator<LibraryEvent>, env: RunEnv): Promise<void> {
  for await (const ev of events) recordLibraryEvent(env.history, env.stateTypes, ev);
}

/**
 * Resolves with the graph's output; rejects with the library's ExecutionError (the
 * state's error as `cause`), ExecutionTimeoutError, or ExecutionAbortedError when the
 * scope was aborted. Returns only once the graph's events are in the history.
 */
export async function runLevel(level: CompiledLevel, input: Json, scope: Scope, env: RunEnv): Promise<Json> {
  const handle = level.machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlersFor(level, scope, env), waitTimeOverrides: { ...level.waitTimeOverrides } },
    context: env.context,
  });
  const drained = drain(handle.eventLogs, env);
  const onAbort = (): void => handle.abort();
  if (scope.signal.aborted) onAbort();
  else scope.signal.addEventListener('abort', onAbort, { once: true });
  try {
    return (await handle.result) as Json;
  } finally {
    scope.signal.removeEventListener('abort', onAbort);
    await drained;
  }
}
