/**
 * What the watchdog and the reconciler share: observing a job's execution, and carrying out
 * the decision of core/watchdog.ts. Every change of the job is one conditional write that
 * also requires `updatedAt` to be what was observed, so the watchdog, the reconciler and the
 * pipeline itself never undo each other: whoever moved the job first wins, the others skip.
 * Every action is in the job's recovery ledger and is a recovery event.
 */
import { PipelineError } from '../core/errors.ts';
import { jobExecutionName, packExecutionName, type JobRecord, type PackRecord, type RecoveryEntry } from '../core/job.ts';
import { STATE_MACHINES } from '../core/resources.ts';
import { entryFor, type Strategy } from '../core/taxonomy.ts';
import {
  lastFinishedStage, stuckStatus, type ExecutionView, type ReconciledStatus, type Observation, type PackAction, type WatchdogAction, type WatchdogSettings,
} from '../core/watchdog.ts';
import { config, required } from './config.ts';
import { access } from './access.ts';
import { JOB_EXECUTIONS_ACCESS, executionArnOf, startRun, stopExecution, viewExecution } from './job-executions.ts';
import { JOB_STORE_ACCESS, getPack, NotFoundError, putEvent, updateJob, updateJobAndRead, updatePack } from './job-store.ts';
import { LEDGER_ACCESS, resolve } from './ledger.ts';
import { logger } from './logging.ts';
import { PACK_SETTLEMENT_ACCESS, markUnsettled } from './pack-settlement.ts';
import { publishPoints } from './metric-points.ts';

export const WATCHDOG_ACTIONS_ACCESS = {
  /** observeJob (the job's run, with progress) and packRunActive (the pack and its run) */
  observe: access(JOB_STORE_ACCESS.readPack, JOB_EXECUTIONS_ACCESS.view('job', true), JOB_EXECUTIONS_ACCESS.view('pack')),
  /** carryOut and carryOutPack: restart runs, rewrite the job or pack, its ledger and events */
  act: access(
    JOB_EXECUTIONS_ACCESS.start('job'), JOB_EXECUTIONS_ACCESS.start('pack'),
    JOB_STORE_ACCESS.readPack, JOB_STORE_ACCESS.writeJob, JOB_STORE_ACCESS.writePack, JOB_STORE_ACCESS.writeEvent, LEDGER_ACCESS, PACK_SETTLEMENT_ACCESS,
  ),
  /** carryOut stops a run first (stopFirst) only when a sweep saw it running but silent; ended runs, the reconciler's, need no stop. */
  stopSilentRun: JOB_EXECUTIONS_ACCESS.stop('job'),
} as const;

export type RecoverySource = 'watchdog' | 'reconciler';

export interface ActionOutcome {
  readonly jobId: string;
  readonly packId: string;
  readonly action: WatchdogAction['kind'] | 'skipped' | 'error';
  readonly reason: string;
  /** The new run, when one was started. */
  readonly executionArn?: string;
}

const FN: Record<RecoverySource, string> = { watchdog: 'Watchdog', reconciler: 'Reconciler' };
const CAUSE_CHARS = 1000;

export const jobMachineArn = () => required(config().jobStateMachineArn, STATE_MACHINES.job.envVar);
export const packMachineArn = () => required(config().packStateMachineArn, STATE_MACHINES.pack.envVar);

/** Only the job as it was observed may be changed: a write by anyone since then wins. */

/**
 * Whether the pack's run is still going and may yet take a pending job. A pack claimed for
 * a run that has not loaded yet counts as going for `startGraceMs`, then as a start that failed.
 */
