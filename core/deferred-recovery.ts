/**
 * Deferred recovery of failed jobs (issue 15, the auto-recovery seed), as pure decisions: a
 * job that ended `failed` on a temporary cause is run again from its checkpoints on the
 * watchdog's restart schedule (5 → 15 → 45 min, at most 3 times), only once the dependency
 * its failure names is healthy again, and never while auto-recovery as a whole is paused by
 * its own circuit breaker (5 consecutive failed re-runs open it; it half-opens after a
 * cooldown). The adapter (adapters/watchdog-deferred.ts) observes and carries out.
 */
import { admit, checkBreakerSettings, type Breaker, type BreakerProvider, type BreakerSettings } from './breaker.ts';
import type { BreakerStatus } from './health.ts';
import type { JobRecord, RecoveryEntry } from './job.ts';
import { resumeFrom } from './strategies.ts';
import { entryFor, isErrorName } from './taxonomy.ts';
import type { WatchdogSettings } from './watchdog.ts';

/** The ledger's `fn` of a deferred re-run. */
export const DEFERRED_FN = 'AutoRecovery';
/** The key of auto-recovery's own breaker in GET /health and the control table. */
export const AUTO_RECOVERY_BREAKER = 'auto-recovery';

/**
 * Temporary causes (the seed: network, 503/429, resource availability, timeouts): the
 * families and names a later run can outlive. Quality rejects, degenerate masks, missing
 * models and broken outputs are not: another run meets them again.
 */
const DEFERRABLE_FAMILIES: readonly string[] = ['Transient', 'Lambda', 'Sandbox', 'States'];
const DEFERRABLE_NAMES: readonly string[] = ['Gpu.Timeout', 'Gpu.OutOfMemory', 'Provider.MalformedResponse'];

export function isDeferrable(error: string): boolean {
  if (!isErrorName(error)) return false;
  const e = entryFor(error);
  return e.recoverable && (DEFERRABLE_FAMILIES.includes(e.family) || DEFERRABLE_NAMES.includes(error));
}

export interface DeferredSettings {
  /** Deferred re-runs per job: the watchdog's restart bound. */
  readonly maxReruns: number;
  /** Re-run k waits gaps[k-1] after the failure before it (the last repeats): the watchdog's schedule. */
  readonly gapsMs: readonly number[];
  /** Failed jobs older than this are no longer looked at (ms, scaled). */
  readonly windowMs: number;
  /** Auto-recovery's own breaker: opens after `failureThreshold` consecutive failed re-runs, half-opens after `openMs`. */
  readonly breaker: BreakerSettings;
}

/** Consecutive failed re-runs that pause auto-recovery (the seed's circuit breaker); the default of VTO_AUTO_RECOVERY_FAILURE_THRESHOLD. */
export const AUTO_RECOVERY_FAILURE_THRESHOLD = 5;
/** Real seconds auto-recovery stays paused before one trial re-run; the default of VTO_AUTO_RECOVERY_COOLDOWN_SECONDS. */
export const AUTO_RECOVERY_COOLDOWN_SECONDS = 900;
/** Real seconds a failed job stays eligible (the whole schedule is 65 min; a dependency may stay down longer). */
export const DEFERRED_WINDOW_SECONDS = 24 * 3600;

/** Auto-recovery's breaker as deployed (VTO_AUTO_RECOVERY_* settings); the defaults are the seed's. */
export interface AutoRecoveryBreakerSettings {
  readonly failureThreshold: number;
  /** Real seconds, scaled by the watchdog's time scale like every wait. */
  readonly cooldownSeconds: number;
}

/** Derived from the watchdog's settings: one schedule, one bound, one time scale. */
export function deferredSettings(w: WatchdogSettings & { readonly autoRecoveryBreaker?: AutoRecoveryBreakerSettings }): DeferredSettings {
  const ms = (seconds: number) => Math.max(1, Math.round(seconds * w.msPerSecond));
  const b = w.autoRecoveryBreaker ?? { failureThreshold: AUTO_RECOVERY_FAILURE_THRESHOLD, cooldownSeconds: AUTO_RECOVERY_COOLDOWN_SECONDS };
  return {
    maxReruns: w.maxRestarts,
    gapsMs: w.restartGapsMs,
    windowMs: ms(DEFERRED_WINDOW_SECONDS),
    breaker: checkBreakerSettings({ failureThreshold: b.failureThreshold, openMs: ms(b.cooldownSeconds), halfOpenMaxCalls: 1 }),
  };
}

