/**
 * The job and pack records as the pipeline keeps them (DynamoDB items, API answers).
 */
import type { InpaintParams } from './params.ts';
import type { JobStatus, PackStatus, StatusCounts } from './status.ts';
import type { Checkpoints, Stage } from './strategies.ts';
import type { Strategy } from './taxonomy.ts';
import type { PackWebhook } from './webhook.ts';

export type InpaintBackend = 'comfyui' | 'hosted';
export type RecoveryOutcome = 'pending' | 'recovered' | 'failed';

/** One failure met by a job and what the pipeline did about it. */
export interface RecoveryEntry {
  readonly at: string;
  readonly error: string;
  readonly strategy: Strategy;
  /** The function (or 'GPU' for the worker) that met the failure. */
  readonly fn: string;
  readonly stage: Stage | null;
  /** How many times this strategy had run for the job, this one included. */
  readonly attempt: number;
  readonly cause?: string;
  /** What the strategy changed (e.g. "batch 4→2, width 1536→1232"). */
  readonly detail?: string;
  outcome: RecoveryOutcome;
  resolvedAt?: string;
}

export interface JobRecord {
  jobId: string;
  packId: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  inpaint: InpaintBackend;
  inputs: { person: string; garment: string };
  params: InpaintParams;
  originalParams: InpaintParams;
  /** Runs of each strategy so far, and GPU attempts. */
  attempts: Partial<Record<Strategy | 'gpu' | 'segmentation', number>>;
  recoveriesUsed: number;
  triedModels: string[];
  checkpoints: Checkpoints;
  /**
   * The newest failures met and what was done about each, at most MAX_KEPT_RECOVERIES;
   * older resolved ones are dropped (counted in `recoveriesDropped`) so the item stays far
   * below DynamoDB's 400 KB. The full history is in the recovery-events table.
   */
  recoveries: RecoveryEntry[];
  /** Entries dropped from the head of `recoveries` so far. */
  recoveriesDropped?: number;
  /** Executions started for the job so far; the next is named `${jobId}-${runs + 1}`. */
  runs: number;
  executionArn?: string;
  qaReport?: unknown;
  outputs?: { result?: string; mask?: string; inpainted?: string };
  error?: { name: string; cause: string; at: string };
  needsIntervention?: boolean;
  /** Minutes each GPU task of the job may wait for a worker (its pack's pipeline.gpuWaitMinutes); absent: the default. */
  gpuWaitMinutes?: number;
  /** Seconds of GPU time spent on the job. */
  gpuSeconds?: number;
  /** Watchdog restarts so far (anti-loop). */
  watchdogRestarts?: number;
  /** When the watchdog (or reconciler) last restarted the job; the next restart waits out its gap from here. */
  watchdogRestartedAt?: string;
  /** A restart decided but held back by the anti-loop schedule: due at this time (the job waits in `recovering`). */
  watchdogDueAt?: string;
  /** The status the job was stuck in when that restart was decided. */
  watchdogStuckIn?: JobStatus;
  /** Deferred re-runs of the job after it failed on a temporary cause (core/deferred-recovery.ts). */
  deferredReruns?: number;
  /** When the last deferred re-run started. */
  deferredRerunAt?: string;
  /** The stored failure was renamed by an operator-taught classifier pattern (core/taught-patterns.ts). */
  reclassified?: { from: string; to: string; pattern: string; by: string; at: string };
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
export const recoveryCount = (job: Pick<JobRecord, 'recoveries' | 'recoveriesDropped'>): number => (job.recoveriesDropped ?? 0) + (job.recoveries ?? []).length;

export const jobExecutionName = (job: Pick<JobRecord, 'jobId' | 'runs'>) => `${job.jobId}-${job.runs + 1}`;
export const packExecutionName = (pack: Pick<PackRecord, 'packId' | 'runs'>) => `${pack.packId}-${pack.runs + 1}`;

/** A new job as the API writes it: pending, with its parameters kept as the originals. */
export function newJobRecord(j: { packId: string; jobId: string; inpaint: InpaintBackend; inputs: JobRecord['inputs']; params: InpaintParams; now: string; gpuWaitMinutes?: number | undefined }): JobRecord {
  return {
    jobId: j.jobId, packId: j.packId, status: 'pending', createdAt: j.now, updatedAt: j.now,
    inpaint: j.inpaint, inputs: j.inputs, params: j.params, originalParams: j.params,
    attempts: {}, recoveriesUsed: 0, triedModels: [], checkpoints: {}, recoveries: [], runs: 0, outputs: {},
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
