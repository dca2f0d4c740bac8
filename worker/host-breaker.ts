/**
 * The circuit breaker of this worker's ComfyUI host, kept in the control table under
 * `breaker#comfyui#<host:port>` (core/breaker.ts comfyHostBreaker). Hosts fail alone: a
 * refusing breaker stops this worker taking tasks (untilAdmitting) and refuses the ones it
 * holds at once, which the worker gives back for the other hosts to run.
 */
import { comfyHostBreaker, type ComfyHostBreaker } from '../core/breaker.ts';
import type { BreakerStore } from '../adapters/breaker-store.ts';
import { sleep } from './comfy-socket.ts';
import type { Logger } from './logger.ts';
import type { CircuitBreakerHook } from './worker.ts';

export interface HostBreaker extends CircuitBreakerHook {
  readonly key: ComfyHostBreaker;
}

export function hostBreaker(store: BreakerStore, o: { comfyUrl: string; hostId: string; log: Logger; pollMs?: number }): HostBreaker {
  const key = comfyHostBreaker(o.comfyUrl, o.hostId);
  const hook = store.hook(key, { waitWhileOpenMs: 0 });
  return {
    key,
    ...hook,
    // The store's rule and clock, as beforeCall's: a half-open breaker with every trial out
    // refuses too, and a worker polling through it would take, refuse and give back the same
    // message until the queue dead-letters it (maxReceiveCount).
    untilAdmitting: async (signal) => {
      for (let said = false; ; said = true) {
        const waitMs = await store.admitsIn(key);
        if (waitMs === 0) return;
        if (!said) o.log.warn('this host\'s circuit breaker refuses calls; taking no tasks', { breaker: key, admitsInMs: waitMs });
        await sleep(Math.min(o.pollMs ?? 5000, waitMs), signal);
      }
    },
  };
}
