/**
 * Circuit breakers shared through DynamoDB: one item per dependency in the control table
 * (`breaker#<provider>`), changed only by conditional writes on its `version`, so Lambdas
 * and GPU workers updating the same breaker at once never lose an update. The rules are
 * core/breaker.ts; this file reads, applies and writes. It has no Lambda-only imports, so
 * the GPU worker uses it too (bin/worker.ts).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import {
  BREAKER_PROVIDERS, CLOSED_BREAKER, DEFAULT_BREAKER_SETTINGS, admit, checkBreakerSettings, fail, succeed,
  type Breaker, type BreakerKey, type BreakerSettings, type BreakerStatus, type BreakerStep,
} from '../core/breaker.ts';
import { CircuitOpenError } from '../core/errors.ts';
import type { BreakerState } from '../core/health.ts';
import { access, grant } from './access.ts';
import { documentClient } from './aws-clients.ts';
import { loadSettings, type Env } from '../core/settings.ts';

/** Breakers live in the control table: a consistent read, then a conditional put per change. */
export const BREAKER_STORE_ACCESS = access(grant('table:control', 'dynamodb', 'GetItem', 'PutItem'));
/** Reading breakers only (`read`, `states`): health reports, the watchdog's gauges. */
export const BREAKER_READ_ACCESS = access(grant('table:control', 'dynamodb', 'GetItem'));

export const breakerId = (provider: BreakerKey) => `breaker#${provider}`;

/** Transitions kept on the item, newest last, for operators and tests. */
const RECENT_TRANSITIONS = 10;

export interface BreakerTransitionEvent {
  readonly provider: BreakerKey;
  readonly from: BreakerStatus;
  readonly to: BreakerStatus;
  readonly at: string;
  readonly failures: number;
}

/** The breaker as stored. */
export interface StoredBreaker {
  readonly breaker: Breaker;
  /** 0 when no item exists yet. */
  readonly version: number;
  readonly recent: readonly { from: BreakerStatus; to: BreakerStatus; at: string }[];
}

/** The same shape the worker's CircuitBreakerHook has (worker/worker.ts). */
export interface BreakerHook {
  beforeCall(signal?: AbortSignal): Promise<void>;
  onSuccess(): Promise<void>;
  onFailure(): Promise<void>;
}

export interface HookOptions {
  /**
   * How long `beforeCall` waits for a refusing breaker to admit the call before it throws
   * Transient.CircuitOpen. 0 refuses at once (stage Lambdas: their Retry waits instead).
   * @default 0
   */
  readonly waitWhileOpenMs?: number;
  /** How often a waiting call asks the breaker again. @default openMs / 20, within 50 ms … 5 s */
  readonly pollMs?: number;
  /** Told when a call starts waiting (once per call), with when the breaker expects to admit calls. */
  readonly onWait?: (retryAt: number | null) => void;
}

export interface BreakerStoreOptions {
  /** The control table's name. */
  readonly table: string;
  /** @default DEFAULT_BREAKER_SETTINGS */
  readonly settings?: BreakerSettings;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
  /** @default the process-wide client of aws-clients.ts */
  readonly client?: DynamoDBDocumentClient;
  /** Told of every state change this store wrote (metrics, logs). */
  readonly onTransition?: (t: BreakerTransitionEvent) => void;
  /** Read-apply-write rounds when other writers keep winning. @default 8 */
  readonly maxAttempts?: number;
}

/** Other writers kept changing the breaker; this outcome was not recorded. */
export class BreakerContentionError extends Error {
  override readonly name = 'BreakerContentionError';
}

const storedSchema = z.object({
  state: z.enum(['closed', 'open', 'half_open']),
  failures: z.number().int().min(0),
  openedAt: z.string().optional(),
  trials: z.number().int().min(0).default(0),
  trialsAt: z.string().optional(),
  version: z.number().int().min(1),
  recent: z.array(z.object({ from: z.enum(['closed', 'open', 'half_open']), to: z.enum(['closed', 'open', 'half_open']), at: z.string() })).default([]),
});

