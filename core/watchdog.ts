/**
 * What the watchdog and the reconciler do with a job, as pure decisions (docs/architecture.md
 * §3), bounded by an anti-loop schedule. The watchdog finds jobs whose status has not moved past a per-status
 * deadline; the reconciler hears that an execution ended. Both observe the job's execution
 * and ask `decide` what to do: leave it, restart it from its checkpoints, wait out the
 * restart schedule, reconcile the item to what the execution did, or fail it when its
 * restarts are spent. The adapters (adapters/watchdog-actions.ts) carry it out.
 */
import type { JobRecord, PackRecord } from './job.ts';
import { GPU_TASK, HOSTED_POLL, gpuTaskTimeoutSeconds } from './resources.ts';
import { JOB_STATUSES, TERMINAL_JOB_STATUSES, TERMINAL_PACK_STATUSES, emptyCounts, packOutcome, type JobStatus, type PackStatus, type StatusCounts } from './status.ts';
import { STAGES, resumeFrom, type Stage } from './strategies.ts';
import { entryFor, isErrorName } from './taxonomy.ts';

/** Statuses a job can be stuck in. */
export type WatchedStatus = Exclude<JobStatus, 'complete' | 'failed' | 'cancelled'>;
export const WATCHED_STATUSES = JOB_STATUSES.filter((s) => !TERMINAL_JOB_STATUSES.includes(s)) as WatchedStatus[];

/** Margin over the job machine's own timeouts: the machine notices first, the watchdog only when it could not. */
const MARGIN_SECONDS = 300;

/**
 * Seconds a job may stay in a status before the watchdog looks at it (real seconds; the
 * offline runtime scales them). Every stage function writes the job when it starts and when
 * a call fails (the ledger), so a status that has not moved for this long is not working.
 */
export const DEFAULT_DEADLINE_SECONDS: Readonly<Record<WatchedStatus, number>> = {
  // A pack's Map runs 10 jobs at a time; a pending job waits for its turn or for a run.
  pending: 900,
  // Three calls at a time, each retried; an open breaker's retries wait up to 330 s.
  segmenting: 600,
  // The GPU task's run bound (the hosted poll loop gives up sooner: 120 polls × 5 s); a
  // GPU job's own wait budget for a worker is added to it (deadlineFor).
  inpainting: Math.max(GPU_TASK.timeoutSeconds, HOSTED_POLL.maxPolls * HOSTED_POLL.waitSeconds) + MARGIN_SECONDS,
  compositing: 600,
  qa: 600,
  awaiting_fix: 600,
  // Backoff waits are at most 120 s; recovery functions run for seconds.
  recovering: 900,
};

/** Seed values: at most 3 re-runs, the first at once, then 5 → 15 → 45 minutes between them. */
export const DEFAULT_MAX_RESTARTS = 3;
export const DEFAULT_RESTART_GAP_MINUTES: readonly number[] = [5, 15, 45];
/** The EventBridge schedule's period. */
export const DEFAULT_SWEEP_PERIOD_SECONDS = 60;

export interface WatchdogSettings {
  /** Per status, how long without a write counts as stuck (ms, scaled). */
  readonly deadlinesMs: Readonly<Record<WatchedStatus, number>>;
  /** Re-runs per job before it fails with Recovery.Exhausted. */
  readonly maxRestarts: number;
  /** Least time between re-run k and re-run k+1 is gaps[k-1] (the last gap repeats), in ms (scaled). */
  readonly restartGapsMs: readonly number[];
  /** The schedule's period (ms, scaled). */
  readonly sweepPeriodMs: number;
  /** Scaled ms per real second: turns a job's GPU wait budget into its deadline. */
  readonly msPerSecond: number;
}

export interface WatchdogSettingsInput {
  /** Real seconds per simulated second (VTO_TIME_SCALE). @default 1 */
  readonly timeScale?: number;
  readonly deadlineSeconds?: Partial<Record<WatchedStatus, number>>;
  readonly maxRestarts?: number;
  readonly restartGapMinutes?: readonly number[];
  readonly sweepPeriodSeconds?: number;
}

