/**
 * The contract between the job machine's GPU task and the GPU worker: the SQS message
 * body the state machine sends, and the output the worker returns with SendTaskSuccess.
 */
import { z } from 'zod';
import type { JobRecord } from './job.ts';
import type { Strategy } from './taxonomy.ts';

/** A ComfyUI workflow in API format: node id → { class_type, inputs }. */
export const workflowSchema = z.record(
  z.string(),
  z.object({ class_type: z.string().min(1), inputs: z.record(z.string(), z.unknown()) }).loose(),
);
export type Workflow = z.infer<typeof workflowSchema>;

/**
 * What a GPU task does, as the worker's metrics label it: a job's first inpaint, or the
 * inpaint again after the recovery strategy that sent it back to the GPU.
 */
export type GpuAction = 'inpaint' | Lowercase<Strategy>;

/** A metric label: lowercase, short (the worker's Prometheus label and CloudWatch dimension). */
export const GPU_ACTION_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * The action of a job's next GPU attempt: its first is `inpaint`; a later one is named by
 * the strategy of the newest failure recorded, the one that sent the job back to the GPU.
 */
export function gpuTaskAction(job: Pick<JobRecord, 'attempts' | 'recoveries'>): GpuAction {
  const last = job.recoveries.at(-1);
  return (job.attempts.gpu ?? 0) === 0 || last === undefined ? 'inpaint' : (last.strategy.toLowerCase() as Lowercase<Strategy>);
}

/**
 * The GPU task as "Prepare the GPU workflow" puts it in the machine's state (`$.gpu`).
 * Every field but `timeoutSeconds` (the task's own TimeoutSecondsPath) goes into the queue
 * message under its own name: the ASL's MessageBody is generated from GPU_MESSAGE_FIELDS.
 */
export const gpuTaskSchema = z.object({
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
  deadlineSeconds: z.number().positive(),
  /** When the task was handed to the queue; the worker's queue-wait metric counts from here. */
  enqueuedAt: z.iso.datetime(),
  /** The worker's metric label (gpuTaskAction). */
  action: z.string().regex(GPU_ACTION_PATTERN, 'must be a lowercase label of at most 32 characters'),
  /** Seconds the machine waits for the worker's answer (the pack's wait budget plus the run bound). */
  timeoutSeconds: z.int().min(1),
});
export type GpuTask = z.infer<typeof gpuTaskSchema>;

/** The fields of `$.gpu` the queue message carries, each under its own name. */
export const GPU_MESSAGE_FIELDS = ['attempt', 'workflow', 'inputs', 'outputPrefix', 'deadlineSeconds', 'enqueuedAt', 'action'] as const satisfies readonly Exclude<keyof GpuTask, 'timeoutSeconds'>[];

/** The SQS message body the job machine's GPU task sends: the task, its token and whose job it is. */
export const gpuTaskMessageSchema = gpuTaskSchema.pick({
  attempt: true, workflow: true, inputs: true, outputPrefix: true, deadlineSeconds: true, enqueuedAt: true, action: true,
}).extend({
  taskToken: z.string().min(1),
  packId: z.string().min(1),
  jobId: z.string().min(1),
  // A message sent by an earlier version may lack these; it was a first inpaint.
  deadlineSeconds: gpuTaskSchema.shape.deadlineSeconds.optional(),
  enqueuedAt: gpuTaskSchema.shape.enqueuedAt.optional(),
  action: gpuTaskSchema.shape.action.default('inpaint'),
});
export type GpuTaskMessage = z.infer<typeof gpuTaskMessageSchema>;
/** The body as sent (fields with defaults may be absent). */
export type GpuTaskMessageBody = z.input<typeof gpuTaskMessageSchema>;

/** The task's answer (SendTaskSuccess output), and the hosted inpaint's in the same shape: `$.inpaint`. */
export const gpuTaskOutputSchema = z.object({
  outputs: z.array(z.string().min(1)).min(1),
  gpuSeconds: z.number().min(0),
  promptId: z.string(),
  workerId: z.string(),
});
export type GpuTaskOutput = z.infer<typeof gpuTaskOutputSchema>;

/** Step Functions' limits on SendTaskFailure (characters). */
export const TASK_FAILURE_LIMITS = { error: 256, cause: 32_768 } as const;
