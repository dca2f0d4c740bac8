/**
 * The watchdog's deferred recovery of failed jobs (core/deferred-recovery.ts decides): each
 * sweep first settles the outcomes of the re-runs it started (they feed auto-recovery's own
 * breaker), then finds recently failed jobs through the byStatus index — ids only, each job
 * read again consistently before anything is decided, since the index may lag — and re-runs
 * from their checkpoints those whose temporary cause has passed. Auto-recovery's breaker
 * and its re-runs in flight are one item of the control table, written on its version.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { PipelineError } from '../core/errors.ts';
import { CLOSED_BREAKER, fail, succeed, type Breaker, type BreakerProvider } from '../core/breaker.ts';
import {
  AUTO_RECOVERY_BREAKER, DEFERRED_FN, autoRecoveryAdmits, decideDeferred, deferredSettings, rerunOutcome,
  type AutoRecoveryBreakerSettings, type DeferredDecision, type DeferredSettings, type DependencyHealth,
} from '../core/deferred-recovery.ts';
import type { BreakerState } from '../core/health.ts';
import type { JobRecord, RecoveryEntry } from '../core/job.ts';
import { lastFinishedStage, type WatchdogSettings } from '../core/watchdog.ts';
import { access, grant } from './access.ts';
import { documentClient } from './aws-clients.ts';
import { config } from './config.ts';
import { JOB_STORE_ACCESS, findJob, getPack, jobIdsByStatus, NotFoundError, putEvent, updateJob } from './job-store.ts';
import { logger } from './logging.ts';
import { PACK_SETTLEMENT_ACCESS, markUnsettled } from './pack-settlement.ts';
import { lambdaBreakers } from './provider-breakers.ts';
import { WATCHDOG_ACTIONS_ACCESS, startJobRun } from './watchdog-actions.ts';
import { publishPoints } from './metric-points.ts';

/** Failed jobs by the status index, then each job read consistently; auto-recovery's breaker item; the re-run itself. */
export const WATCHDOG_DEFERRED_ACCESS = access(
  JOB_STORE_ACCESS.jobsByStatus, grant('table:control', 'dynamodb', 'GetItem', 'PutItem'),
  JOB_STORE_ACCESS.readJob, JOB_STORE_ACCESS.readPack, JOB_STORE_ACCESS.writeJob, JOB_STORE_ACCESS.writeEvent,
  PACK_SETTLEMENT_ACCESS, WATCHDOG_ACTIONS_ACCESS.act,
);

/** The control-table item of auto-recovery: its breaker and the re-runs whose outcome it awaits. */
export const AUTO_RECOVERY_ID = `breaker#${AUTO_RECOVERY_BREAKER}`;
/** Re-runs awaited at once; more are not started until some have ended. */
const MAX_IN_FLIGHT = 500;
const PROBE_TIMEOUT_MS = 3000;

export interface InFlightRerun {
  readonly jobId: string;
  readonly rerun: number;
  readonly at: string;
}

export interface AutoRecoveryState {
  readonly breaker: Breaker;
  readonly inFlight: readonly InFlightRerun[];
  readonly version: number;
}

export interface DeferredOutcome {
  readonly jobId: string;
  readonly packId: string;
  readonly action: 'rerun' | 'leave' | 'skipped' | 'error';
  readonly reason: string;
  readonly executionArn?: string;
}

export interface DeferredReport {
  readonly autoRecovery: BreakerState;
  readonly reruns: DeferredOutcome[];
  /** Re-runs that ended since the last sweep. */
  readonly ended: { readonly jobId: string; readonly rerun: number; readonly outcome: 'recovered' | 'failed' }[];
}

const epoch = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : null);
const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

export async function readAutoRecovery(): Promise<AutoRecoveryState> {
  const res = await documentClient().send(new GetCommand({ TableName: config().controlTable, Key: { id: AUTO_RECOVERY_ID }, ConsistentRead: true }));
  const i = res.Item;
  if (!i) return { breaker: CLOSED_BREAKER, inFlight: [], version: 0 };
  return {
    breaker: {
      state: i['state'] as Breaker['state'], failures: Number(i['failures'] ?? 0), openedAt: epoch(i['openedAt']),
      trials: Number(i['trials'] ?? 0), trialsAt: epoch(i['trialsAt']),
    },
    inFlight: (i['inFlight'] ?? []) as InFlightRerun[],
    version: Number(i['version'] ?? 0),
  };
}

async function writeAutoRecovery(before: AutoRecoveryState, breaker: Breaker, inFlight: readonly InFlightRerun[]): Promise<void> {
  await documentClient().send(new PutCommand({
    TableName: config().controlTable,
    Item: {
      id: AUTO_RECOVERY_ID, provider: AUTO_RECOVERY_BREAKER, state: breaker.state, failures: breaker.failures, trials: breaker.trials,
      ...(breaker.openedAt !== null && { openedAt: iso(breaker.openedAt) }),
      ...(breaker.trialsAt !== null && { trialsAt: iso(breaker.trialsAt) }),
      inFlight, version: before.version + 1, updatedAt: new Date().toISOString(),
    },
    ConditionExpression: before.version === 0 ? 'attribute_not_exists(id)' : 'version = :v',
    ...(before.version !== 0 && { ExpressionAttributeValues: { ':v': before.version } }),
  }));
}

