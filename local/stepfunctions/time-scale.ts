/**
 * Time compression. Durations from the ASL are multiplied by one factor; Node timers
 * cannot exceed 2^31−1 ms (a longer delay silently becomes 1 ms), so anything beyond
 * that is treated as unbounded.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * What we give the library as every Task's TimeoutSeconds, so its 60 s default never
 * applies (AWS's default is 99,999,999 s) and its own timer never overflows. We enforce
 * the real TimeoutSeconds ourselves.
 */
export const LIBRARY_TASK_TIMEOUT_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** Scaled milliseconds for a timer, at least 1; undefined when too long to matter (unbounded). */
export function scaledTimerMs(seconds: number, timeScale: number): number | undefined {
  const ms = seconds * 1000 * timeScale;
  if (ms > MAX_TIMER_MS) return undefined;
  return Math.max(1, Math.round(ms));
}

/** Scaled milliseconds for a sleep: 0 stays 0, the rest is capped at the timer limit. */
export function scaledSleepMs(seconds: number, timeScale: number): number {
  if (seconds <= 0) return 0;
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.round(seconds * 1000 * timeScale)));
}

export function assertTimeScale(timeScale: number): void {
  if (!Number.isFinite(timeScale) || timeScale <= 0) throw new RangeError(`timeScale must be a positive number, got ${timeScale}`);
}