export function watchdogSettings(o: WatchdogSettingsInput = {}): WatchdogSettings {
  const scale = o.timeScale ?? 1;
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`timeScale must be in (0, 1], got ${scale}`);
  const deadlines = { ...DEFAULT_DEADLINE_SECONDS, ...o.deadlineSeconds };
  for (const [status, seconds] of Object.entries(deadlines)) {
    if (!(seconds > 0) || !Number.isFinite(seconds)) throw new RangeError(`the ${status} deadline must be a positive number of seconds, got ${seconds}`);
  }
  const maxRestarts = o.maxRestarts ?? DEFAULT_MAX_RESTARTS;
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0) throw new RangeError(`maxRestarts must be an integer ≥ 0, got ${maxRestarts}`);
  const gaps = o.restartGapMinutes ?? DEFAULT_RESTART_GAP_MINUTES;
  if (gaps.length === 0 || gaps.some((g) => !(g >= 0) || !Number.isFinite(g))) throw new RangeError(`restart gaps must be minutes ≥ 0, got [${gaps.join(', ')}]`);
  const period = o.sweepPeriodSeconds ?? DEFAULT_SWEEP_PERIOD_SECONDS;
  if (!(period > 0)) throw new RangeError(`the sweep period must be positive, got ${period}`);
  const ms = (seconds: number) => Math.max(1, Math.round(seconds * 1000 * scale));
  return {
    deadlinesMs: Object.fromEntries(WATCHED_STATUSES.map((s) => [s, ms(deadlines[s])])) as Record<WatchedStatus, number>,
    maxRestarts,
    restartGapsMs: gaps.map((m) => Math.round(m * 60_000 * scale)),
    sweepPeriodMs: ms(period),
    msPerSecond: 1000 * scale,
  };
}

const deadlineOf = (status: JobStatus, s: WatchdogSettings) => s.deadlinesMs[status as WatchedStatus] ?? Number.POSITIVE_INFINITY;

/** What the watchdog needs of a job to know its deadline. */
export type DeadlineView = Pick<JobRecord, 'status' | 'updatedAt'> & Partial<Pick<JobRecord, 'inpaint' | 'gpuWaitMinutes'>>;

/**
 * The job's own deadline in its status. A GPU task may wait for a worker as long as its
 * pack allows (its execution is silent meanwhile), so an inpainting GPU job's deadline is
 * the status deadline plus that wait budget.
 */
export function deadlineFor(job: DeadlineView, s: WatchdogSettings): number {
  const base = deadlineOf(job.status, s);
  if (job.status !== 'inpainting' || job.inpaint === 'hosted') return base;
  const waitSeconds = gpuTaskTimeoutSeconds(job.gpuWaitMinutes) - GPU_TASK.timeoutSeconds;
  return base + Math.round(waitSeconds * s.msPerSecond);
}

/**
 * The `updatedAt` bound of the byStatus query for a status: older items are candidates. A
 * restart held back by the schedule waits in `recovering` and may fall due before that
 * status's deadline, so `recovering` is read closer to now (few jobs stay there long).
 */
export function queryCutoff(status: WatchedStatus, now: number, s: WatchdogSettings): number {
  const deadline = deadlineOf(status, s);
  return now - (status === 'recovering' ? Math.min(deadline, s.sweepPeriodMs, ...s.restartGapsMs.map((g) => Math.max(g, 1))) : deadline);
}

/** Past its deadline: what the dashboard counts as stuck. */
export function isStuck(job: DeadlineView, now: number, s: WatchdogSettings): boolean {
  if (TERMINAL_JOB_STATUSES.includes(job.status)) return false;
  return now - Date.parse(job.updatedAt) >= deadlineFor(job, s);
}

/** Whether the sweep must look at the job now: stuck, or a held-back restart has fallen due. */
export function needsLook(job: DeadlineView & Pick<JobRecord, 'watchdogDueAt'>, now: number, s: WatchdogSettings): boolean {
  if (TERMINAL_JOB_STATUSES.includes(job.status)) return false;
  if (job.watchdogDueAt !== undefined && job.status === 'recovering') return now >= Date.parse(job.watchdogDueAt);
  return isStuck(job, now, s);
}

/** The earliest time the job's next re-run may start (−∞ for the first: at once). */
export function nextRestartAt(job: Pick<JobRecord, 'watchdogRestarts' | 'watchdogRestartedAt'>, s: WatchdogSettings): number {
  const done = job.watchdogRestarts ?? 0;
  if (done === 0 || job.watchdogRestartedAt === undefined) return Number.NEGATIVE_INFINITY;
  const gap = s.restartGapsMs[Math.min(done, s.restartGapsMs.length) - 1] ?? 0;
  return Date.parse(job.watchdogRestartedAt) + gap;
}

