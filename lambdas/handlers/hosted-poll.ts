/** "Poll the hosted inpaint": progress, or the result stored as this attempt's output. */
import { z } from 'zod';
import { currentClassifier } from '../../adapters/taught-classifier.ts';
import type { GpuTaskOutput } from '../../core/gpu-message.ts';
import { DataCorruptionError, GpuTimeoutError, pipelineError } from '../../core/errors.ts';
import { HOSTED_POLL, s3Keys } from '../../core/resources.ts';
import { putObject } from '../../adapters/artifacts.ts';
import { hostedPoll } from '../../adapters/providers.ts';
import { stateHandler } from '../state/state-handler.ts';
import { jobStateSchema } from '../state/state-schemas.ts';

const schema = jobStateSchema.extend({
  hosted: z.object({ taskId: z.string().min(1), attempt: z.int().min(1), polls: z.int().min(0) }).loose(),
});

export const handler = stateHandler({ fn: 'HostedPoll', stage: 'inpaint', schema }, async ({ state, job }) => {
  if (!job) throw new DataCorruptionError('HostedPoll needs a jobId');
  const { taskId, attempt, polls } = state.hosted;
  const res = await hostedPoll(taskId);
  if (res.status === 'failed') {
    // The provider's own error text names the failure, as the GPU worker's does.
    const v = (await currentClassifier()).classify(res.error ?? 'hosted inpaint failed', { stage: 'inpaint' });
    throw pipelineError(v.name, `hosted inpaint ${taskId} failed: ${res.error ?? 'no reason given'}`);
  }
  if (res.status === 'succeeded') {
    if (res.result === undefined) throw pipelineError('Provider.MalformedResponse', `hosted inpaint ${taskId} succeeded without a result`);
    const key = await putObject(s3Keys.artifact(job.packId, job.jobId, `inpaint/attempt-${attempt}/hosted.png`), Buffer.from(res.result, 'base64'));
    return {
      hosted: { ...state.hosted, status: 'succeeded', polls: polls + 1 },
      inpaint: { outputs: [key], gpuSeconds: res.gpuSeconds ?? 0, promptId: taskId, workerId: 'hosted' } satisfies GpuTaskOutput,
    };
  }
  if (polls + 1 >= HOSTED_POLL.maxPolls) {
    throw new GpuTimeoutError(`hosted inpaint ${taskId} still ${res.status} after ${polls + 1} polls`);
  }
  return { hosted: { ...state.hosted, status: res.status, polls: polls + 1, progress: res.progress ?? null } };
});
