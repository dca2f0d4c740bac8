/** "Prepare the GPU workflow": a ComfyUI workflow from the current parameters, as a new attempt. */
import { gpuTaskTimeoutSeconds, s3Keys } from '../../core/resources.ts';
import { buildInpaintWorkflow } from '../../core/workflow.ts';
import { gpuTaskAction, type GpuTask } from '../../core/gpu-message.ts';
import { DataCorruptionError } from '../../core/errors.ts';
import { config } from '../../adapters/config.ts';
import { updateJob } from '../../adapters/job-store.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

export const handler = stateHandler({ fn: 'InpaintPrepare', stage: 'inpaint', schema: jobStateSchema }, async ({ job, executionArn }) => {
  if (!job) throw new DataCorruptionError('InpaintPrepare needs a jobId');
  const mask = job.checkpoints.segmentation;
  if (mask === undefined) throw new DataCorruptionError(`job ${job.jobId} reached inpaint without a mask checkpoint`);
  const attempt = (job.attempts.gpu ?? 0) + 1;
  const action = gpuTaskAction(job);
  await updateJob(job.jobId, { to: 'inpainting', owner: executionArn, increment: { attempts: { gpu: 1 } } });
  const gpu = {
    attempt,
    workflow: buildInpaintWorkflow(job.params, { person: '{{person}}', mask: '{{mask}}', garment: '{{garment}}' }),
    inputs: { person: job.inputs.person, mask, garment: job.inputs.garment },
    outputPrefix: s3Keys.artifact(job.packId, job.jobId, `inpaint/attempt-${attempt}/`),
    deadlineSeconds: config().gpuDeadlineSeconds,
    // The GPU task's TimeoutSecondsPath: the pack's wait budget for a worker, then the run.
    timeoutSeconds: gpuTaskTimeoutSeconds(job.gpuWaitMinutes),
    action,
    // The GPU task sends the message right after this returns.
    enqueuedAt: new Date().toISOString(),
  } satisfies GpuTask;
  return { gpu };
});