/**
 * The execution statuses that end a run without success: the reconciler hears of these (the
 * EventBridge rule in lib/observability.ts, its offline stand-in in local/recovery.ts).
 */
export const RECONCILED_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;
export type ReconciledStatus = (typeof RECONCILED_STATUSES)[number];
export const isReconciledStatus = (s: string): s is ReconciledStatus => (RECONCILED_STATUSES as readonly string[]).includes(s);

/** The job's execution as the watchdog sees it; for a pending job, the run named for it next. */
export type ExecutionView =
  | { readonly status: 'MISSING' }
  | { readonly status: 'RUNNING'; readonly lastEventAt: number | null }
  | { readonly status: 'SUCCEEDED' }
  | { readonly status: ReconciledStatus; readonly error: string | null; readonly cause: string | null };

export interface Observation {
  readonly job: JobRecord;
  readonly execution: ExecutionView;
  /** For a pending job without a run: its pack's run is still going and may yet take it. */
  readonly packRunActive?: boolean;
  readonly now: number;
  /** 'sweep': the schedule found it; 'event': its execution just ended. */
  readonly trigger: 'sweep' | 'event';
}

export type WatchdogAction =
  | { readonly kind: 'leave'; readonly reason: string }
  /** Reset to pending keeping checkpoints, then start a new run (after stopping a silent one). */
  | { readonly kind: 'restart'; readonly restart: number; readonly error: string; readonly cause: string; readonly stopFirst: boolean; readonly recorded: boolean }
  /** The restart schedule holds the next run back: park the job in `recovering` until `dueAt`. */
  | { readonly kind: 'defer'; readonly restart: number; readonly dueAt: number; readonly error: string; readonly cause: string; readonly stopFirst: boolean }
  /** The execution succeeded and QA had passed: the item missed the last write. */
  | { readonly kind: 'complete'; readonly cause: string }
  | { readonly kind: 'fail'; readonly error: string; readonly cause: string };

export type ActionKind = WatchdogAction['kind'];

const minutes = (ms: number) => `${Math.round(ms / 6000) / 10} min`;

/** The recoverable name an ended execution gives for the job, or States.Timeout (no progress) when it names none. */
function errorOf(x: ExecutionView): string {
  if (x.status === 'TIMED_OUT') return 'States.Timeout';
  if ((x.status === 'FAILED' || x.status === 'ABORTED') && x.error !== null && isErrorName(x.error) && entryFor(x.error).recoverable) return x.error;
  return 'States.Timeout';
}

/** Where the job is stuck: its status, or, while a held-back restart waits in `recovering`, where it was. */
export function stuckStatus(job: Pick<JobRecord, 'status' | 'watchdogDueAt' | 'watchdogStuckIn'>): JobStatus {
  return job.status === 'recovering' && job.watchdogDueAt !== undefined ? (job.watchdogStuckIn ?? job.status) : job.status;
}

function bounded(o: Observation, s: WatchdogSettings, f: { cause: string; error: string; stopFirst: boolean }): WatchdogAction {
  const { job, now } = o;
  const done = job.watchdogRestarts ?? 0;
  const stuckIn = stuckStatus(job);
  if (done >= s.maxRestarts) {
    const source = o.trigger === 'sweep' ? 'watchdog' : 'reconciler';
    return { kind: 'fail', error: 'Recovery.Exhausted', cause: `${source}: restarted ${done} times, still stuck in ${stuckIn}; ${f.cause}` };
  }
  const restart = done + 1;
  const dueAt = nextRestartAt(job, s);
  if (now < dueAt) {
    if (job.watchdogDueAt !== undefined && job.status === 'recovering') {
      return { kind: 'leave', reason: `restart ${restart} of ${s.maxRestarts} is due at ${new Date(dueAt).toISOString()}` };
    }
    return { kind: 'defer', restart, dueAt, ...f };
  }
  return { kind: 'restart', restart, ...f, recorded: job.watchdogDueAt !== undefined };
}

