/**
 * The job and pack records as the pipeline keeps them (DynamoDB items, API answers). The
 * job record is one zod schema: the store parses every item it reads with it (an item that
 * does not fit is Fatal.DataCorruption naming the field), the API views are derived from
 * it, and updates are typed against it (adapters/job-update.ts). Fields a record
 * written by an older version may lack have defaults here, so readers need no `??`.
 */
import { z } from 'zod';
import { DataCorruptionError } from './errors.ts';
import { inpaintParamsSchema, type InpaintParams } from './params.ts';
import { JOB_STATUSES, type PackStatus, type StatusCounts } from './status.ts';
import { STAGES } from './strategies.ts';
import { STRATEGIES } from './taxonomy.ts';
import type { PackWebhook } from './webhook.ts';

export const INPAINT_BACKENDS = ['comfyui', 'hosted'] as const;
export type InpaintBackend = (typeof INPAINT_BACKENDS)[number];
export const RECOVERY_OUTCOMES = ['pending', 'recovered', 'failed'] as const;
export type RecoveryOutcome = (typeof RECOVERY_OUTCOMES)[number];

const isoTime = z.string().describe('ISO 8601 date-time (UTC)');

/** One failure met by a job and what the pipeline did about it. */
export const recoveryEntrySchema = z.object({
  at: isoTime,
  error: z.string(),
  strategy: z.enum(STRATEGIES),
  /** The function (or 'GPU' for the worker) that met the failure. */
  fn: z.string(),
  stage: z.enum(STAGES).nullable(),
  /** How many times this strategy had run for the job, this one included. */
  attempt: z.int(),
  cause: z.string().exactOptional(),
  /** What the strategy changed (e.g. "batch 4→2, width 1536→1232"). */
  detail: z.string().exactOptional(),
  outcome: z.enum(RECOVERY_OUTCOMES),
  resolvedAt: isoTime.exactOptional(),
});
export type RecoveryEntry = z.infer<typeof recoveryEntrySchema>;

/** What a job's attempt counters count: each strategy's runs, and GPU and segmentation attempts. */
export const ATTEMPT_KEYS = [...STRATEGIES, 'gpu', 'segmentation'] as const;
export type AttemptKey = (typeof ATTEMPT_KEYS)[number];

export const jobErrorSchema = z.object({ name: z.string(), cause: z.string(), at: isoTime });
export const jobInputsSchema = z.object({ person: z.string(), garment: z.string() });
export const jobOutputsSchema = z.object({ result: z.string().exactOptional(), mask: z.string().exactOptional(), inpainted: z.string().exactOptional() });

export const jobRecordSchema = z.object({
  jobId: z.string().min(1),
  packId: z.string().min(1),
  status: z.enum(JOB_STATUSES),
  createdAt: isoTime,
  updatedAt: isoTime,
  inpaint: z.enum(INPAINT_BACKENDS),
  inputs: jobInputsSchema,
  params: inpaintParamsSchema,
  originalParams: inpaintParamsSchema,
  /** Runs of each strategy so far, and GPU attempts. */
  attempts: z.partialRecord(z.enum(ATTEMPT_KEYS), z.int()).default({}),
  recoveriesUsed: z.int().default(0),
  triedModels: z.array(z.string()).default([]),
  /** S3 keys of finished stage outputs, by stage. */
  checkpoints: z.partialRecord(z.enum(STAGES), z.string()).default({}),
  /**
   * The newest failures met and what was done about each, at most MAX_KEPT_RECOVERIES;
   * older resolved ones are dropped (counted in `recoveriesDropped`) so the item stays far
   * below DynamoDB's 400 KB. The full history is in the recovery-events table.
   */
  recoveries: z.array(recoveryEntrySchema).default([]),
  /** Entries dropped from the head of `recoveries` so far. */
  recoveriesDropped: z.int().default(0),
  /** Executions started for the job so far; the next is named `${jobId}-${runs + 1}`. */
  runs: z.int().default(0),
  executionArn: z.string().exactOptional(),
  qaReport: z.unknown().exactOptional(),
  outputs: jobOutputsSchema.default({}),
  error: jobErrorSchema.exactOptional(),
  needsIntervention: z.boolean().exactOptional(),
  /** Minutes each GPU task of the job may wait for a worker (its pack's pipeline.gpuWaitMinutes); absent: the default. */
  gpuWaitMinutes: z.int().exactOptional(),
  /** Seconds of GPU time spent on the job. */
  gpuSeconds: z.number().exactOptional(),
  /** Watchdog restarts so far (anti-loop). */
  watchdogRestarts: z.int().exactOptional(),
  /** When the watchdog (or reconciler) last restarted the job; the next restart waits out its gap from here. */
  watchdogRestartedAt: isoTime.exactOptional(),
  /** A restart decided but held back by the anti-loop schedule: due at this time (the job waits in `recovering`). */
  watchdogDueAt: isoTime.exactOptional(),
  /** The status the job was stuck in when that restart was decided. */
  watchdogStuckIn: z.enum(JOB_STATUSES).exactOptional(),
  /** Deferred re-runs of the job after it failed on a temporary cause (core/deferred-recovery.ts). */
  deferredReruns: z.int().exactOptional(),
  /** When the last deferred re-run started. */
  deferredRerunAt: isoTime.exactOptional(),
  /** POST /jobs/{id}/cancel (or the pack's): when and by whom. */
  cancelledAt: isoTime.exactOptional(),
  cancelledBy: z.string().exactOptional(),
  /** The job of the pack refined into this one (POST /packs/{id}/refine). */
  sourceJobId: z.string().exactOptional(),
  /** When POST /cleanup dropped the job's artifacts. */
  cleanedAt: isoTime.exactOptional(),
  /** The stored failure was renamed by an operator-taught classifier pattern (core/taught-patterns.ts). */
  reclassified: z.object({ from: z.string(), to: z.string(), pattern: z.string(), by: z.string(), at: isoTime }).exactOptional(),
});
export type JobRecord = z.infer<typeof jobRecordSchema>;
export type JobOutputs = JobRecord['outputs'];

