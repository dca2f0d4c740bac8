/**
 * One watchdog sweep (the EventBridge schedule, every minute): nothing while the pipeline is
 * emergency-stopped; otherwise, per unfinished status, the jobs not written since that
 * status's deadline, found through the byStatus index (status + updatedAt, a Query, never a
 * scan); each compared with its execution and restarted, reconciled or failed (bounded);
 * then failed jobs whose temporary cause has passed are re-run (watchdog-deferred.ts); then
 * the packs it owes an outcome are settled. Publishes the gauges of the dashboard:
 * jobs by status, stuck jobs, breaker states, the recent recovery rate.
 */
import { paginateQuery } from '@aws-sdk/lib-dynamodb';
import { BREAKER_PROVIDERS } from '../core/breaker.ts';
import type { BreakerState } from '../core/health.ts';
import type { JobRecord } from '../core/job.ts';
import { summarize, type StatisticsEvent } from '../core/statistics.ts';
import {
  WATCHED_STATUSES, decide, decidePack, isStuck, needsLook, queryCutoff, type WatchedStatus,
} from '../core/watchdog.ts';
import { documentClient } from './aws-clients.ts';
import { config } from './config.ts';
import { EMERGENCY_STOP_FLAG, JOB_STORE_ACCESS, countJobsByStatus, getFlag, getJobsInOrder, getPack, jobIdsByStatus, NotFoundError } from './job-store.ts';
import { logger } from './logging.ts';
import { PACK_SETTLEMENT_ACCESS, markSettled, settlePack, unsettledPacks } from './pack-settlement.ts';
import { lambdaBreakers } from './provider-breakers.ts';
import { WATCHDOG_ACTIONS_ACCESS, carryOut, carryOutPack, observeJob, packRunActive, type ActionOutcome, type PackOutcome } from './watchdog-actions.ts';
import { access, grant } from './access.ts';
import { BREAKER_READ_ACCESS } from './breaker-store.ts';

/** Stale jobs by status, recent recovery events, the breakers (read), unsettled packs, and the watchdog's actions. */
export const WATCHDOG_SWEEP_ACCESS = access(
  JOB_STORE_ACCESS.jobsByStatus, JOB_STORE_ACCESS.readJobs, grant('table:events', 'dynamodb', 'Query'), BREAKER_READ_ACCESS,
  JOB_STORE_ACCESS.readPack, PACK_SETTLEMENT_ACCESS, WATCHDOG_ACTIONS_ACCESS.observe, WATCHDOG_ACTIONS_ACCESS.act, WATCHDOG_ACTIONS_ACCESS.stopSilentRun,
  WATCHDOG_DEFERRED_ACCESS, PACK_ERASURE_ACCESS,
);
import { WATCHDOG_DEFERRED_ACCESS, deferredSweep, type DeferredReport } from './watchdog-deferred.ts';
import { watchdogSettingsFromEnv } from './watchdog-settings.ts';
import { PACK_ERASURE_ACCESS, isErasing, sweepErasures, type SweptErasure } from './pack-erasure.ts';
import { addPoint, publishPoints } from './metric-points.ts';

/** Jobs handled side by side: each costs a few Step Functions and DynamoDB calls. */
const CONCURRENCY = 4;
/** Packs settled per sweep; the rest wait for the next one. */
const PACKS_PER_SWEEP = 25;
/** Time one sweep spends erasing packs (requested erasures, then retention). */
const ERASURE_BUDGET_MS = 60_000;
/** The window of the recovery-rate gauge. */
const RECOVERY_WINDOW_MS = 3_600_000;
/** Most recovery events one sweep reads for the gauge. */
const MAX_EVENTS = 5000;