/** What a failed job's failure names: the error a re-run is to outlive, and the dependency that must be healthy first. */
export interface FailureCause {
  readonly error: string;
  readonly fn: string;
  /** Null: an internal failure (a Lambda, compositing) with no external dependency to wait for. */
  readonly dependency: BreakerProvider | null;
}

const WATCHERS = ['Watchdog', 'Reconciler', DEFERRED_FN];

/**
 * The dependency a ledger entry's failure names. The watchdog's entries name the last
 * finished stage, so a job it found stuck was stuck in the next one.
 */
export function dependencyOf(entry: Pick<RecoveryEntry, 'fn' | 'stage'>, job: Pick<JobRecord, 'inpaint' | 'checkpoints'>): BreakerProvider | null {
  const inpaint: BreakerProvider = job.inpaint === 'hosted' ? 'hosted-inpaint' : 'comfyui';
  switch (entry.fn) {
    case 'SegmentationCall':
    case 'Resegment':
      return 'segmentation';
    case 'QaCheck':
      return 'analyzer';
    case 'HostedSubmit':
    case 'HostedPoll':
      return 'hosted-inpaint';
    case 'GPU':
    case 'BackoffGpu':
      return inpaint;
  }
  const stage = WATCHERS.includes(entry.fn) ? resumeFrom(job.checkpoints) : entry.stage;
  if (stage === 'segmentation') return 'segmentation';
  if (stage === 'inpaint') return inpaint;
  if (stage === 'qa') return 'analyzer';
  return null;
}

export type CauseResult = { readonly ok: true; readonly cause: FailureCause } | { readonly ok: false; readonly reason: string };

/**
 * Whether the job failed on a temporary cause, and which. `Recovery.Exhausted` qualifies
 * when every fault its ledger resolved as failed was temporary; fatal and unclassified
 * failures never do.
 */
export function failureCause(job: Pick<JobRecord, 'status' | 'error' | 'recoveries' | 'inpaint' | 'checkpoints'>): CauseResult {
  if (job.status !== 'failed') return { ok: false, reason: `the job is ${job.status}` };
  const name = job.error?.name;
  if (name === undefined) return { ok: false, reason: 'the job records no error' };
  const ledger = job.recoveries;
  const failed = ledger.filter((r) => r.outcome === 'failed' && r.fn !== DEFERRED_FN);
  if (name === 'Recovery.Exhausted') {
    if (failed.length === 0) return { ok: false, reason: 'Recovery.Exhausted without a failed fault in its ledger' };
    const lasting = failed.find((r) => !isDeferrable(r.error));
    if (lasting) return { ok: false, reason: `its ledger holds ${lasting.error}, not a temporary cause` };
  } else if (!isDeferrable(name)) {
    return { ok: false, reason: `${isErrorName(name) ? name : 'Unclassified'} is not a temporary cause` };
  }
  // The fault to outlive: the newest failed one met by a stage (a watcher's entry names less).
  const own = failed.filter((r) => !WATCHERS.includes(r.fn));
  const named = name === 'Recovery.Exhausted' ? undefined : [...failed].reverse().find((r) => r.error === name);
  const entry = named ?? own.at(-1) ?? failed.at(-1);
  const error = name === 'Recovery.Exhausted' ? (entry?.error ?? name) : name;
  return { ok: true, cause: { error, fn: entry?.fn ?? 'JobFail', dependency: entry ? dependencyOf(entry, job) : null } };
}

/** A dependency as the sweep observed it: its breaker, and its health check (null: it has none). */
export interface DependencyHealth {
  readonly breaker: BreakerStatus;
  /** When an open breaker admits trial calls again (epoch ms). */
  readonly reopensAt?: number;
  readonly probe: { readonly ok: boolean; readonly detail?: string } | null;
}

