/** The watchdog (EventBridge schedule, every minute): one sweep of stuck jobs and unsettled packs, never two at once. */
import type { Context } from 'aws-lambda';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logger, metrics } from '../../adapters/logging.ts';
import { acquireWatchdogLease, releaseWatchdogLease } from '../../adapters/watchdog-lease.ts';
import { sweep, type SweepReport } from '../../adapters/watchdog-sweep.ts';

/** What a run that found another sweep holding the lease reports: it did nothing. */
const OVERLAP: SweepReport = { skipped: 'overlap', jobsByStatus: {}, stuck: 0, jobs: [], packs: [], breakers: [], recoveryRate: null };

/** Kept past the function's own deadline, so a run Lambda ends still holds it until then. */
const LEASE_MARGIN_MS = 5000;

const base = async (_event: unknown, context: Context): Promise<SweepReport> => {
  // One sweep at a time (on AWS reserved concurrency 1 does the same): a later run exits at once.
  const holder = context.awsRequestId;
  if (!(await acquireWatchdogLease(holder, Date.now() + context.getRemainingTimeInMillis() + LEASE_MARGIN_MS))) {
    logger.info('watchdog sweep skipped: another sweep holds the lease');
    return OVERLAP;
  }
  try {
    const report = await sweep();
    const acted = report.jobs.filter((j) => j.action !== 'leave');
    logger.info('watchdog sweep', {
      skipped: report.skipped, stuck: report.stuck, jobsByStatus: report.jobsByStatus, acted: acted.length,
      actions: acted.map((j) => ({ jobId: j.jobId, action: j.action, reason: j.reason })),
      packs: report.packs.filter((p) => p.action !== 'leave'),
      ...(report.erasures && { erasures: report.erasures }),
      ...(report.deferred && {
        autoRecovery: report.deferred.autoRecovery.state,
        reruns: report.deferred.reruns.filter((r) => r.action !== 'leave').map((r) => ({ jobId: r.jobId, action: r.action, reason: r.reason })),
        rerunsEnded: report.deferred.ended,
      }),
    });
    return report;
  } finally {
    await releaseWatchdogLease(holder).catch((e: unknown) => logger.warn('watchdog: could not release the lease', { error: e as Error }));
    // Published here rather than by logMetrics: only when there is something to publish.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};

export const handler = middy(base).use(injectLambdaContext(logger, { resetKeys: true }));