/** What to do with one job. Never restarts a job whose run really failed on a non-recoverable error. */
export function decide(o: Observation, s: WatchdogSettings): WatchdogAction {
  const { job, execution: x, now } = o;
  if (TERMINAL_JOB_STATUSES.includes(job.status)) return { kind: 'leave', reason: `the job is ${job.status}` };
  if (o.trigger === 'sweep' && !needsLook(job, now, s)) return { kind: 'leave', reason: 'within its deadline' };
  const idle = minutes(now - Date.parse(job.updatedAt));
  switch (x.status) {
    case 'RUNNING': {
      if (job.status === 'pending') return { kind: 'leave', reason: 'its run has started' };
      const silentFor = x.lastEventAt === null ? Number.POSITIVE_INFINITY : now - x.lastEventAt;
      if (silentFor < deadlineFor(job, s)) return { kind: 'leave', reason: 'its execution is running and making progress' };
      return bounded(o, s, { error: 'States.Timeout', stopFirst: true, cause: `its execution is running but silent for ${x.lastEventAt === null ? 'ever' : minutes(silentFor)} while the job was ${job.status} for ${idle}` });
    }
    case 'SUCCEEDED':
      if (job.checkpoints.qa !== undefined) return { kind: 'complete', cause: `its execution succeeded (QA passed) while the job item still said ${job.status}` };
      return bounded(o, s, { error: 'States.Timeout', stopFirst: false, cause: `its execution succeeded but left the job ${job.status} without a QA result` });
    case 'FAILED':
    case 'TIMED_OUT':
    case 'ABORTED': {
      const named = x.error ?? 'no error';
      if (x.status === 'FAILED' && x.error !== null && x.error !== 'Control.Stopped' && !entryFor(x.error).recoverable) {
        return { kind: 'fail', error: isErrorName(x.error) ? x.error : 'Unclassified', cause: x.cause ?? `its execution failed with ${x.error}` };
      }
      return bounded(o, s, { error: errorOf(x), stopFirst: false, cause: `its execution ended ${x.status} (${named}) while the job was ${job.status}` });
    }
    case 'MISSING':
      if (job.status === 'pending') {
        if (o.packRunActive === true) return { kind: 'leave', reason: "waiting for its pack's run" };
        return bounded(o, s, { error: 'States.Timeout', stopFirst: false, cause: `pending for ${idle} with no run to take it` });
      }
      return bounded(o, s, { error: 'States.Timeout', stopFirst: false, cause: `no execution runs it while it is ${job.status} (for ${idle})` });
  }
}

/**
 * The stage a watchdog ledger entry names: the last finished one. The ledger resolves an
 * entry when a later stage succeeds, so the restarted run's first successful stage marks
 * the restart recovered.
 */
export function lastFinishedStage(job: Pick<JobRecord, 'checkpoints'>): Stage | null {
  const resumeAt = resumeFrom(job.checkpoints);
  const i = STAGES.indexOf(resumeAt);
  return i <= 0 ? null : STAGES[i - 1]!;
}

/** A pack whose run died: run it again (bounded), or give up and mark it failed. */
export type PackAction =
  | { readonly kind: 'leave'; readonly reason: string }
  | { readonly kind: 'restart'; readonly restart: number }
  | { readonly kind: 'fail'; readonly cause: string };

const RUNNING_PACK: readonly PackStatus[] = ['pending', 'running'];

export function decidePack(pack: Pick<PackRecord, 'status' | 'watchdogRestarts'>, runAlive: boolean, s: WatchdogSettings): PackAction {
  if (!RUNNING_PACK.includes(pack.status)) return { kind: 'leave', reason: `the pack is ${pack.status}` };
  if (runAlive) return { kind: 'leave', reason: 'its run is going' };
  const done = pack.watchdogRestarts ?? 0;
  if (done >= s.maxRestarts) return { kind: 'fail', cause: `reconciler: pack run restarted ${done} times and died again` };
  return { kind: 'restart', restart: done + 1 };
}

/**
 * A pack that is not running whose jobs all ended gets the outcome of its jobs (a job the
 * watchdog re-ran alone may end after its pack was finalized). Null while a job is not done.
 */
export function settlement(pack: Pick<PackRecord, 'status'>, statuses: readonly JobStatus[]): { status: PackStatus; counts: StatusCounts } | null {
  if (RUNNING_PACK.includes(pack.status)) return null;
  const counts = emptyCounts();
  for (const s of statuses) counts[s]++;
  const status = packOutcome(counts);
  if (status === 'running' || !TERMINAL_PACK_STATUSES.includes(status)) return null;
  return { status, counts };
}