/** Auto-recovery's breaker as GET /health lists it. */
export async function autoRecoveryBreakerState(): Promise<BreakerState> {
  return asBreakerState((await readAutoRecovery()).breaker);
}

const asBreakerState = (b: Breaker): BreakerState => ({
  dependency: AUTO_RECOVERY_BREAKER, state: b.state, failures: b.failures,
  ...(b.state !== 'closed' && b.openedAt !== null && { openedAt: new Date(b.openedAt).toISOString() }),
});

const PROBE_URL: Record<BreakerProvider, () => string | undefined> = {
  segmentation: () => config().segmentationUrl,
  analyzer: () => config().analyzerUrl,
  'hosted-inpaint': () => config().hostedUrl,
  // The GPU fleet sits behind its queue: its breaker (fed by the workers) is its health.
  comfyui: () => undefined,
};

/** The provider's health check: GET {base}/health answered below 500 within the timeout. */
async function probe(provider: BreakerProvider): Promise<DependencyHealth['probe']> {
  const base = PROBE_URL[provider]();
  if (base === undefined) return null;
  try {
    const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.arrayBuffer().catch(() => undefined);
    return res.status < 500 ? { ok: true } : { ok: false, detail: `GET /health answered ${res.status}` };
  } catch (e) {
    return { ok: false, detail: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 200) : String(e) };
  }
}

async function observeHealth(provider: BreakerProvider): Promise<DependencyHealth> {
  const breakers = lambdaBreakers();
  const [{ breaker }, checked] = await Promise.all([breakers.read(provider), probe(provider)]);
  return {
    breaker: breaker.state, probe: checked,
    ...(breaker.openedAt !== null && { reopensAt: breaker.openedAt + breakers.settings.openMs }),
  };
}

function count(outcome: string): void {
  publishPoints({ outcome }, ['DeferredReruns', 1]);
}

/** Resets the failed job to pending keeping its checkpoints (only as read), records the re-run, and starts its run. */
async function rerun(job: JobRecord, d: Extract<DeferredDecision, { kind: 'rerun' }>): Promise<DeferredOutcome> {
  const base = { jobId: job.jobId, packId: job.packId };
  const at = new Date().toISOString();
  const entry: RecoveryEntry = {
    at, error: d.cause.error, strategy: 'RESUME_CHECKPOINT', fn: DEFERRED_FN, stage: lastFinishedStage(job), attempt: d.rerun,
    cause: `${job.error?.name ?? 'failed'}: ${job.error?.cause ?? ''}`.slice(0, 1000), detail: d.line, outcome: 'pending',
  };
  await updateJob(job.jobId, {
    to: 'pending', from: ['failed'], unchangedSince: job.updatedAt,
    // A fresh in-run budget: the cause it spent it on has passed. The deferred bound holds the whole.
    set: { deferredReruns: d.rerun, deferredRerunAt: at, attempts: {}, recoveriesUsed: 0, watchdogRestarts: 0 },
    remove: ['error', 'needsIntervention', 'executionArn', 'watchdogDueAt', 'watchdogRestartedAt', 'watchdogStuckIn'],
    append: entry,
  });
  await putEvent({ kind: 'rerun', at, packId: job.packId, jobId: job.jobId, error: d.cause.error, strategy: entry.strategy, outcome: 'started' });
  await markUnsettled(job.packId);
  try {
    const executionArn = await startJobRun({ ...job, status: 'pending' });
    return { ...base, action: 'rerun', reason: d.line, executionArn };
  } catch (e) {
    // Nothing runs it: back to failed as it was, the re-run not spent; the next sweep tries again.
    await updateJob(job.jobId, {
      to: 'failed', from: ['pending'],
      set: { deferredReruns: d.rerun - 1, ...(job.error && { error: job.error }), ...(job.needsIntervention !== undefined && { needsIntervention: job.needsIntervention }) },
    }).catch(() => undefined);
    throw e;
  }
}

/** The outcomes of re-runs started earlier: each a success or failure of auto-recovery's breaker. */
async function settleInFlight(state: AutoRecoveryState, s: DeferredSettings, now: number): Promise<{ breaker: Breaker; inFlight: InFlightRerun[]; ended: DeferredReport['ended'] }> {
  let breaker = state.breaker;
  const inFlight: InFlightRerun[] = [];
  const ended: DeferredReport['ended'] = [];
  for (const r of state.inFlight) {
    const job = await findJob(r.jobId);
    const outcome = job === undefined ? 'failed' : rerunOutcome(job, r.rerun);
    if (outcome === 'pending') {
      inFlight.push(r);
      continue;
    }
    breaker = (outcome === 'recovered' ? succeed : fail)(breaker, now, s.breaker).breaker;
    ended.push({ jobId: r.jobId, rerun: r.rerun, outcome });
    count(outcome);
    if (job) await putEvent({ kind: 'rerun', at: new Date(now).toISOString(), packId: job.packId, jobId: job.jobId, error: job.error?.name ?? 'none', strategy: 'RESUME_CHECKPOINT', outcome });
  }
  return { breaker, inFlight, ended };
}

