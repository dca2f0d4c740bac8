/**
 * Map, Parallel and path-based Wait states, run by us rather than the library.
 *
 * Map: iterations run as nested library executions in their own abortable scope, at most
 * MaxConcurrency (≤ 40, as inline Map) at a time. The first failed iteration aborts the
 * running ones and no further iteration starts; the Map then fails with that error.
 * Parallel: the same with one scope per branch.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { ExecutionError, type StateMachine } from 'aws-local-stepfunctions';
import type { CompiledLevel, MapSpec, ParallelSpec, WaitSpec } from './compile.ts';
import { resolveReferencePath } from './reference-path.ts';
import { childScope, type RunEnv, type Scope } from './run-env.ts';
import { StatesRuntimeError, TaskAbortedError } from './task-errors.ts';
import { scaledSleepMs } from './time-scale.ts';
import type { Json } from './types.ts';

export type LevelRunner = (level: CompiledLevel, input: Json, scope: Scope, env: RunEnv) => Promise<Json>;

/** Inline Map runs at most 40 iterations at once on AWS. */
const INLINE_MAP_MAX_CONCURRENCY = 40;

/** The error a nested execution failed with, as Retry/Catch of the enclosing state see it. */
export function failureOf(e: unknown): Error {
  if (e instanceof ExecutionError && e.cause instanceof Error) return e.cause;
  return e instanceof Error ? e : new Error(String(e));
}

const stopped = (): TaskAbortedError => new TaskAbortedError('The execution was stopped');

function concurrency(spec: MapSpec, input: Json, env: RunEnv): number {
  let value = spec.maxConcurrency ?? 0;
  if (spec.maxConcurrencyPath) {
    const v = resolveReferencePath(spec.maxConcurrencyPath, input, env.context);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new StatesRuntimeError(`Map '${spec.name}': MaxConcurrencyPath must point to a non-negative integer`);
    value = v;
  }
  return value === 0 ? INLINE_MAP_MAX_CONCURRENCY : Math.min(value, INLINE_MAP_MAX_CONCURRENCY);
}

async function selectItem(selector: StateMachine, mapInput: Json, item: Json, index: number, env: RunEnv): Promise<Json> {
  const context = { ...env.context, Map: { Item: { Index: index, Value: item } } };
  try {
    return (await selector.run(mapInput, { context }).result) as Json;
  } catch (e) {
    throw failureOf(e);
  }
}

export function mapHandler(spec: MapSpec, scope: Scope, env: RunEnv, run: LevelRunner): (input: Json) => Promise<Json> {
  return async (input) => {
    await nextTurn(); // lets MapStateEntered reach the history first
    if (scope.signal.aborted) throw stopped();
    const items = spec.itemsPath ? resolveReferencePath(spec.itemsPath, input, env.context) : input;
    if (!Array.isArray(items)) throw new StatesRuntimeError(`Map '${spec.name}': its input (after ItemsPath) must be an array`);
    const limit = concurrency(spec, input, env);
    const { history } = env;
    history.add('MapStateStarted', 'mapStateStartedEventDetails', { length: items.length });

    const mapScope = childScope(scope);
    const results: Json[] = items.map(() => null);
    let next = 0;
    let failure: Error | undefined;
    const iterate = async (index: number): Promise<void> => {
      const iteration = childScope(mapScope);
      const ref = { name: spec.name, index };
      history.add('MapIterationStarted', 'mapIterationStartedEventDetails', ref);
      try {
        const item = items[index] ?? null;
        const itemInput = spec.itemSelector ? await selectItem(spec.itemSelector, input, item, index, env) : item;
        results[index] = await run(spec.processor, itemInput, iteration, env);
        history.add('MapIterationSucceeded', 'mapIterationSucceededEventDetails', ref);
      } catch (e) {
        if (iteration.signal.aborted) {
          history.add('MapIterationAborted', 'mapIterationAbortedEventDetails', ref);
          return;
        }
        history.add('MapIterationFailed', 'mapIterationFailedEventDetails', ref);
        failure ??= failureOf(e);
        mapScope.abort();
      }
    };
    const worker = async (): Promise<void> => {
      while (next < items.length && !mapScope.signal.aborted) await iterate(next++);
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));

    if (scope.signal.aborted) throw stopped();
    if (failure) {
      history.add('MapStateFailed');
      throw failure;
    }
    history.add('MapStateSucceeded');
    return results;
  };
}

export function parallelHandler(spec: ParallelSpec, scope: Scope, env: RunEnv, run: LevelRunner): (input: Json) => Promise<Json> {
  return async (input) => {
    await nextTurn(); // lets ParallelStateEntered reach the history first
    if (scope.signal.aborted) throw stopped();
    env.history.add('ParallelStateStarted');
    const parallelScope = childScope(scope);
    let failure: Error | undefined;
    const results = await Promise.all(
      spec.branches.map(async (branch): Promise<Json> => {
        const branchScope = childScope(parallelScope);
        try {
          return await run(branch, input, branchScope, env);
        } catch (e) {
          if (!branchScope.signal.aborted) {
            failure ??= failureOf(e);
            parallelScope.abort();
          }
          return null;
        }
      }),
    );
    if (scope.signal.aborted) throw stopped();
    if (failure) {
      env.history.add('ParallelStateFailed');
      throw failure;
    }
    env.history.add('ParallelStateSucceeded');
    return results;
  };
}

function waitSeconds(spec: WaitSpec, input: Json, env: RunEnv): number {
  if (spec.secondsPath) {
    const v = resolveReferencePath(spec.secondsPath, input, env.context);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new StatesRuntimeError(`Wait '${spec.name}': SecondsPath must point to a non-negative number`);
    return v;
  }
  const ts = spec.timestamp ?? (spec.timestampPath ? resolveReferencePath(spec.timestampPath, input, env.context) : undefined);
  const at = typeof ts === 'string' ? Date.parse(ts) : Number.NaN;
  if (Number.isNaN(at)) throw new StatesRuntimeError(`Wait '${spec.name}': the timestamp must be an ISO 8601 date`);
  return Math.max(0, (at - Date.now()) / 1000);
}

/** Wait by SecondsPath, Timestamp or TimestampPath, the remaining time scaled like every wait. */
export function waitHandler(spec: WaitSpec, scope: Scope, env: RunEnv): (input: Json) => Promise<Json> {
  return async (input) => {
    if (scope.signal.aborted) throw stopped();
    const ms = scaledSleepMs(waitSeconds(spec, input, env), env.deps.timeScale);
    if (ms > 0) {
      try {
        await sleep(ms, undefined, { signal: scope.signal });
      } catch {
        throw stopped();
      }
    }
    return input;
  };
}