function refusal(provider: BreakerKey, step: BreakerStep): Error {
  const until = step.retryAt === null ? 'its timeout' : new Date(step.retryAt).toISOString();
  return new CircuitOpenError(
    `the ${provider} circuit breaker is ${step.breaker.state.replace('_', '-')} after ${step.breaker.failures} consecutive failures; calls are refused until ${until}`,
  );
}

/** Waits `ms`; an abort ends the wait with the signal's reason. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
    };
    const aborted = () => {
      done();
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

const epoch = (iso: string | undefined) => (iso === undefined ? null : Date.parse(iso));
const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

export class BreakerStore {
  readonly settings: BreakerSettings;
  readonly #table: string;
  readonly #clock: () => number;
  readonly #client: () => DynamoDBDocumentClient;
  readonly #onTransition: ((t: BreakerTransitionEvent) => void) | undefined;
  readonly #maxAttempts: number;

  constructor(o: BreakerStoreOptions) {
    this.settings = checkBreakerSettings(o.settings ?? DEFAULT_BREAKER_SETTINGS);
    this.#table = o.table;
    this.#clock = o.clock ?? Date.now;
    this.#client = o.client === undefined ? documentClient : () => o.client as DynamoDBDocumentClient;
    this.#onTransition = o.onTransition;
    this.#maxAttempts = o.maxAttempts ?? 8;
  }

  async read(provider: BreakerKey): Promise<StoredBreaker> {
    const res = await this.#client().send(new GetCommand({ TableName: this.#table, Key: { id: breakerId(provider) }, ConsistentRead: true }));
    if (!res.Item) return { breaker: CLOSED_BREAKER, version: 0, recent: [] };
    const item = storedSchema.parse(res.Item);
    return {
      breaker: { state: item.state, failures: item.failures, openedAt: epoch(item.openedAt), trials: item.trials, trialsAt: epoch(item.trialsAt) },
      version: item.version,
      recent: item.recent,
    };
  }

  /**
   * How long until the breaker would admit a call, in ms on the store's clock (0: it admits
   * now), by the rule beforeCall applies, without taking a trial: open until its timeout,
   * half-open with every trial out until the trials are renewed.
   */
  async admitsIn(provider: BreakerKey): Promise<number> {
    const { breaker } = await this.read(provider);
    const now = this.#clock();
    const step = admit(breaker, now, this.settings);
    return step.allowed ? 0 : Math.max(1, (step.retryAt ?? now) - now);
  }

  /** Before a call: throws CircuitOpenError (Transient.CircuitOpen) while the breaker refuses calls. */
  async beforeCall(provider: BreakerKey): Promise<void> {
    const step = await this.#apply(provider, admit);
    if (!step.allowed) throw refusal(provider, step);
  }

  /** The dependency answered (whatever the answer said). */
  async onSuccess(provider: BreakerKey): Promise<void> {
    await this.#apply(provider, succeed);
  }

  /** The dependency failed in a way that indicts it (unavailable, throttling, garbage). */
  async onFailure(provider: BreakerKey): Promise<void> {
    await this.#apply(provider, fail);
  }

  hook(provider: BreakerKey, o: HookOptions = {}): BreakerHook {
    const waitMs = o.waitWhileOpenMs ?? 0;
    const pollMs = o.pollMs ?? Math.min(5000, Math.max(50, Math.round(this.settings.openMs / 20)));
    return {
      beforeCall: async (signal) => {
        const giveUpAt = Date.now() + waitMs;
        for (let waiting = false; ; waiting = true) {
          signal?.throwIfAborted();
          const step = await this.#apply(provider, admit);
          if (step.allowed) return;
          if (Date.now() >= giveUpAt) throw refusal(provider, step);
          if (!waiting) o.onWait?.(step.retryAt);
          await sleep(Math.min(pollMs, Math.max(1, giveUpAt - Date.now())), signal);
        }
      },
      onSuccess: () => this.onSuccess(provider),
      onFailure: () => this.onFailure(provider),
    };
  }

  /** Every provider's breaker as GET /health reports it; a breaker never written is closed. */
  async states(): Promise<BreakerState[]> {
    return Promise.all(BREAKER_PROVIDERS.map(async (provider) => {
      const { breaker } = await this.read(provider);
      const openedAt = iso(breaker.openedAt);
      return {
        dependency: provider,
        state: breaker.state,
        failures: breaker.failures,
        ...(breaker.state !== 'closed' && openedAt !== undefined && { openedAt }),
      };
    }));
  }

  async #apply(provider: BreakerKey, rule: (b: Breaker, now: number, s: BreakerSettings) => BreakerStep): Promise<BreakerStep> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(provider);
      const now = this.#clock();
      const step = rule(current.breaker, now, this.settings);
      if (!step.changed) return step;
      const at = new Date(now).toISOString();
      const recent = step.transition === null ? current.recent : [...current.recent, { ...step.transition, at }].slice(-RECENT_TRANSITIONS);
      const b = step.breaker;
      try {
        await this.#client().send(new PutCommand({
          TableName: this.#table,
          Item: {
            id: breakerId(provider), provider, state: b.state, failures: b.failures, trials: b.trials,
            ...(b.openedAt !== null && { openedAt: iso(b.openedAt) }),
            ...(b.trialsAt !== null && { trialsAt: iso(b.trialsAt) }),
            version: current.version + 1, updatedAt: at, recent,
          },
          ConditionExpression: current.version === 0 ? 'attribute_not_exists(id)' : 'version = :v',
          ...(current.version !== 0 && { ExpressionAttributeValues: { ':v': current.version } }),
        }));
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        if (attempt >= this.#maxAttempts) throw new BreakerContentionError(`the ${provider} breaker changed under ${attempt} attempts to update it`, { cause: e });
        // Another writer won: read its result and apply the rule to that.
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
        continue;
      }
      if (step.transition !== null) this.#onTransition?.({ provider, ...step.transition, at, failures: b.failures });
      return step;
    }
  }
}

