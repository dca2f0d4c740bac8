/**
 * Deploy-time settings: context keys (`-c key=value` or cdk.json) that become environment
 * variables of every function. Each is checked at synth by the schema the runtime parses it
 * with, so a bad value fails `cdk synth` naming the key and the reason instead of failing
 * the first invocation on AWS. Unset keys leave the runtime's defaults in force.
 */
import type { z } from 'zod';
import { configEnvSchema } from '../adapters/config.ts';
import { breakerSettingsFromEnv } from '../adapters/breaker-store.ts';
import { watchdogSettingsFromEnv } from '../adapters/watchdog-settings.ts';
import { apiEnvSchema } from '../lambdas/api/settings.ts';

type Check = (env: Readonly<Record<string, string>>) => void;

const bySchema = (schema: z.ZodObject) => (env: Readonly<Record<string, string>>) => {
  // Only the settings given are checked: the rest (table names, …) are the stack's to set.
  const r = schema.partial().safeParse(env);
  if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
};
const config: Check = bySchema(configEnvSchema);
const api: Check = bySchema(apiEnvSchema);
const watchdog: Check = (env) => { watchdogSettingsFromEnv(env); };
const breakers: Check = (env) => { breakerSettingsFromEnv(env); };
const onOff: Check = (env) => {
  const v = env['VTO_BREAKERS'];
  if (v !== undefined && !['on', 'off'].includes(v)) throw new Error(`VTO_BREAKERS: must be on or off, got "${v}"`);
};

interface SettingDef {
  readonly env: string;
  readonly check: Check;
  /** What it sets, for README's context table. */
  readonly doc: string;
}

/** Every deploy-time setting: context key → environment variable, its check and meaning. */
export const DEPLOY_SETTINGS = {
  modelChain: { env: 'VTO_MODEL_CHAIN', check: config, doc: 'installed inpaint models, in fallback order (comma-separated)' },
  segmentationPrompts: { env: 'VTO_SEGMENTATION_PROMPTS', check: config, doc: 'segmentation prompts (comma-separated)' },
  segmentationAltPrompts: { env: 'VTO_SEGMENTATION_ALT_PROMPTS', check: config, doc: 'prompts used after a degenerate mask' },
  providerTimeoutMs: { env: 'PROVIDER_TIMEOUT_MS', check: config, doc: 'timeout of each provider call, ms' },
  watchdogDeadlines: { env: 'VTO_WATCHDOG_DEADLINES', check: watchdog, doc: 'per-status deadlines, e.g. `inpainting=2400,qa=900`' },
  watchdogMaxRestarts: { env: 'VTO_WATCHDOG_MAX_RESTARTS', check: watchdog, doc: 're-runs per job before Recovery.Exhausted' },
  watchdogRestartGapsMinutes: { env: 'VTO_WATCHDOG_RESTART_GAPS_MINUTES', check: watchdog, doc: 'minutes between re-runs, e.g. `5,15,45`' },
  watchdogMaxJobs: { env: 'VTO_WATCHDOG_MAX_JOBS', check: watchdog, doc: 'most stale jobs one sweep acts on' },
  packRetentionDays: { env: 'VTO_PACK_RETENTION_DAYS', check: watchdog, doc: 'finished packs older than this many days are erased by the watchdog as DELETE /packs/{id} does (default: kept)' },
  autoRecoveryFailureThreshold: { env: 'VTO_AUTO_RECOVERY_FAILURE_THRESHOLD', check: watchdog, doc: 'consecutive failed deferred re-runs that pause auto-recovery (default 5)' },
  autoRecoveryCooldownSeconds: { env: 'VTO_AUTO_RECOVERY_COOLDOWN_SECONDS', check: watchdog, doc: 'seconds auto-recovery stays paused before a trial re-run (default 900)' },
  breakers: { env: 'VTO_BREAKERS', check: onOff, doc: '`on` or `off`: provider circuit breakers' },
  breakerFailureThreshold: { env: 'VTO_BREAKER_FAILURE_THRESHOLD', check: breakers, doc: 'failures that open a breaker' },
  breakerOpenSeconds: { env: 'VTO_BREAKER_OPEN_SECONDS', check: breakers, doc: 'seconds a breaker stays open' },
  breakerHalfOpenCalls: { env: 'VTO_BREAKER_HALF_OPEN_CALLS', check: breakers, doc: 'trial calls while half-open' },
  stuckAfterSeconds: { env: 'VTO_STUCK_AFTER_SECONDS', check: api, doc: 'a job not updated this long counts as stuck on GET /health' },
} as const satisfies Record<string, SettingDef>;

export type DeploySettingKey = keyof typeof DEPLOY_SETTINGS;
export const DEPLOY_SETTING_KEYS = Object.keys(DEPLOY_SETTINGS) as DeploySettingKey[];
export type DeploySettings = Partial<Record<DeploySettingKey, string>>;

export class DeploySettingError extends Error {
  constructor(key: string, env: string, reason: string) {
    super(`context ${key} (${env}) is invalid: ${reason}`);
    this.name = 'DeploySettingError';
  }
}

/** The settings as environment variables, each checked by its runtime schema; throws DeploySettingError. */
export function settingsEnvironment(settings: DeploySettings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of DEPLOY_SETTING_KEYS) {
    const value = settings[key];
    if (value === undefined) continue;
    const def: SettingDef = DEPLOY_SETTINGS[key];
    try {
      def.check({ [def.env]: value });
    } catch (e) {
      throw new DeploySettingError(key, def.env, (e as Error).message);
    }
    env[def.env] = value;
  }
  return env;
}
