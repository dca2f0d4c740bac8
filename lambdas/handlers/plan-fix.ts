/** "Plan a fix": the fixer turns the QA report into corrected parameters for a new inpaint. */
import { DataCorruptionError } from '../../core/errors.ts';
import { planFix } from '../../core/fixer.ts';
import { qaReportSchema } from '../../core/images/qa.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { beginRecovery, countRecovery } from '../../adapters/recovery.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'PlanFix', stage: null, schema: jobStateSchema, recordFailures: false }, async ({ state, job, executionArn }) => {
  if (!job) throw new DataCorruptionError('PlanFix needs a jobId');
  const attempt = await beginRecovery(job, state.lastError, 'FIX_AND_RETRY', 'qa');
  const report = qaReportSchema.safeParse(job.qaReport);
  if (!report.success) throw new DataCorruptionError(`job ${job.jobId} has no readable QA report to fix from`);
  const plan = planFix(report.data, job.params, attempt);
  await updateJob(job.jobId, {
    to: 'recovering', owner: executionArn,
    set: { params: plan.params },
    // The old inpaint and composite are not to be resumed from: the fix needs a new one.
    removeIn: { checkpoints: ['inpaint', 'compositing', 'qa'] },
    increment: countRecovery('FIX_AND_RETRY'),
  });
  return {};
});
