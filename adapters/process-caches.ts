/**
 * One registry of what a process caches from its environment: parsed settings, SDK clients,
 * short-lived reads. Each module that caches registers how to forget it; a process that
 * changes its environment (an offline stack started after another, a test) calls
 * resetProcessCaches() once instead of knowing every module's reset.
 */
import type { Env } from '../core/settings.ts';

const resets = new Set<() => void>();

/** Registers a module's reset; it runs on every resetProcessCaches(). */
export function onReset(reset: () => void): void {
  resets.add(reset);
}

/** Forgets everything every loaded module cached (a module not loaded yet has nothing to forget). */
export function resetProcessCaches(): void {
  for (const reset of resets) reset();
}

/** Settings read from the environment once per process (see cachedPerProcess). */
export interface ProcessCache<T> {
  (env?: Env): T;
  /** Forgets the value read (resetProcessCaches() calls it too). */
  reset(): void;
}

/**
 * `read(process.env)` on first use, kept until reset; any other `env` (tests pass their own)
 * is read on every call and never kept.
 */
export function cachedPerProcess<T>(read: (env: Env) => T): ProcessCache<T> {
  let cached: T | undefined;
  const reset = () => {
    cached = undefined;
  };
  onReset(reset);
  return Object.assign((env: Env = process.env) => (env === process.env ? (cached ??= read(env)) : read(env)), { reset });
}
