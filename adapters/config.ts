/**
 * Handler configuration, parsed once from the environment by a schema. A missing or bad
 * variable fails the first invocation with a message naming the variable and the reason.
 */
import { z } from 'zod';
import { BUCKETS, QUEUES, SECRETS, STATE_MACHINES, TABLES } from '../core/resources.ts';
import { DEFAULT_PARAMS } from '../core/params.ts';
import { loadSettings } from '../core/settings.ts';
import { cachedPerProcess } from './process-caches.ts';

const list = (fallback: string[]) =>
  z.string().optional().transform((s) => (s === undefined || s.trim() === '' ? fallback : s.split(',').map((x) => x.trim()).filter(Boolean)));

/** The deployed defaults of the provider timeout and the GPU worker's generation deadline (the offline stack compresses them). */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;
export const DEFAULT_GPU_DEADLINE_SECONDS = 600;

const schema = z.object({
  [TABLES.packs.envVar]: z.string().min(1),
  [TABLES.jobs.envVar]: z.string().min(1),
  [TABLES.events.envVar]: z.string().min(1),
  [TABLES.control.envVar]: z.string().min(1),
  [BUCKETS.artifacts.envVar]: z.string().min(1),
  [QUEUES.gpu.envVar]: z.string().optional(),
  [STATE_MACHINES.job.envVar]: z.string().optional(),
  [STATE_MACHINES.pack.envVar]: z.string().optional(),
  SEGMENTATION_URL: z.url().optional(),
  ANALYZER_URL: z.url().optional(),
  HOSTED_INPAINT_URL: z.url().optional(),
  /** ARN of the Secrets Manager secret holding the hosted-inpaint API key (never the key itself). */
  [SECRETS.hostedInpaint.envVar]: z.string().optional(),
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_PROVIDER_TIMEOUT_MS),
  /** Scales the waits handlers compute (backoff); 1 on AWS, smaller offline to compress time. */
  VTO_TIME_SCALE: z.coerce.number().positive().max(1).default(1),
  /** Model fallback chain for SWITCH_MODEL, in order. */
  VTO_MODEL_CHAIN: list([DEFAULT_PARAMS.model, 'sd15-inpaint.safetensors', 'realistic-vision-inpaint.safetensors']),
  /** Segmentation prompts; alternatives are used after a degenerate mask. */
  VTO_SEGMENTATION_PROMPTS: list(['upper-body garment', 'shirt or top', 'clothing on torso']),
  VTO_SEGMENTATION_ALT_PROMPTS: list(['garment region', 'worn clothing', 'top garment silhouette']),
  /** Days recovery events are kept before TTL removes them. */
  VTO_EVENT_RETENTION_DAYS: z.coerce.number().int().positive().default(30),
  /** The GPU worker's own generation deadline, below the task's TimeoutSeconds. */
  VTO_GPU_DEADLINE_SECONDS: z.coerce.number().positive().default(DEFAULT_GPU_DEADLINE_SECONDS),
});

export type Config = {
  packsTable: string; jobsTable: string; eventsTable: string; controlTable: string; bucket: string;
  gpuQueueUrl: string | undefined; jobStateMachineArn: string | undefined; packStateMachineArn: string | undefined;
  segmentationUrl: string | undefined; analyzerUrl: string | undefined; hostedUrl: string | undefined;
  hostedSecretArn: string | undefined; providerTimeoutMs: number; timeScale: number;
  modelChain: string[]; segmentationPrompts: string[]; segmentationAltPrompts: string[];
  eventRetentionDays: number; gpuDeadlineSeconds: number;
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The functions' configuration, parsed once from process.env (or from `env`, parsed each call: tests). */
export const config = cachedPerProcess((env): Config => {
  const e = loadSettings(schema, env, { error: ConfigError }) as Record<string, unknown>;
  const s = (k: string) => e[k] as string;
  const o = (k: string) => e[k] as string | undefined;
  return {
    packsTable: s(TABLES.packs.envVar), jobsTable: s(TABLES.jobs.envVar), eventsTable: s(TABLES.events.envVar),
    controlTable: s(TABLES.control.envVar), bucket: s(BUCKETS.artifacts.envVar),
    gpuQueueUrl: o(QUEUES.gpu.envVar), jobStateMachineArn: o(STATE_MACHINES.job.envVar), packStateMachineArn: o(STATE_MACHINES.pack.envVar),
    segmentationUrl: o('SEGMENTATION_URL'), analyzerUrl: o('ANALYZER_URL'), hostedUrl: o('HOSTED_INPAINT_URL'),
    hostedSecretArn: o(SECRETS.hostedInpaint.envVar), providerTimeoutMs: e['PROVIDER_TIMEOUT_MS'] as number,
    timeScale: e['VTO_TIME_SCALE'] as number, modelChain: e['VTO_MODEL_CHAIN'] as string[],
    segmentationPrompts: e['VTO_SEGMENTATION_PROMPTS'] as string[], segmentationAltPrompts: e['VTO_SEGMENTATION_ALT_PROMPTS'] as string[],
    eventRetentionDays: e['VTO_EVENT_RETENTION_DAYS'] as number, gpuDeadlineSeconds: e['VTO_GPU_DEADLINE_SECONDS'] as number,
  };
});

/** Forgets the parsed configuration; tests that change the environment call it. */
export const resetConfig = config.reset;

/** Fails with ConfigError naming the variable when an optional setting a handler needs is absent. */
export function required<T>(value: T | undefined, variable: string): T {
  if (value === undefined) throw new ConfigError(`Environment variable ${variable} is required by this function`);
  return value;
}

/** The schema itself: the CDK app validates deploy-time settings with it at synth (lib/settings.ts). */
export { schema as configEnvSchema };
