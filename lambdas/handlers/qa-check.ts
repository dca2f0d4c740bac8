/** "Check the quality": scores the composite; passing completes the job, failing asks the fixer. */
import { qaReport } from '../../core/images/qa.ts';
import { decodeMask } from '../../core/images/mask.ts';
import { DataCorruptionError, QaRejectedError } from '../../core/errors.ts';
import { getObject } from '../../adapters/artifacts.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { analyze } from '../../adapters/providers.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'QaCheck', stage: 'qa', schema: jobStateSchema }, async ({ job, executionArn }) => {
  if (!job) throw new DataCorruptionError('QaCheck needs a jobId');
  const resultKey = job.checkpoints.compositing;
  const maskKey = job.checkpoints.segmentation;
  if (resultKey === undefined || maskKey === undefined) throw new DataCorruptionError(`job ${job.jobId} reached QA without a composite`);
  await updateJob(job.jobId, { to: 'qa', owner: executionArn });
  const [original, result, maskPng] = await Promise.all([getObject(job.inputs.person), getObject(resultKey), getObject(maskKey)]);
  const analyzer = await analyze({ jobId: job.jobId, original, result, mask: maskPng });
  const report = await qaReport({ original, result, mask: await decodeMask(maskPng), analyzer });
  if (report.passed) {
    await updateJob(job.jobId, { to: 'complete', owner: executionArn, set: { qaReport: report }, setIn: { checkpoints: { qa: resultKey } } });
    return { qa: { score: report.score, passed: true } };
  }
  await updateJob(job.jobId, { to: 'awaiting_fix', owner: executionArn, set: { qaReport: report } });
  throw new QaRejectedError(`QA score ${report.score} below ${report.threshold}: ${report.reasons.map((r) => r.code).join(', ')}`);
});
