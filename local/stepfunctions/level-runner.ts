/**
 * Runs one state graph (an execution's root, a Map iteration, a Parallel branch) with
 * aws-local-stepfunctions, our handlers standing in for the states we own, and copies
 * the library's state events into the execution's history.
 */
import type { RunOptions } from 'aws-local-stepfunctions';
import type { CompiledLevel } from './compile.ts';
import { mapHandler, parallelHandler, waitHandler } from './flow-handlers.ts';
import { recordLibraryEvent, type LibraryEvent } from './history.ts';
import { overLimit } from './payload-limit.ts';
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

/** A state's input or output over the payload quota, as the library reports them. */
function oversizeOf(ev: LibraryEvent): Error | undefined {
  if (ev.type === 'StateEntered') return overLimit(ev.state.name, 'input', ev.state.input as Json);
  if (ev.type === 'StateExited') return overLimit(ev.state.name, 'output', ev.state.output as Json);
  return undefined;
}

async function drain(events: AsyncGenerator<LibraryEvent>, env: RunEnv, onOversize: (e: Error) => void): Promise<void> {
  for await (const ev of events) {
    recordLibraryEvent(env.history, env.stateTypes, ev);
    const tooLarge = oversizeOf(ev);
    if (tooLarge) onOversize(tooLarge);
  }
}

/**
 * Resolves with the graph's output; rejects with the library's ExecutionError (the
 * state's error as `cause`), ExecutionTimeoutError, or ExecutionAbortedError when the
 * scope was aborted, or States.DataLimitExceeded when a state's input or output is over
 * the payload quota. Returns only once the graph's events are in the history.
 */
export async function runLevel(level: CompiledLevel, input: Json, scope: Scope, env: RunEnv): Promise<Json> {
  const handle = level.machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlersFor(level, scope, env), waitTimeOverrides: { ...level.waitTimeOverrides } },
    context: env.context,
  });
  // The library reports states after the fact: an oversized one stops the graph at once.
  let oversize: Error | undefined;
  const drained = drain(handle.eventLogs, env, (e) => {
    if (oversize) return;
    oversize = e;
    handle.abort();
  });
  const onAbort = (): void => handle.abort();
  if (scope.signal.aborted) onAbort();
  else scope.signal.addEventListener('abort', onAbort, { once: true });
  let outcome: { ok: true; output: Json } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, output: (await handle.result) as Json };
  } catch (e) {
    outcome = { ok: false, error: e };
  } finally {
    scope.signal.removeEventListener('abort', onAbort);
    await drained;
  }
  if (oversize && !scope.signal.aborted) throw oversize;
  if (!outcome.ok) throw outcome.error;
  return outcome.output;
}
