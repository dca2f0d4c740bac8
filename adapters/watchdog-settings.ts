/**
 * The watchdog's and reconciler's settings from the environment, read on each invocation
 * (cheap, and an operator's change applies at the next sweep). Every duration is real time,
 * scaled by VTO_TIME_SCALE like every wait of the pipeline.
 */
import { z } from 'zod';
import { AUTO_RECOVERY_COOLDOWN_SECONDS, AUTO_RECOVERY_FAILURE_THRESHOLD, type AutoRecoveryBreakerSettings } from '../core/deferred-recovery.ts';
import { WATCHED_STATUSES, watchdogSettings, type WatchdogSettings, type WatchedStatus } from '../core/watchdog.ts';
import { loadSettings, type Env } from '../core/settings.ts';

const numbers = z.string().transform((s, ctx) => {
  const parts = s.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  if (parts.length === 0 || parts.some((n) => !Number.isFinite(n) || n < 0)) {
    ctx.addIssue({ code: 'custom', message: 'must be comma-separated numbers ≥ 0, e.g. "5,15,45"' });
    return z.NEVER;
  }
  return parts;
});

const deadlines = z.string().transform((s, ctx) => {
  const out: Partial<Record<WatchedStatus, number>> = {};
  for (const pair of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [status, seconds] = pair.split('=').map((x) => x.trim());
    if (!WATCHED_STATUSES.includes(status as WatchedStatus) || !(Number(seconds) > 0)) {
      ctx.addIssue({ code: 'custom', message: `"${pair}" is not status=seconds (statuses: ${WATCHED_STATUSES.join(', ')})` });
      return z.NEVER;
    }
    out[status as WatchedStatus] = Number(seconds);
  }
  return out;
});

const schema = z.object({
  /** Per-status deadlines in seconds overriding the defaults, e.g. "inpainting=2400,qa=900". */
  VTO_WATCHDOG_DEADLINES: deadlines.optional(),
  /** Re-runs per job before it fails with Recovery.Exhausted. */
  VTO_WATCHDOG_MAX_RESTARTS: z.coerce.number().int().min(0).max(20).optional(),
  /** Minutes between re-runs: the gap before re-run k+1 is the k-th (the last repeats). */
  VTO_WATCHDOG_RESTART_GAPS_MINUTES: numbers.optional(),
  /** The schedule's period in seconds (the CDK rule and the offline timer use the same). */
  VTO_WATCHDOG_PERIOD_SECONDS: z.coerce.number().positive().optional(),
  /** Most stale jobs one sweep acts on; the rest wait for the next sweep. */
  VTO_WATCHDOG_MAX_JOBS: z.coerce.number().int().positive().max(10_000).default(200),
  /** Deferred recovery of failed jobs on a temporary cause (core/deferred-recovery.ts): 'off' leaves failed jobs to operators. */
  VTO_DEFERRED_RECOVERY: z.enum(['on', 'off']).default('on'),
  /** Finished packs older than this many days are erased (adapters/pack-erasure.ts); unset keeps them. */
  VTO_PACK_RETENTION_DAYS: z.coerce.number().positive().max(36_500).optional(),
  /** Consecutive failed deferred re-runs that pause auto-recovery (its own circuit breaker). */
  VTO_AUTO_RECOVERY_FAILURE_THRESHOLD: z.coerce.number().int().min(1).max(100).default(AUTO_RECOVERY_FAILURE_THRESHOLD),
  /** Seconds auto-recovery stays paused before one trial re-run (scaled by VTO_TIME_SCALE). */
  VTO_AUTO_RECOVERY_COOLDOWN_SECONDS: z.coerce.number().positive().max(7 * 24 * 3600).default(AUTO_RECOVERY_COOLDOWN_SECONDS),
  VTO_TIME_SCALE: z.coerce.number().positive().max(1).default(1),
});

export class WatchdogSettingsError extends Error {
  override readonly name = 'WatchdogSettingsError';
}

export interface WatchdogRuntimeSettings extends WatchdogSettings {
  readonly maxJobsPerSweep: number;
  /** Re-run failed jobs whose temporary cause has passed (on the same schedule and bound as stuck jobs). */
  readonly deferredRecovery: boolean;
  /** Finished packs older than this are erased; undefined keeps them. Scaled by VTO_TIME_SCALE. */
  readonly packRetentionMs?: number;
  /** Auto-recovery's own breaker: when it opens, how long it stays open. */
  readonly autoRecoveryBreaker: AutoRecoveryBreakerSettings;
}

export function watchdogSettingsFromEnv(env: Env = process.env): WatchdogRuntimeSettings {
  const e = loadSettings(schema, env, { what: 'watchdog settings', blankIsUnset: true, error: WatchdogSettingsError });
  try {
    return {
      ...watchdogSettings({
        timeScale: e.VTO_TIME_SCALE,
        ...(e.VTO_WATCHDOG_DEADLINES !== undefined && { deadlineSeconds: e.VTO_WATCHDOG_DEADLINES }),
        ...(e.VTO_WATCHDOG_MAX_RESTARTS !== undefined && { maxRestarts: e.VTO_WATCHDOG_MAX_RESTARTS }),
        ...(e.VTO_WATCHDOG_RESTART_GAPS_MINUTES !== undefined && { restartGapMinutes: e.VTO_WATCHDOG_RESTART_GAPS_MINUTES }),
        ...(e.VTO_WATCHDOG_PERIOD_SECONDS !== undefined && { sweepPeriodSeconds: e.VTO_WATCHDOG_PERIOD_SECONDS }),
      }),
      maxJobsPerSweep: e.VTO_WATCHDOG_MAX_JOBS,
      deferredRecovery: e.VTO_DEFERRED_RECOVERY === 'on',
      ...(e.VTO_PACK_RETENTION_DAYS !== undefined && { packRetentionMs: e.VTO_PACK_RETENTION_DAYS * 86_400_000 * e.VTO_TIME_SCALE }),
      autoRecoveryBreaker: { failureThreshold: e.VTO_AUTO_RECOVERY_FAILURE_THRESHOLD, cooldownSeconds: e.VTO_AUTO_RECOVERY_COOLDOWN_SECONDS },
    };
  } catch (err) {
    throw new WatchdogSettingsError(`Invalid watchdog settings: ${(err as Error).message}`);
  }
}
