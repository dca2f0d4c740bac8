/**
 * Settings only the API function reads, parsed once from the environment (the shared
 * ones — tables, bucket, state machines, model list — come from adapters/config.ts).
 */
import { z } from 'zod';
import { QUEUES } from '../../core/resources.ts';
import { loadSettings } from '../../core/settings.ts';
import { cachedPerProcess } from '../../adapters/process-caches.ts';

const seconds = (fallback: number, max: number) => z.coerce.number().int().positive().max(max).default(fallback);

const schema = z.object({
  [QUEUES.gpu.deadLetter.envVar]: z.string().optional(),
  /** How long pre-signed upload URLs stay valid. */
  VTO_UPLOAD_URL_TTL_SECONDS: seconds(900, 3600),
  /** How long pre-signed output URLs on GET /jobs/{id} stay valid. */
  VTO_OUTPUT_URL_TTL_SECONDS: seconds(900, 3600),
  /** A non-terminal job not updated for this long counts as stuck on GET /health. */
  VTO_STUCK_AFTER_SECONDS: seconds(1800, 7 * 86_400),
  /** Retry-After of 503 answers. */
  VTO_RETRY_AFTER_SECONDS: seconds(30, 3600),
  /** How long an Idempotency-Key is remembered. */
  VTO_IDEMPOTENCY_TTL_SECONDS: seconds(86_400, 7 * 86_400),
  /** Browser origins allowed by CORS, comma-separated; none by default. */
  VTO_API_CORS_ORIGINS: z.string().optional(),
  /** Link to an execution in a console; `{region}` and `{executionArn}` are filled in. Default: the AWS console. */
  VTO_EXECUTION_CONSOLE_URL: z.string().optional(),
  /** Offline only: webhooks may use http:// to a loopback address. */
  VTO_WEBHOOK_ALLOW_LOOPBACK: z.enum(['true', 'false']).default('false'),
  AWS_REGION: z.string().default('us-east-1'),
});

export interface ApiSettings {
  deadLetterQueueUrl: string | undefined;
  uploadUrlTtlSeconds: number;
  outputUrlTtlSeconds: number;
  stuckAfterSeconds: number;
  retryAfterSeconds: number;
  idempotencyTtlSeconds: number;
  corsOrigins: string[];
  executionConsoleUrl: string;
  region: string;
  webhookAllowLoopback: boolean;
}

export const AWS_CONSOLE_EXECUTION_URL = 'https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{executionArn}';

export class ApiSettingsError extends Error {
  override readonly name = 'ApiSettingsError';
}

/** The API's settings, parsed once from process.env (or from `env`, parsed each call: tests). */
export const apiSettings = cachedPerProcess((env): ApiSettings => {
  const e = loadSettings(schema, env, { error: ApiSettingsError });
  return {
    deadLetterQueueUrl: e[QUEUES.gpu.deadLetter.envVar] as string | undefined,
    uploadUrlTtlSeconds: e.VTO_UPLOAD_URL_TTL_SECONDS,
    outputUrlTtlSeconds: e.VTO_OUTPUT_URL_TTL_SECONDS,
    stuckAfterSeconds: e.VTO_STUCK_AFTER_SECONDS,
    retryAfterSeconds: e.VTO_RETRY_AFTER_SECONDS,
    idempotencyTtlSeconds: e.VTO_IDEMPOTENCY_TTL_SECONDS,
    corsOrigins: (e.VTO_API_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    executionConsoleUrl: e.VTO_EXECUTION_CONSOLE_URL ?? AWS_CONSOLE_EXECUTION_URL,
    region: e.AWS_REGION,
    webhookAllowLoopback: e.VTO_WEBHOOK_ALLOW_LOOPBACK === 'true',
  };
});

export const resetApiSettings = apiSettings.reset;

/** The console link of an execution. */
export function consoleUrl(executionArn: string): string {
  const s = apiSettings();
  return s.executionConsoleUrl.replaceAll('{region}', s.region).replaceAll('{executionArn}', executionArn);
}

/** The schema itself: the CDK app validates deploy-time settings with it at synth (lib/settings.ts). */
export { schema as apiEnvSchema };