/** Healthy: its health check passes and its breaker admits calls (closed, or past its open time: the re-run is its trial). */
export function isHealthy(h: DependencyHealth, now: number): { healthy: boolean; why: string } {
  if (h.probe !== null && !h.probe.ok) return { healthy: false, why: `its health check fails${h.probe.detail ? ` (${h.probe.detail})` : ''}` };
  if (h.breaker === 'open' && (h.reopensAt === undefined || now < h.reopensAt)) return { healthy: false, why: 'its circuit breaker is open' };
  return { healthy: true, why: h.breaker === 'closed' ? 'healthy again' : 'admitting trial calls again' };
}

export interface DeferredObservation {
  readonly job: JobRecord;
  readonly now: number;
  /** The job's pack is still running: its run ends first, then the watchdog looks again. */
  readonly packRunning: boolean;
  readonly health: (dependency: BreakerProvider) => DependencyHealth;
}

export type DeferredDecision =
  | { readonly kind: 'leave'; readonly reason: string; readonly dueAt?: number }
  | { readonly kind: 'rerun'; readonly rerun: number; readonly cause: FailureCause; readonly line: string };

/** When re-run k (1-based) of a job that failed at `failedAt` may start. */
export function rerunDueAt(failedAt: number, rerun: number, s: DeferredSettings): number {
  return failedAt + (s.gapsMs[Math.min(rerun, s.gapsMs.length) - 1] ?? 0);
}

/** What to do with one failed job (auto-recovery's own breaker is asked by the caller, once per re-run). */
export function decideDeferred(o: DeferredObservation, s: DeferredSettings): DeferredDecision {
  const { job, now } = o;
  const found = failureCause(job);
  if (!found.ok) return { kind: 'leave', reason: found.reason };
  const done = job.deferredReruns ?? 0;
  if (done >= s.maxReruns) return { kind: 'leave', reason: `its ${s.maxReruns} deferred re-runs are spent` };
  const failedAt = Date.parse(job.error?.at ?? job.updatedAt);
  if (now - failedAt > s.windowMs) return { kind: 'leave', reason: 'it failed too long ago' };
  const rerun = done + 1;
  const dueAt = rerunDueAt(failedAt, rerun, s);
  if (now < dueAt) return { kind: 'leave', reason: `deferred re-run ${rerun} of ${s.maxReruns} is due at ${new Date(dueAt).toISOString()}`, dueAt };
  if (o.packRunning) return { kind: 'leave', reason: "its pack's run is still going" };
  const { cause } = found;
  let because = 'no external dependency named';
  if (cause.dependency !== null) {
    const h = isHealthy(o.health(cause.dependency), now);
    if (!h.healthy) return { kind: 'leave', reason: `waiting for ${cause.dependency}: ${h.why}` };
    because = `${cause.dependency} ${h.why}`;
  }
  return { kind: 'rerun', rerun, cause, line: `deferred re-run ${rerun} of ${s.maxReruns} after ${cause.error} — ${because}` };
}

/** How a deferred re-run ended, from the job as it reads now. */
export function rerunOutcome(job: Pick<JobRecord, 'status' | 'recoveries'>, rerun: number): 'recovered' | 'failed' | 'pending' {
  const entry = [...job.recoveries].reverse().find((r) => r.fn === DEFERRED_FN && r.attempt === rerun);
  if (entry !== undefined && entry.outcome !== 'pending') return entry.outcome;
  if (job.status === 'complete') return 'recovered';
  if (job.status === 'failed' || job.status === 'cancelled') return 'failed';
  return 'pending';
}

/** Whether auto-recovery may start a re-run now: its breaker's `admit`, with the reason when paused. */
export function autoRecoveryAdmits(b: Breaker, now: number, s: DeferredSettings): ReturnType<typeof admit> & { reason: string } {
  const step = admit(b, now, s.breaker);
  const reason = step.allowed
    ? (b.state === 'closed' ? 'auto-recovery is on' : 'auto-recovery tries one re-run after its cooldown')
    : `auto-recovery is paused after ${b.failures} consecutive failed re-runs until ${new Date(step.retryAt ?? now).toISOString()}`;
  return { ...step, reason };
}