const envSchema = z.object({
  VTO_BREAKER_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(DEFAULT_BREAKER_SETTINGS.failureThreshold),
  /** Real seconds; scaled by VTO_TIME_SCALE like every wait of the pipeline. */
  VTO_BREAKER_OPEN_SECONDS: z.coerce.number().min(0).default(DEFAULT_BREAKER_SETTINGS.openMs / 1000),
  VTO_BREAKER_HALF_OPEN_CALLS: z.coerce.number().int().min(1).default(DEFAULT_BREAKER_SETTINGS.halfOpenMaxCalls),
  VTO_TIME_SCALE: z.coerce.number().positive().max(1).default(1),
});

export class BreakerSettingsError extends Error {
  override readonly name = 'BreakerSettingsError';
}

/** Breaker settings from the environment (VTO_BREAKER_*), the open time scaled by VTO_TIME_SCALE. */
export function breakerSettingsFromEnv(env: Env = process.env): BreakerSettings {
  const e = loadSettings(envSchema, env, { what: 'breaker settings', blankIsUnset: true, error: BreakerSettingsError });
  return checkBreakerSettings({
    failureThreshold: e.VTO_BREAKER_FAILURE_THRESHOLD,
    openMs: Math.round(e.VTO_BREAKER_OPEN_SECONDS * 1000 * e.VTO_TIME_SCALE),
    halfOpenMaxCalls: e.VTO_BREAKER_HALF_OPEN_CALLS,
  });
}

/** VTO_BREAKERS=off turns breakers off (they are on by default). */
export function breakersEnabled(env: Env = process.env): boolean {
  const v = env['VTO_BREAKERS']?.trim().toLowerCase();
  return !(v === 'off' || v === 'false' || v === '0' || v === 'no');
}
