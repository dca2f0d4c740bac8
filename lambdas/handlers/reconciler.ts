/** The reconciler (EventBridge rule on FAILED, TIMED_OUT and ABORTED executions): recovers a dead run at once. */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DataCorruptionError } from '../../core/errors.ts';
import { logger, metrics } from '../../adapters/logging.ts';
import { reconcile, statusChangeSchema, type ReconcileOutcome } from '../../adapters/reconcile.ts';

const base = async (event: unknown): Promise<ReconcileOutcome> => {
  try {
    const parsed = statusChangeSchema.safeParse(event);
    if (!parsed.success) {
      throw new DataCorruptionError(`reconciler: not a Step Functions execution status change: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const { executionArn, status } = parsed.data.detail;
    logger.appendKeys({ executionArn });
    const outcome = await reconcile(parsed.data);
    logger.info('reconciled', { status, outcome });
    return outcome;
  } finally {
    // Actions publish their own metrics (WatchdogActions); nothing is published for an ignored event.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};

export const handler = middy(base).use(injectLambdaContext(logger, { resetKeys: true }));