export interface SweepReport {
  /** Why the sweep did nothing: the pipeline is emergency-stopped, or another sweep holds the lease. */
  readonly skipped?: 'emergency-stop' | 'overlap';
  /** Unfinished jobs per status (the index's count). */
  readonly jobsByStatus: Partial<Record<WatchedStatus, number>>;
  /** Jobs past their status deadline. */
  readonly stuck: number;
  readonly jobs: ActionOutcome[];
  readonly packs: PackOutcome[];
  readonly breakers: BreakerState[];
  readonly recoveryRate: number | null;
  /** Deferred recovery of failed jobs: auto-recovery's breaker, the re-runs started and ended (absent when skipped). */
  readonly deferred?: DeferredReport;
  /** Packs erased or being erased this sweep: erasures the API began, and packs past the retention setting. */
  readonly erasures?: SweptErasure[];
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Jobs in `status` not written since `before`, oldest first, at most `limit`: ids from the
 * index, the jobs as they are now (a job the index shows stale may have moved on since).
 */
async function staleJobs(status: WatchedStatus, before: string, limit: number): Promise<JobRecord[]> {
  const { ids } = await jobIdsByStatus(status, { olderThan: before, limit });
  return getJobsInOrder(ids);
}

/** Recovery events since `from` (the hour buckets it spans). */
async function recentEvents(from: number, now: number): Promise<StatisticsEvent[]> {
  const out: StatisticsEvent[] = [];
  const fromIso = new Date(from).toISOString();
  for (let t = Math.floor(from / 3_600_000) * 3_600_000; t <= now && out.length < MAX_EVENTS; t += 3_600_000) {
    const pages = paginateQuery({ client: documentClient() }, {
      TableName: config().eventsTable,
      KeyConditionExpression: '#b = :b AND sk >= :from',
      ExpressionAttributeNames: { '#b': 'bucket' },
      ExpressionAttributeValues: { ':b': new Date(t).toISOString().slice(0, 13), ':from': fromIso },
    });
    for await (const page of pages) {
      out.push(...((page.Items ?? []) as StatisticsEvent[]));
      if (out.length >= MAX_EVENTS) break;
    }
  }
  return out;
}

const BREAKER_LEVEL = { closed: 0, half_open: 1, open: 2 } as const;

function publishGauges(r: Omit<SweepReport, 'jobs' | 'packs' | 'skipped'>, byError: { error: string; recovered: number; failed: number; recoverable: boolean }[]): void {
  for (const [status, n] of Object.entries(r.jobsByStatus)) {
    publishPoints({ status }, ['JobsByStatus', n]);
  }
  addPoint('StuckJobs', r.stuck);
  for (const b of r.breakers) {
    // 0 closed, 1 half-open, 2 open: one line per provider on the dashboard.
    publishPoints({ provider: b.dependency }, ['BreakerState', BREAKER_LEVEL[b.state]]);
  }
  if (r.recoveryRate !== null) addPoint('RecoveryRate', Math.round(r.recoveryRate * 1000) / 10);
  for (const e of byError) {
    if (!e.recoverable || e.recovered + e.failed === 0) continue;
    publishPoints({ error: e.error }, ['RecoveryRateByError', Math.round((e.recovered / (e.recovered + e.failed)) * 1000) / 10]);
  }
}

export async function sweep(now: number = Date.now()): Promise<SweepReport> {
  const settings = watchdogSettingsFromEnv();
  const [flag, breakers, jobsByStatus, events] = await Promise.all([
    getFlag(EMERGENCY_STOP_FLAG),
    lambdaBreakers().states().catch((e: unknown) => {
      logger.warn('breaker states could not be read', { error: e as Error });
      return BREAKER_PROVIDERS.map((dependency): BreakerState => ({ dependency, state: 'closed' }));
    }),
    Promise.all(WATCHED_STATUSES.map(async (s) => [s, await countJobsByStatus(s)] as const)).then((e) => Object.fromEntries(e) as Record<WatchedStatus, number>),
    recentEvents(now - RECOVERY_WINDOW_MS, now),
  ]);
  const stats = summarize(events, new Date(now - RECOVERY_WINDOW_MS), new Date(now));
  const base = { jobsByStatus, breakers, recoveryRate: stats.recoveryRate };

  if (flag?.['active'] === true) {
    // Emergency stop: jobs keep their state for resume; nothing is restarted or failed.
    publishGauges({ ...base, stuck: 0 }, stats.byError);
    addPoint('WatchdogSkipped', 1);
    return { ...base, skipped: 'emergency-stop', stuck: 0, jobs: [], packs: [] };
  }

  const found = (await Promise.all(WATCHED_STATUSES.map((s) =>
    staleJobs(s, new Date(queryCutoff(s, now, settings)).toISOString(), settings.maxJobsPerSweep)))).flat();
  const stuck = found.filter((j) => isStuck(j, now, settings)).length;
  const due = found.filter((j) => needsLook(j, now, settings))
    .sort((a, b) => a.updatedAt.localeCompare(b.updatedAt))
    .slice(0, settings.maxJobsPerSweep);

  const packRuns = new Map<string, Promise<boolean>>();
  const packActive = (packId: string) => {
    if (!packRuns.has(packId)) packRuns.set(packId, packRunActive(packId, now, settings.deadlinesMs.pending));
    return packRuns.get(packId) as Promise<boolean>;
  };
  const jobs = await mapLimit(due, CONCURRENCY, async (job) => {
    try {
      const observed = await observeJob(job, now, packActive);
      return await carryOut(job, decide(observed, settings), 'watchdog', settings);
    } catch (e) {
      logger.error('watchdog: could not observe the job', { jobId: job.jobId, error: e as Error });
      return { jobId: job.jobId, packId: job.packId, action: 'error', reason: e instanceof Error ? e.message : String(e) } satisfies ActionOutcome;
    }
  });

  const deferred = !settings.deferredRecovery ? undefined : await deferredSweep(settings, now).catch((e: unknown): undefined => {
    logger.error('watchdog: deferred recovery failed', { error: e as Error });
    return undefined;
  });
  // After the re-runs: a pack whose failed job came back is marked unsettled by then.
  const packs = await settlePacks(settings, now);
  const erasures = await sweepErasures(settings.packRetentionMs, now, Date.now() + ERASURE_BUDGET_MS).catch((e: unknown): SweptErasure[] => {
    logger.error('watchdog: erasures failed', { error: e as Error });
    return [];
  });
  publishGauges({ ...base, stuck }, stats.byError);
  return { ...base, stuck, jobs, packs, ...(deferred && { deferred }), ...(erasures.length > 0 && { erasures }) };
}

/** Settles the packs the watchdog owes an outcome; a pack whose run died meanwhile is run again. */
async function settlePacks(settings: ReturnType<typeof watchdogSettingsFromEnv>, now: number): Promise<PackOutcome[]> {
  const ids = (await unsettledPacks()).slice(0, PACKS_PER_SWEEP);
  return mapLimit(ids, CONCURRENCY, async (packId): Promise<PackOutcome> => {
    try {
      let pack;
      try {
        pack = await getPack(packId);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        await markSettled(packId);
        return { packId, action: 'settle', reason: 'the pack no longer exists' };
      }
      if (isErasing(pack)) {
        // Its erasure deletes it: no outcome (nor event) is owed any more.
        await markSettled(packId);
        return { packId, action: 'settle', reason: 'the pack is being erased' };
      }
      if (pack.status === 'pending' || pack.status === 'running') {
        // Its run finalizes it; a run that died without an event is run again here.
        const alive = await packRunActive(packId, now, settings.deadlinesMs.pending);
        return carryOutPack(pack, decidePack(pack, alive, settings), 'watchdog');
      }
      const status = await settlePack(pack);
      if (status === null) return { packId, action: 'leave', reason: 'a job of the pack is unfinished' };
      await markSettled(packId);
      return { packId, action: 'settle', reason: `settled as ${status}` };
    } catch (e) {
      logger.error('watchdog: could not settle the pack', { packId, error: e as Error });
      return { packId, action: 'error', reason: e instanceof Error ? e.message : String(e) };
    }
  });
}
