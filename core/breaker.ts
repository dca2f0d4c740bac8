/**
 * The circuit breaker of one external dependency, as a pure state machine
 * (docs/architecture.md §3): closed → open after `failureThreshold` consecutive failures; open refuses every
 * call until `openMs` have passed, then half-open admits at most `halfOpenMaxCalls` trial
 * calls; a trial's success closes it, a trial's failure opens it again. The clock is the
 * caller's (`now`, epoch ms), so every rule is tested without waiting; the shared copy lives
 * in DynamoDB (adapters/breaker-store.ts).
 */
import type { BreakerStatus } from './health.ts';

export type { BreakerStatus } from './health.ts';

/** The dependencies guarded by a breaker: the GPU fleet and the three external APIs. */
export const BREAKER_PROVIDERS = ['comfyui', 'hosted-inpaint', 'segmentation', 'analyzer'] as const;
export type BreakerProvider = (typeof BREAKER_PROVIDERS)[number];

/**
 * ComfyUI hosts fail alone: each has its own breaker, keyed `comfyui#<host:port>` (stored
 * as `breaker#comfyui#<host:port>` in the control table), so one hanging host stops only
 * its own worker.
 */
export const COMFY_HOST_BREAKER_PREFIX = 'comfyui#';
export type ComfyHostBreaker = `${typeof COMFY_HOST_BREAKER_PREFIX}${string}`;
/** Any breaker the store keeps: a whole dependency, or one ComfyUI host. */
export type BreakerKey = BreakerProvider | ComfyHostBreaker;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '0.0.0.0']);

/**
 * The breaker of the ComfyUI at `comfyUrl`. A loopback URL (ComfyUI beside its worker, as
 * on every GPU host) names the machine instead, so hosts that all say 127.0.0.1 stay apart.
 */
export function comfyHostBreaker(comfyUrl: string, machine: string): ComfyHostBreaker {
  const u = new URL(comfyUrl);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const host = LOOPBACK.has(u.hostname) ? machine : u.hostname;
  return `${COMFY_HOST_BREAKER_PREFIX}${host}:${port}`;
}

export const isComfyHostBreaker = (key: string): key is ComfyHostBreaker => key.startsWith(COMFY_HOST_BREAKER_PREFIX);

export interface BreakerSettings {
  /** Consecutive failures that open a closed breaker. @default 5 */
  readonly failureThreshold: number;
  /** How long an open breaker refuses calls before it half-opens, in ms. @default 300_000 */
  readonly openMs: number;
  /** Trial calls a half-open breaker admits before one of them reports. @default 3 */
  readonly halfOpenMaxCalls: number;
}

export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = { failureThreshold: 5, openMs: 300_000, halfOpenMaxCalls: 3 };

export interface Breaker {
  readonly state: BreakerStatus;
  /** Consecutive failures (reset by a success). */
  readonly failures: number;
  /** When it last opened (epoch ms). */
  readonly openedAt: number | null;
  /** Trial calls admitted since it half-opened (or since the trials were renewed). */
  readonly trials: number;
  /** When the current trials began (epoch ms). */
  readonly trialsAt: number | null;
}

export const CLOSED_BREAKER: Breaker = { state: 'closed', failures: 0, openedAt: null, trials: 0, trialsAt: null };

export interface BreakerTransition {
  readonly from: BreakerStatus;
  readonly to: BreakerStatus;
}

export interface BreakerStep {
  readonly breaker: Breaker;
  /** For `admit`: whether the call may go ahead. Outcomes are always taken. */
  readonly allowed: boolean;
  /** The breaker changed, so the shared copy must be written. */
  readonly changed: boolean;
  readonly transition: BreakerTransition | null;
  /** For a refused call: when the breaker will admit trials again (epoch ms). */
  readonly retryAt: number | null;
}

const step = (before: Breaker, after: Breaker, allowed: boolean, retryAt: number | null = null): BreakerStep => ({
  breaker: after,
  allowed,
  changed: JSON.stringify(before) !== JSON.stringify(after),
  transition: before.state === after.state ? null : { from: before.state, to: after.state },
  retryAt,
});

const open = (b: Breaker, now: number): Breaker => ({ ...b, state: 'open', openedAt: now, trials: 0, trialsAt: null });

/** Settings checked once: a breaker that can never open or never recover is a configuration error. */
export function checkBreakerSettings(s: BreakerSettings): BreakerSettings {
  if (!Number.isInteger(s.failureThreshold) || s.failureThreshold < 1) throw new RangeError(`failureThreshold must be an integer ≥ 1, got ${s.failureThreshold}`);
  if (!(s.openMs >= 0) || !Number.isFinite(s.openMs)) throw new RangeError(`openMs must be a finite number ≥ 0, got ${s.openMs}`);
  if (!Number.isInteger(s.halfOpenMaxCalls) || s.halfOpenMaxCalls < 1) throw new RangeError(`halfOpenMaxCalls must be an integer ≥ 1, got ${s.halfOpenMaxCalls}`);
  return s;
}

/** Before a call: closed admits; open refuses until `openMs` have passed, then half-opens; half-open admits a bounded number of trials. */
export function admit(b: Breaker, now: number, s: BreakerSettings): BreakerStep {
  if (b.state === 'closed') return step(b, b, true);
  if (b.state === 'open') {
    const reopensAt = (b.openedAt ?? now) + s.openMs;
    if (now < reopensAt) return step(b, b, false, reopensAt);
    return step(b, { ...b, state: 'half_open', trials: 1, trialsAt: now }, true);
  }
  if (b.trials < s.halfOpenMaxCalls) return step(b, { ...b, trials: b.trials + 1, trialsAt: b.trialsAt ?? now }, true);
  // Trials that never reported (their caller died) must not hold the breaker half-open forever.
  const renewAt = (b.trialsAt ?? now) + s.openMs;
  if (now >= renewAt) return step(b, { ...b, trials: 1, trialsAt: now }, true);
  return step(b, b, false, renewAt);
}

/** A call succeeded: the dependency answers. A half-open breaker closes; an open one waits for its trials. */
export function succeed(b: Breaker, _now: number, _s: BreakerSettings): BreakerStep {
  if (b.state === 'open') return step(b, b, true);
  return step(b, CLOSED_BREAKER, true);
}

/** A call failed in a way that indicts the dependency. */
export function fail(b: Breaker, now: number, s: BreakerSettings): BreakerStep {
  if (b.state === 'half_open') return step(b, open({ ...b, failures: b.failures + 1 }, now), true);
  if (b.state === 'open') return step(b, { ...b, failures: b.failures + 1 }, true);
  const failures = b.failures + 1;
  return step(b, failures >= s.failureThreshold ? open({ ...b, failures }, now) : { ...b, failures }, true);
}
