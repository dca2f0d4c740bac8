/**
 * The contract between the job machine's GPU task and the GPU worker: the SQS message
 * body the state machine sends, and the output the worker returns with SendTaskSuccess.
 */
import { z } from 'zod';

/** A ComfyUI workflow in API format: node id → { class_type, inputs }. */
export const workflowSchema = z.record(
  z.string(),
  z.object({ class_type: z.string().min(1), inputs: z.record(z.string(), z.unknown()) }).loose(),
);
export type Workflow = z.infer<typeof workflowSchema>;

export const gpuTaskMessageSchema = z.object({
  taskToken: z.string().min(1),
  packId: z.string().min(1),
  jobId: z.string().min(1),
  /** Increases with every run of the GPU task for the job; (jobId, attempt) is one run. */
  attempt: z.int().min(1),
  workflow: workflowSchema,
  /**
   * Input images: placeholder → S3 key in the artifacts bucket. The worker uploads each
   * to ComfyUI and replaces the string `{{placeholder}}` in the workflow's inputs with
   * the uploaded file name.
   */
  inputs: z.record(z.string(), z.string().min(1)),
  /** S3 key prefix the worker writes outputs under. */
  outputPrefix: z.string().min(1),
  /** The worker's own deadline for the generation; past it: POST /interrupt, Gpu.Timeout. */
  deadlineSeconds: z.number().positive().optional(),
  enqueuedAt: z.iso.datetime().optional(),
});
export type GpuTaskMessage = z.infer<typeof gpuTaskMessageSchema>;

export const gpuTaskOutputSchema = z.object({
  outputs: z.array(z.string().min(1)).min(1),
  gpuSeconds: z.number().min(0),
  promptId: z.string(),
  workerId: z.string(),
});
export type GpuTaskOutput = z.infer<typeof gpuTaskOutputSchema>;

/** Step Functions' limits on SendTaskFailure (characters). */
export const TASK_FAILURE_LIMITS = { error: 256, cause: 32_768 } as const;
