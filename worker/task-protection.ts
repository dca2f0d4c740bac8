/**
 * ECS task scale-in protection, set by the worker itself: on while it holds a GPU message,
 * off when it holds none, so the fleet's scale-in (service desired count lowered) stops only
 * idle tasks and never one running a job. The ECS agent injects `ECS_AGENT_URI` into every
 * container of a task; outside ECS it is absent and protection is off (nothing to protect).
 *
 * Protection is asked for a bounded time and renewed while held, so a worker that hangs
 * stops protecting its task within `expiresInMinutes` instead of pinning a GPU for the
 * agent's 2-hour default. A failed call is logged and never stops GPU work: the next
 * renewal (or the next change) tries again.
 */
import type { Logger } from './logger.ts';

/** The agent's task-protection path (docs: "Amazon ECS task scale-in protection endpoint"). */
export const TASK_PROTECTION_PATH = '/task-protection/v1/state';
export const AGENT_URI_ENV = 'ECS_AGENT_URI';

export interface TaskProtectionOptions {
  /** `$ECS_AGENT_URI`: http://169.254.170.2/api/<task-id> on ECS. */
  readonly agentUri: string;
  /** How long one grant of protection lasts (ECS allows 1..2880). */
  readonly expiresInMinutes?: number;
  /** How often a held protection is renewed; well inside expiresInMinutes. */
  readonly renewEveryMs?: number;
  /** Timeout of each call to the agent. */
  readonly requestTimeoutMs?: number;
  readonly log: Logger;
}

export class TaskProtectionError extends Error {
  override readonly name = 'TaskProtectionError';
}

/** Ten minutes, renewed every three: a hung worker's task is protected ten minutes at most. */
const DEFAULT_EXPIRES_MINUTES = 10;
const DEFAULT_RENEW_MS = 3 * 60_000;

export class TaskProtection {
  readonly #url: string;
  readonly #expires: number;
  readonly #renewMs: number;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  #want = false;
  #chain: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(o: TaskProtectionOptions) {
    const expires = o.expiresInMinutes ?? DEFAULT_EXPIRES_MINUTES;
    if (!Number.isInteger(expires) || expires < 1 || expires > 2880) throw new TaskProtectionError(`expiresInMinutes must be a whole number from 1 to 2880, got ${expires}`);
    if (!/^https?:\/\/\S+$/.test(o.agentUri)) throw new TaskProtectionError(`${AGENT_URI_ENV} must be an http(s) URL, got ${JSON.stringify(o.agentUri)}`);
    this.#url = `${o.agentUri.replace(/\/+$/, '')}${TASK_PROTECTION_PATH}`;
    this.#expires = expires;
    this.#renewMs = o.renewEveryMs ?? DEFAULT_RENEW_MS;
    this.#timeoutMs = o.requestTimeoutMs ?? 5000;
    this.#log = o.log;
  }

  /** Whether the worker holds a message now; only changes reach the agent (plus renewals). */
  held(on: boolean): void {
    if (on === this.#want) return;
    this.#want = on;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (on) this.#timer = setInterval(() => this.#enqueue(true), this.#renewMs).unref();
    this.#enqueue(on);
  }

  /** Stops renewing and waits for the calls under way. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#chain;
  }

  // Calls run one at a time in order, and a call whose state was overtaken is skipped, so
  // the agent always ends on the worker's latest state.
  #enqueue(on: boolean): void {
    this.#chain = this.#chain.then(() => (on === this.#want ? this.#put(on) : undefined));
  }

  async #put(on: boolean): Promise<void> {
    const body = on ? { ProtectionEnabled: true, ExpiresInMinutes: this.#expires } : { ProtectionEnabled: false };
    try {
      const res = await fetch(this.#url, {
        method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.#timeoutMs),
      });
      const text = await res.text();
      // The agent answers {"protection": …} on success, {"failure": …} or {"error": …} otherwise.
      const answer = parseAnswer(text);
      if (!res.ok || answer?.['protection'] === undefined) throw new TaskProtectionError(`the ECS agent answered ${res.status}: ${text.slice(0, 300)}`);
      this.#log.debug('task scale-in protection set', { protectionEnabled: on });
    } catch (e) {
      this.#log.warn('could not set task scale-in protection', { protectionEnabled: on, err: e });
    }
  }
}

function parseAnswer(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Protection through the ECS agent when the worker runs in an ECS task; none elsewhere. */
export function taskProtectionFromEnv(env: Readonly<Record<string, string | undefined>>, log: Logger): TaskProtection | undefined {
  const uri = env[AGENT_URI_ENV];
  return uri === undefined || uri === '' ? undefined : new TaskProtection({ agentUri: uri, log });
}
