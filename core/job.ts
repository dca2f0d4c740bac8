/**
 * The job and pack records as the pipeline keeps them (DynamoDB items, API answers). Each
 * is one zod schema: the store parses every item it reads with it (an item that does not
 * fit is Fatal.DataCorruption naming the field), the API views are derived from it, and
 * updates are typed against it (adapters/job-update.ts, adapters/pack-update.ts). Fields a
 * record written by an older version may lack have defaults here, so readers need no `??`.
 */
import { z } from 'zod';
import { DataCorruptionError } from './errors.ts';
import { inpaintBackendSchema, type InpaintBackend } from './inpaint-backend.ts';
import { inpaintParamsSchema, type InpaintParams } from './params.ts';
import { JOB_STATUSES, PACK_STATUSES, emptyCounts, type StatusCounts } from './status.ts';
import { STAGES } from './strategies.ts';
import { STRATEGIES } from './taxonomy.ts';
import { REFINE_SCOPES } from './refine.ts';
import { describeIssues } from './settings.ts';
import { deliveryFailureSchema, packWebhookSchema } from './webhook.ts';

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
  inpaint: inpaintBackendSchema,
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

/** The schema's output, or Fatal.DataCorruption naming the record, its id and every field that does not fit. */
function parseRecord<S extends z.ZodType>(schema: S, kind: 'job' | 'pack', idField: 'jobId' | 'packId', item: unknown): z.output<S> {
  const parsed = schema.safeParse(item);
  if (parsed.success) return parsed.data;
  const raw = typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[idField] : undefined;
  const id = typeof raw === 'string' ? raw : `(no ${idField})`;
  const issues = describeIssues(parsed.error.issues, '(record)');
  throw new DataCorruptionError(`${kind} ${id}: the stored record does not fit the ${kind} schema: ${issues}`, { context: { [idField]: id } });
}

/**
 * A stored job item as the pipeline reads it: defaults filled in, unknown attributes
 * (fields of older versions) left out. An item that does not fit is data the store and
 * the code disagree on: Fatal.DataCorruption naming the job and the field.
 */
export const parseJobRecord = (item: unknown): JobRecord => parseRecord(jobRecordSchema, 'job', 'jobId', item);

/** The byCreatedAt partitions of pack items: live packs, and packs being erased (adapters/pack-erasure.ts). */
export const PACK_KINDS = ['pack', 'erasing'] as const;

export const packErrorSchema = z.object({ name: z.string(), cause: z.string() });

export const packRecordSchema = z.object({
  packId: z.string().min(1),
  kind: z.enum(PACK_KINDS),
  name: z.string(),
  status: z.enum(PACK_STATUSES),
  createdAt: isoTime,
  updatedAt: isoTime,
  inpaint: inpaintBackendSchema,
  jobCount: z.int(),
  /** Jobs per status as of the last finalize (or cancel); a status added since counts 0. */
  counts: z.partialRecord(z.enum(JOB_STATUSES), z.int()).transform((c): StatusCounts => ({ ...emptyCounts(), ...c })).exactOptional(),
  /** Runs of the pack machine so far; the next is named `${packId}-${runs + 1}`. */
  runs: z.int().default(0),
  executionArn: z.string().exactOptional(),
  /** The pack this one refines (POST /packs/{id}/refine), and which of its jobs it took. */
  sourcePackId: z.string().exactOptional(),
  refineScope: z.enum(REFINE_SCOPES).exactOptional(),
  error: packErrorSchema.exactOptional(),
  /** Minutes each GPU task may wait for a worker (pipeline.gpuWaitMinutes); absent: the default. */
  gpuWaitMinutes: z.int().exactOptional(),
  /** Pack runs restarted by the reconciler after the pack machine died (anti-loop). */
  watchdogRestarts: z.int().exactOptional(),
  /** Where the pack's lifecycle events are POSTed. */
  webhook: packWebhookSchema.exactOptional(),
  /** Deliveries given up on; the first of them are kept (up to a bound: adapters/webhook-delivery.ts). */
  webhookFailureCount: z.int().default(0),
  webhookFailures: z.array(deliveryFailureSchema).default([]),
  /** POST /packs/{id}/cancel: when and by whom. */
  cancelledAt: isoTime.exactOptional(),
  cancelledBy: z.string().exactOptional(),
  /** DELETE /packs/{id} (or the retention setting): when and by whom the erasure was asked for. */
  erasure: z.object({ requestedAt: isoTime, requestedBy: z.string() }).exactOptional(),
});
export type PackRecord = z.infer<typeof packRecordSchema>;

/** A stored pack item as the pipeline reads it; one that does not fit is Fatal.DataCorruption naming the pack and the field. */
export const parsePackRecord = (item: unknown): PackRecord => parseRecord(packRecordSchema, 'pack', 'packId', item);

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
    inpaint: p.inpaint, jobCount: p.jobCount, runs: 0, webhookFailureCount: 0, webhookFailures: [],
    ...(p.gpuWaitMinutes !== undefined && { gpuWaitMinutes: p.gpuWaitMinutes }),
    ...(p.sourcePackId !== undefined && { sourcePackId: p.sourcePackId }),
    ...(p.refineScope !== undefined && { refineScope: p.refineScope }),
  };
}