export async function packRunActive(packId: string, now: number = Date.now(), startGraceMs: number = Number.POSITIVE_INFINITY): Promise<boolean> {
  let pack: PackRecord;
  try {
    pack = await getPack(packId);
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
  if (pack.status !== 'pending' && pack.status !== 'running') return false;
  // A pack claimed for a new run but not loaded yet has no run of its own to look at.
  if (pack.status === 'pending' && pack.executionArn === undefined) return now - Date.parse(pack.updatedAt) < startGraceMs;
  return (await viewExecution(pack.executionArn, false)).status === 'RUNNING';
}

/**
 * What the watchdog sees of a job: its current execution (with its last activity when the
 * schedule found it), or for a pending job the run named for it next and whether its pack
 * may still run it.
 */
export async function observeJob(job: JobRecord, now: number, packActive: (packId: string) => Promise<boolean> = packRunActive): Promise<Observation> {
  if (job.status === 'pending') {
    const execution = await viewExecution(executionArnOf(jobMachineArn(), jobExecutionName(job)), false);
    return { job, execution, now, trigger: 'sweep', ...(execution.status === 'MISSING' && { packRunActive: await packActive(job.packId) }) };
  }
  return { job, execution: await viewExecution(job.executionArn, true), now, trigger: 'sweep' };
}

function countAction(source: RecoverySource, action: ActionOutcome['action']): void {
  publishPoints({ source, action }, ['WatchdogActions', 1]);
}

function ledgerEntry(job: JobRecord, source: RecoverySource, e: { error: string; cause: string; strategy: Strategy; attempt: number; detail: string }): RecoveryEntry {
  return {
    at: new Date().toISOString(), error: e.error, strategy: e.strategy, fn: FN[source], stage: lastFinishedStage(job),
    attempt: e.attempt, cause: e.cause.slice(0, CAUSE_CHARS), detail: e.detail, outcome: 'pending',
  };
}

async function recordEvent(job: JobRecord, entry: RecoveryEntry): Promise<void> {
  await putEvent({ kind: 'error', at: entry.at, packId: job.packId, jobId: job.jobId, error: entry.error, strategy: entry.strategy });
}

const pendingIndexes = (job: JobRecord) => job.recoveries.flatMap((r, i) => (r.outcome === 'pending' ? [i] : []));

/** Starts the job's next run; a name taken by a run that never claimed the job is counted and skipped. */
export async function startJobRun(job: JobRecord): Promise<string> {
  let runs = job.runs;
  return startRun(jobMachineArn(), () => jobExecutionName({ jobId: job.jobId, runs }), { packId: job.packId, jobId: job.jobId }, async () => {
    await updateJob(job.jobId, { increment: { runs: 1 } });
    runs++;
  });
}

/** Carries out a decision. A job that changed since it was observed is skipped, never overwritten. */
export async function carryOut(job: JobRecord, action: WatchdogAction, source: RecoverySource, s: WatchdogSettings): Promise<ActionOutcome> {
  const base = { jobId: job.jobId, packId: job.packId };
  if (action.kind === 'leave') return { ...base, action: 'leave', reason: action.reason };
  const log = logger.createChild({ persistentKeys: { jobId: job.jobId, packId: job.packId, source } });
  try {
    const outcome = await apply(job, action, source, s);
    countAction(source, outcome.action);
    log.info(`${source}: ${outcome.action}`, { reason: outcome.reason, status: job.status, ...(outcome.executionArn && { executionArn: outcome.executionArn }) });
    return outcome;
  } catch (e) {
    if (e instanceof PipelineError) {
      // The condition failed: the pipeline, an operator or the other of us moved the job first.
      countAction(source, 'skipped');
      return { ...base, action: 'skipped', reason: `the job changed meanwhile (${e.message})` };
    }
    countAction(source, 'error');
    log.error(`${source}: could not ${action.kind} the job`, { error: e as Error });
    return { ...base, action: 'error', reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

async function apply(job: JobRecord, action: Exclude<WatchdogAction, { kind: 'leave' }>, source: RecoverySource, s: WatchdogSettings): Promise<ActionOutcome> {
  const base = { jobId: job.jobId, packId: job.packId };
  const now = new Date().toISOString();
  switch (action.kind) {
    case 'restart': {
      if (action.stopFirst && job.executionArn !== undefined) await stopExecution(job.executionArn, 'States.Timeout', `${source}: ${action.cause}`);
      const entry = action.recorded ? undefined : ledgerEntry(job, source, {
        error: action.error, cause: `${source}: ${action.cause}`, strategy: 'RESUME_CHECKPOINT', attempt: action.restart,
        detail: `restart ${action.restart} of ${s.maxRestarts} from the checkpoints`,
      });
      const reset = await updateJobAndRead(job.jobId, {
        to: 'pending', from: [job.status], unchangedSince: job.updatedAt,
        set: {
          watchdogRestarts: action.restart, watchdogRestartedAt: now, watchdogStuckIn: stuckStatus(job),
        },
        // Without its owner a dead or stopped run can no longer write; the new run claims the job.
        remove: ['executionArn', 'watchdogDueAt', 'error', 'needsIntervention'],
        ...(entry && { append: entry }),
      });
      if (entry) await recordEvent(job, entry);
      await markUnsettled(job.packId);
      try {
        const executionArn = await startJobRun(reset);
        return { ...base, action: 'restart', reason: action.cause, executionArn };
      } catch (e) {
        // Nothing runs the job: park it so the next sweep tries again, without spending a restart.
        await updateJob(job.jobId, {
          to: 'recovering', from: ['pending'],
          set: { watchdogDueAt: now, watchdogRestarts: job.watchdogRestarts ?? 0, ...(job.watchdogRestartedAt !== undefined && { watchdogRestartedAt: job.watchdogRestartedAt }) },
          ...(job.watchdogRestartedAt === undefined && { remove: ['watchdogRestartedAt'] }),
        }).catch(() => undefined);
        throw e;
      }
    }
    case 'defer': {
      if (action.stopFirst && job.executionArn !== undefined) await stopExecution(job.executionArn, 'States.Timeout', `${source}: ${action.cause}`);
      const due = new Date(action.dueAt).toISOString();
      const entry = ledgerEntry(job, source, {
        error: action.error, cause: `${source}: ${action.cause}`, strategy: 'RESUME_CHECKPOINT', attempt: action.restart,
        detail: `restart ${action.restart} of ${s.maxRestarts} held back until ${due} (anti-loop schedule)`,
      });
      await updateJob(job.jobId, {
        to: 'recovering', from: [job.status], unchangedSince: job.updatedAt,
        set: { watchdogDueAt: due, watchdogStuckIn: job.status },
        append: entry,
      });
      await recordEvent(job, entry);
      await markUnsettled(job.packId);
      return { ...base, action: 'defer', reason: `${action.cause}; restart due at ${due}` };
    }
    case 'complete': {
      const entry = ledgerEntry(job, source, {
        error: 'States.Timeout', cause: `${source}: ${action.cause}`, strategy: 'RESUME_CHECKPOINT', attempt: 1,
        detail: 'the item reconciled to complete from its execution',
      });
      const updated = await updateJobAndRead(job.jobId, { to: 'complete', from: [job.status], unchangedSince: job.updatedAt, append: entry, remove: ['watchdogDueAt'] });
      await recordEvent(job, entry);
      await resolve(updated, pendingIndexes(updated), 'recovered');
      await markUnsettled(job.packId);
      return { ...base, action: 'complete', reason: action.cause };
    }
    case 'fail': {
      const entry = ledgerEntry(job, source, {
        error: action.error, cause: action.cause, strategy: entryFor(action.error).strategy, attempt: job.watchdogRestarts ?? 0,
        detail: action.error === 'Recovery.Exhausted' ? `the watchdog's ${s.maxRestarts} restarts are spent` : 'the item reconciled to failed from its execution',
      });
      const { recoverable, strategy } = entryFor(action.error);
      const updated = await updateJobAndRead(job.jobId, {
        to: 'failed', from: [job.status], unchangedSince: job.updatedAt,
        set: { error: { name: action.error, cause: action.cause.slice(0, CAUSE_CHARS), at: now }, needsIntervention: !recoverable || strategy === 'NEEDS_INTERVENTION' },
        remove: ['watchdogDueAt'],
        append: entry,
      });
      await recordEvent(job, entry);
      await resolve(updated, pendingIndexes(updated), 'failed');
      await markUnsettled(job.packId);
      return { ...base, action: 'fail', reason: action.cause };
    }
  }
}

/** An ended execution as the reconciler's event describes it. */
export function endedView(status: ReconciledStatus, error: string | null, cause: string | null): ExecutionView {
  return { status, error, cause };
}

export interface PackOutcome {
  readonly packId: string;
  readonly action: PackAction['kind'] | 'settle' | 'skipped' | 'error';
  readonly reason: string;
  readonly executionArn?: string;
}

/** Runs a pack again after its run died (bounded), or marks it failed when its restarts are spent. */
export async function carryOutPack(pack: PackRecord, action: PackAction, source: RecoverySource): Promise<PackOutcome> {
  const base = { packId: pack.packId };
  if (action.kind === 'leave') return { ...base, action: 'leave', reason: action.reason };
  try {
    if (action.kind === 'fail') {
      await updatePack(pack.packId, { error: { name: 'Recovery.Exhausted', cause: action.cause } }, { status: 'failed', from: [pack.status] });
      countAction(source, 'fail');
      return { ...base, action: 'fail', reason: action.cause };
    }
    // Claimed by a conditional status change: a resume or restart that took the pack first wins.
    await updatePack(pack.packId, { watchdogRestarts: action.restart }, { status: 'pending', from: [pack.status] });
    await markUnsettled(pack.packId);
    let runs = pack.runs;
    const executionArn = await startRun(packMachineArn(), () => packExecutionName({ packId: pack.packId, runs }), { packId: pack.packId }, async () => {
      await updatePack(pack.packId, {}, { increment: { runs: 1 } });
      runs++;
    });
    countAction(source, 'restart');
    logger.info(`${source}: pack run restarted`, { packId: pack.packId, executionArn, restart: action.restart });
    return { ...base, action: 'restart', reason: `pack run ${action.restart} restarted`, executionArn };
  } catch (e) {
    if (e instanceof PipelineError) return { ...base, action: 'skipped', reason: `the pack changed meanwhile (${e.message})` };
    countAction(source, 'error');
    logger.error(`${source}: could not ${action.kind} the pack`, { packId: pack.packId, error: e as Error });
    return { ...base, action: 'error', reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}
