/**
 * One registry of what a process caches from its environment: parsed settings, SDK clients,
 * short-lived reads. Each module that caches registers how to forget it; a process that
 * changes its environment (an offline stack started after another, a test) calls
 * resetProcessCaches() once instead of knowing every module's reset.
 */
const resets = new Set<() => void>();

/** Registers a module's reset; it runs on every resetProcessCaches(). */
export function onReset(reset: () => void): void {
  resets.add(reset);
}

/** Forgets everything every loaded module cached (a module not loaded yet has nothing to forget). */
export function resetProcessCaches(): void {
  for (const reset of resets) reset();
}
