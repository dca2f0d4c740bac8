/**
 * Generates Retry and Catch blocks from the taxonomy (core/taxonomy.ts). Nothing in the
 * machines lists an error name by hand: a state declares which recovery routes it
 * offers, and this module turns the table into ASL.
 */
import { ERROR_NAMES, entryFor, type ErrorName, type Family, type Strategy } from '../core/taxonomy.ts';
import type { Catcher, Retrier } from './asl-types.ts';

/** Where a caught error goes: the state that runs its strategy. */
export type Routes = Partial<Record<Strategy, string>>;

/** Families of the errors the Lambda service itself reports (service faults, its timeout). */
const LAMBDA_FAMILIES: readonly Family[] = ['Lambda', 'Sandbox'];
export const isLambdaServiceError = (name: ErrorName): boolean => LAMBDA_FAMILIES.includes(entryFor(name).family);

/** Names retried in place (strategy RETRY_BACKOFF with a policy), in taxonomy order. */
const RETRIED = ERROR_NAMES.filter((n) => entryFor(n).strategy === 'RETRY_BACKOFF' && entryFor(n).retry !== null)
  // Lambda's own service errors first, as AWS recommends for Lambda tasks.
  .sort((a, b) => Number(!isLambdaServiceError(a)) - Number(!isLambdaServiceError(b)));

/**
 * One retrier per distinct policy, Lambda service errors first (AWS's recommendation),
 * each listing the names that share the policy. `only` limits the names to those a
 * state can meet (e.g. Compositing.Failed only on the compositing task).
 */
export function retriersFor(only: (name: ErrorName) => boolean = () => true): Retrier[] {
  const groups = new Map<string, { names: ErrorName[]; policy: NonNullable<ReturnType<typeof entryFor>['retry']> }>();
  for (const name of RETRIED.filter(only)) {
    const policy = entryFor(name).retry!;
    const key = JSON.stringify(policy);
    const g = groups.get(key);
    if (g) g.names.push(name);
    else groups.set(key, { names: [name], policy });
  }
  return [...groups.values()].map(({ names, policy }) => ({
    ErrorEquals: names,
    IntervalSeconds: policy.IntervalSeconds,
    BackoffRate: policy.BackoffRate,
    MaxAttempts: policy.MaxAttempts,
    MaxDelaySeconds: policy.MaxDelaySeconds,
    JitterStrategy: policy.JitterStrategy,
  }));
}

/**
 * Catchers for a state: errors whose strategy the state routes go to that route; every
 * other name (retried names that ran out of attempts, non-recoverable names, strategies
 * this state cannot run) is listed for `failure`, and the catch-all States.ALL comes
 * last, alone, as ASL requires, for anything outside the taxonomy.
 */
export function catchersFor(routes: Routes, failure: string, extra: { stop?: string; afterRetries?: Partial<Record<ErrorName, string>> } = {}): Catcher[] {
  const byTarget = new Map<string, ErrorName[]>();
  const add = (target: string, name: ErrorName) => byTarget.set(target, [...(byTarget.get(target) ?? []), name]);
  for (const name of ERROR_NAMES) {
    const { strategy } = entryFor(name);
    const routed = extra.afterRetries?.[name] ?? routes[strategy];
    if (routed !== undefined) add(routed, name);
    else if (strategy === 'STOP' && extra.stop !== undefined) add(extra.stop, name);
    else add(failure, name);
  }
  const catchers: Catcher[] = [...byTarget].map(([Next, names]) => ({ ErrorEquals: names, Next, ResultPath: '$.lastError' }));
  catchers.push({ ErrorEquals: ['States.ALL'], Next: failure, ResultPath: '$.lastError' });
  return catchers;
}