/**
 * One pass of deferred recovery; called by the watchdog's sweep (never while emergency-stopped).
 * With `only`, the pass looks at those failed jobs instead of the index's, due at once (an
 * operator asked, e.g. after teaching the classifier their cause): every other rule holds —
 * a temporary cause, the re-run bound, the health gate, auto-recovery's breaker.
 */
export async function deferredSweep(w: WatchdogSettings & { maxJobsPerSweep: number; autoRecoveryBreaker?: AutoRecoveryBreakerSettings }, now: number = Date.now(), only?: readonly string[]): Promise<DeferredReport> {
  const s = only === undefined ? deferredSettings(w) : { ...deferredSettings(w), gapsMs: [0] };
  const state = await readAutoRecovery();
  const settled = await settleInFlight(state, s, now);
  const { inFlight, ended } = settled;
  let { breaker } = settled;
  const reruns: DeferredOutcome[] = [];

  const from = new Date(now - s.windowMs).toISOString();
  const to = new Date(now - Math.min(...s.gapsMs)).toISOString();
  const ids = only === undefined ? (await jobIdsByStatus('failed', {
    between: { from, to }, limit: w.maxJobsPerSweep,
    // Newest first: a sweep that cannot take them all serves the failures still on their schedule.
    newestFirst: true,
  })).ids : only.slice(0, w.maxJobsPerSweep);
  const health = new Map<BreakerProvider, Promise<DependencyHealth>>();
  const packs = new Map<string, Promise<boolean>>();
  const packRunning = (packId: string) => {
    if (!packs.has(packId)) {
      packs.set(packId, getPack(packId).then((p) => p.status === 'pending' || p.status === 'running', (e: unknown) => {
        if (e instanceof NotFoundError) return false;
        throw e;
      }));
    }
    return packs.get(packId) as Promise<boolean>;
  };
  const healthOf = async (job: JobRecord) => {
    // Only the dependencies a decision asks about are checked, each once per sweep.
    const asked = new Map<BreakerProvider, DependencyHealth>();
    const first = decideDeferred({ job, now, packRunning: false, health: () => ({ breaker: 'closed', probe: null }) }, s);
    if (first.kind === 'rerun' && first.cause.dependency !== null) {
      const dep = first.cause.dependency;
      if (!health.has(dep)) health.set(dep, observeHealth(dep));
      asked.set(dep, await (health.get(dep) as Promise<DependencyHealth>));
    }
    return { first, asked };
  };

  for (const id of ids) {
    // The index may lag: the job as it is now decides, never the index's copy.
    const job = await findJob(id);
    if (job === undefined) continue;
    try {
      const { first, asked } = await healthOf(job);
      if (first.kind === 'leave') {
        reruns.push({ jobId: job.jobId, packId: job.packId, action: 'leave', reason: first.reason });
        continue;
      }
      const d = decideDeferred({ job, now, packRunning: await packRunning(job.packId), health: (dep) => asked.get(dep) ?? { breaker: 'closed', probe: null } }, s);
      if (d.kind === 'leave') {
        reruns.push({ jobId: job.jobId, packId: job.packId, action: 'leave', reason: d.reason });
        continue;
      }
      const gate = autoRecoveryAdmits(breaker, now, s);
      if (!gate.allowed || inFlight.length >= MAX_IN_FLIGHT) {
        reruns.push({ jobId: job.jobId, packId: job.packId, action: 'leave', reason: gate.allowed ? 'too many re-runs in flight' : gate.reason });
        continue;
      }
      breaker = gate.breaker;
      const outcome = await rerun(job, d);
      inFlight.push({ jobId: job.jobId, rerun: d.rerun, at: new Date(now).toISOString() });
      count('started');
      logger.info('watchdog: deferred re-run', { jobId: job.jobId, packId: job.packId, line: d.line, executionArn: outcome.executionArn });
      reruns.push(outcome);
    } catch (e) {
      // A failed condition: the job moved (an operator's retry, the reconciler) since it was read.
      const changed = e instanceof PipelineError;
      logger[changed ? 'info' : 'error']('watchdog: deferred re-run not started', { jobId: job.jobId, error: e as Error });
      reruns.push({ jobId: job.jobId, packId: job.packId, action: changed ? 'skipped' : 'error', reason: e instanceof Error ? e.message : String(e) });
    }
  }

  const changed = JSON.stringify(breaker) !== JSON.stringify(state.breaker) || JSON.stringify(inFlight) !== JSON.stringify(state.inFlight);
  if (changed) {
    try {
      await writeAutoRecovery(state, breaker, inFlight);
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      logger.warn('auto-recovery state changed under the sweep; the next sweep reads it again');
    }
  }
  return { autoRecovery: asBreakerState(breaker), reruns, ended };
}
