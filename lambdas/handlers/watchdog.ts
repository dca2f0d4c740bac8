/** The watchdog (EventBridge schedule, every minute): one sweep of stuck jobs and unsettled packs. */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logger, metrics } from '../adapters/logging.ts';
import { sweep, type SweepReport } from '../adapters/watchdog-sweep.ts';

const base = async (): Promise<SweepReport> => {
  try {
    const report = await sweep();
    const acted = report.jobs.filter((j) => j.action !== 'leave');
    logger.info('watchdog sweep', {
      skipped: report.skipped, stuck: report.stuck, jobsByStatus: report.jobsByStatus, acted: acted.length,
      actions: acted.map((j) => ({ jobId: j.jobId, action: j.action, reason: j.reason })),
      packs: report.packs.filter((p) => p.action !== 'leave'),
    });
    return report;
  } finally {
    // Published here rather than by logMetrics: only when there is something to publish.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};

export const handler = middy(base).use(injectLambdaContext(logger, { resetKeys: true }));