/**
 * A stored job item as the pipeline reads it: defaults filled in, unknown attributes
 * (fields of older versions) left out. An item that does not fit is data the store and
 * the code disagree on: Fatal.DataCorruption naming the job and the field.
 */
export function parseJobRecord(item: unknown): JobRecord {
  const parsed = jobRecordSchema.safeParse(item);
  if (parsed.success) return parsed.data;
  const id = typeof item === 'object' && item !== null && typeof (item as { jobId?: unknown }).jobId === 'string' ? (item as { jobId: string }).jobId : '(no jobId)';
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ');
  throw new DataCorruptionError(`job ${id}: the stored record does not fit the job schema: ${issues}`, { context: { jobId: id } });
}

export interface PackRecord {
  packId: string;
  kind: 'pack';
  name: string;
  status: PackStatus;
  createdAt: string;
  updatedAt: string;
  inpaint: InpaintBackend;
  jobCount: number;
  counts?: StatusCounts;
  /** Runs of the pack machine so far; the next is named `${packId}-${runs + 1}`. */
  runs: number;
  executionArn?: string;
  sourcePackId?: string;
  refineScope?: 'successful_only' | 'all_completed';
  error?: { name: string; cause: string };
  /** Minutes each GPU task may wait for a worker (pipeline.gpuWaitMinutes); absent: the default. */
  gpuWaitMinutes?: number;
  /** Pack runs restarted by the reconciler after the pack machine died (anti-loop). */
  watchdogRestarts?: number;
  /** Where the pack's lifecycle events are POSTed, and how many deliveries were given up. */
  webhook?: PackWebhook;
  webhookFailureCount?: number;
  /** POST /packs/{id}/cancel: when and by whom. */
  cancelledAt?: string;
  cancelledBy?: string;
}

/** Recovery entries a job item keeps (each up to ~1.5 KB with its cause). */
export const MAX_KEPT_RECOVERIES = 40;

/** Every failure the job met, the dropped ones included. */
export const recoveryCount = (job: Pick<JobRecord, 'recoveries' | 'recoveriesDropped'>): number => job.recoveriesDropped + job.recoveries.length;

export const jobExecutionName = (job: Pick<JobRecord, 'jobId' | 'runs'>) => `${job.jobId}-${job.runs + 1}`;
export const packExecutionName = (pack: Pick<PackRecord, 'packId' | 'runs'>) => `${pack.packId}-${pack.runs + 1}`;

/** A new job as the API writes it: pending, with its parameters kept as the originals. */
export function newJobRecord(j: { packId: string; jobId: string; inpaint: InpaintBackend; inputs: JobRecord['inputs']; params: InpaintParams; now: string; gpuWaitMinutes?: number | undefined }): JobRecord {
  return {
    jobId: j.jobId, packId: j.packId, status: 'pending', createdAt: j.now, updatedAt: j.now,
    inpaint: j.inpaint, inputs: j.inputs, params: j.params, originalParams: j.params,
    attempts: {}, recoveriesUsed: 0, triedModels: [], checkpoints: {}, recoveries: [], recoveriesDropped: 0, runs: 0, outputs: {},
    ...(j.gpuWaitMinutes !== undefined && { gpuWaitMinutes: j.gpuWaitMinutes }),
  };
}

export function newPackRecord(p: { packId: string; name: string; inpaint: InpaintBackend; jobCount: number; now: string; sourcePackId?: string; refineScope?: PackRecord['refineScope']; gpuWaitMinutes?: number | undefined }): PackRecord {
  return {
    packId: p.packId, kind: 'pack', name: p.name, status: 'pending', createdAt: p.now, updatedAt: p.now,
    inpaint: p.inpaint, jobCount: p.jobCount, runs: 0,
    ...(p.gpuWaitMinutes !== undefined && { gpuWaitMinutes: p.gpuWaitMinutes }),
    ...(p.sourcePackId !== undefined && { sourcePackId: p.sourcePackId }),
    ...(p.refineScope !== undefined && { refineScope: p.refineScope }),
  };
}
