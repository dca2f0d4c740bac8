/**
 * The stage functions' circuit breakers: every provider call goes through `guarded`, which
 * asks the provider's breaker first (an open one refuses with Transient.CircuitOpen) and
 * reports the outcome after. The taxonomy's `breaker` column says which failures indict the
 * provider (core/taxonomy.ts); a Fatal answer proves the provider is up.
 * Transitions are EMF metrics (BreakerTransitions by provider and state) and log lines.
 */
import type { BreakerProvider } from '../core/breaker.ts';
import { isPipelineError } from '../core/errors.ts';
import { breakerVerdict, type BreakerVerdict } from '../core/taxonomy.ts';
import type { BreakerState } from '../core/health.ts';
import { BREAKER_STORE_ACCESS, BreakerStore, breakerSettingsFromEnv, breakersEnabled, type BreakerTransitionEvent } from './breaker-store.ts';
import { config } from './config.ts';
import { logger } from './logging.ts';
import { publishPoints } from './metric-points.ts';
import { onReset } from './process-caches.ts';

export const PROVIDER_BREAKERS_ACCESS = BREAKER_STORE_ACCESS;

/** What a failed call says of the provider, by the taxonomy; an error without a taxonomy name reads as Unclassified. */
export function providerVerdict(e: unknown): BreakerVerdict {
  const name = (e as { name?: unknown } | null)?.name;
  return breakerVerdict(typeof name === 'string' ? name : 'Unclassified');
}

/** EMF metric and a log line for a breaker's state change. */
export function reportTransition(t: BreakerTransitionEvent): void {
  publishPoints({ provider: t.provider, state: t.to }, ['BreakerTransitions', 1]);
  const log = t.to === 'open' ? logger.warn.bind(logger) : logger.info.bind(logger);
  log('circuit breaker changed state', { ...t });
}

let store: BreakerStore | undefined;

/** The process's breaker store on the control table, with settings from the environment. */
export function lambdaBreakers(): BreakerStore {
  store ??= new BreakerStore({ table: config().controlTable, settings: breakerSettingsFromEnv(), onTransition: reportTransition });
  return store;
}

/** Forgets the store (tests that change breaker settings between cases). */
export function resetLambdaBreakers(): void {
  store = undefined;
}
onReset(resetLambdaBreakers);

/** Every provider's breaker, for GET /health (lambdas/api registers it as its breaker source). */
export function breakerStates(): Promise<BreakerState[]> {
  return lambdaBreakers().states();
}

/**
 * Runs one provider call under the provider's breaker. The breaker's own failures (its
 * table unreachable) never fail the call: the stage would fail on the job store anyway,
 * and a call refused for want of a breaker would be a failure the provider did not cause.
 */
export async function guarded<T>(provider: BreakerProvider, call: () => Promise<T>): Promise<T> {
  if (!breakersEnabled()) return call();
  const breakers = lambdaBreakers();
  try {
    await breakers.beforeCall(provider);
  } catch (e) {
    if (isPipelineError(e)) throw e;
    logger.warn('the circuit breaker could not be read; calling anyway', { provider, error: e as Error });
  }
  let result: T;
  try {
    result = await call();
  } catch (e) {
    const verdict = providerVerdict(e);
    if (verdict !== 'neither') await report(() => (verdict === 'failure' ? breakers.onFailure(provider) : breakers.onSuccess(provider)), provider);
    throw e;
  }
  await report(() => breakers.onSuccess(provider), provider);
  return result;
}

async function report(write: () => Promise<void>, provider: BreakerProvider): Promise<void> {
  try {
    await write();
  } catch (e) {
    logger.warn('the circuit breaker could not record an outcome', { provider, error: e as Error });
  }
}
