/**
 * Follows one submitted prompt to its end. The WebSocket gives the fast path (terminal
 * events of our prompt_id); GET /history/{id} is polled underneath it as a safety net
 * and after every reconnect, and alone once the socket is gone. A prompt that is
 * neither in history nor in the queue was lost (ComfyUI restarted).
 *
 * Stall detection: once the prompt runs, every WebSocket event of it is activity. A prompt
 * silent for longer than a bound drawn from its own step times (stallBound) is stalled: the
 * watch fails with Gpu.Timeout and the runner interrupts it, long before its deadline.
 * Without a live socket nothing can be seen, so nothing is judged.
 */
import { GpuTimeoutError, TransientServiceUnavailableError } from '../core/errors.ts';
import { historyMessages, type ComfyClient, type HistoryEntry } from './comfy-client.ts';
import type { ComfySocket, SocketSignal } from './comfy-socket.ts';
import type { Logger } from './logger.ts';

export type PromptOutcome =
  | { readonly kind: 'success'; readonly entry: HistoryEntry }
  | { readonly kind: 'error'; readonly error: Record<string, unknown> }
  | { readonly kind: 'interrupted'; readonly data: Record<string, unknown> };

export interface StallBounds {
  /** The bound is this many times the longest interval between progress messages so far. */
  readonly factor: number;
  /** …and never less than this. */
  readonly floorMs: number;
  /** Before the prompt's first progress message (model loads, nodes without progress). */
  readonly firstProgressMs: number;
}

/** How long a running prompt may stay silent, given the longest step interval seen (null: no progress yet). */
export function stallBound(b: StallBounds, longestStepMs: number | null): number {
  return longestStepMs === null ? b.firstProgressMs : Math.max(b.floorMs, b.factor * longestStepMs);
}

export interface WatchOptions {
  readonly comfy: ComfyClient;
  readonly socket: ComfySocket | null;
  readonly promptId: string;
  readonly historyPollMs: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Consecutive failed /history reads tolerated once the socket is gone. */
  readonly maxPollFailures?: number;
  /** Called once when ComfyUI starts executing the prompt (or it is seen running or done). */
  readonly onStarted?: () => void;
  /** Stall detection; none: only the deadline bounds the prompt. */
  readonly stall?: StallBounds;
}

/** What a history entry says about the end of the prompt; null while it is not over. */
export function outcomeFromHistory(entry: HistoryEntry): PromptOutcome | null {
  const messages = historyMessages(entry);
  const find = (type: string) => messages.find(([t]) => t === type)?.[1];
  const status = entry.status;
  if (status?.status_str === 'error' || find('execution_error') !== undefined || find('execution_interrupted') !== undefined) {
    const error = find('execution_error');
    if (error) return { kind: 'error', error };
    const interrupted = find('execution_interrupted');
    if (interrupted) return { kind: 'interrupted', data: interrupted };
    return { kind: 'error', error: { exception_message: 'ComfyUI reported the prompt as failed without an execution_error message' } };
  }
  // ComfyUI writes completed = success; older entries may carry only status_str, or no status at all.
  const done = status === undefined ? Object.keys(entry.outputs).length > 0 : (status.completed ?? status.status_str === 'success');
  if (done) {
    return { kind: 'success', entry };
  }
  return null;
}

function waitFor(ms: number, wake: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }
    signal.addEventListener('abort', onAbort, { once: true });
    void wake.then(done);
  });
}

export async function watchPrompt(o: WatchOptions): Promise<PromptOutcome> {
  const mailbox: SocketSignal[] = [];
  let wakeUp: () => void = () => {};
  let wake: Promise<void>;
  const unsubscribe = o.socket?.subscribe((s) => {
    mailbox.push(s);
    wakeUp();
  }) ?? (() => {});
  const maxFailures = o.maxPollFailures ?? 3;
  let failures = 0;
  let checkNow = false;
  let nextPollAt = Date.now() + o.historyPollMs;
  let startSeen = false;
  const markStarted = () => {
    if (!startSeen) {
      startSeen = true;
      lastActivity = Date.now();
      o.onStarted?.();
    }
  };
  // Stall clock: runs only while the prompt runs and the socket can show its events.
  let lastActivity = Date.now();
  let lastProgressAt: number | null = null;
  let longestStepMs: number | null = null;
  let socketLive = o.socket !== null;
  const stallAt = () => (o.stall && startSeen && socketLive ? lastActivity + stallBound(o.stall, longestStepMs) : Infinity);

  const checkHistory = async (): Promise<PromptOutcome | null> => {
    const entry = await o.comfy.history(o.promptId, { signal: o.signal });
    if (entry) return outcomeFromHistory(entry);
    if (await o.comfy.isQueued(o.promptId, { signal: o.signal })) return null;
    // History is written before the prompt leaves the queue; read it again to close the gap.
    const again = await o.comfy.history(o.promptId, { signal: o.signal });
    if (again) return outcomeFromHistory(again);
    throw new TransientServiceUnavailableError(
      `Prompt ${o.promptId} is neither queued nor running on ComfyUI and has no history (ComfyUI restarted?)`);
  };

  try {
    for (;;) {
      o.signal.throwIfAborted();
      for (let s = mailbox.shift(); s !== undefined; s = mailbox.shift()) {
        if (s.kind !== 'event') {
          checkNow = true;
          // Events of the gap are lost: the clock restarts on a new socket, and stops without one.
          socketLive = s.kind === 'reconnected';
          lastActivity = Date.now();
          continue;
        }
        const { type, data } = s.event;
        if (data['prompt_id'] !== o.promptId) continue;
        if (type === 'execution_start' || type === 'executing' || type === 'progress') markStarted();
        const now = Date.now();
        if (type === 'progress') {
          const step = now - (lastProgressAt ?? lastActivity);
          longestStepMs = Math.max(longestStepMs ?? 0, step);
          lastProgressAt = now;
        }
        lastActivity = now;
        if (type === 'execution_error') return { kind: 'error', error: data };
        if (type === 'execution_interrupted') return { kind: 'interrupted', data };
        // History is written before `executing {node:null}`; after execution_success it follows shortly.
        if (type === 'execution_success' || (type === 'executing' && data['node'] === null)) checkNow = true;
      }
      if (checkNow || Date.now() >= nextPollAt) {
        checkNow = false;
        nextPollAt = Date.now() + o.historyPollMs;
        try {
          const outcome = await checkHistory();
          failures = 0;
          if (outcome) {
            markStarted();
            return outcome;
          }
        } catch (e) {
          if (o.signal.aborted) throw o.signal.reason;
          if (e instanceof TransientServiceUnavailableError) throw e;
          failures += 1;
          const socketUp = o.socket !== null && (o.socket.state === 'open' || o.socket.state === 'reconnecting');
          o.log.warn('reading /history failed', { err: e, failures, socketUp });
          if (!socketUp && failures >= maxFailures) throw e;
        }
      }
      if (Date.now() >= stallAt() && o.stall) {
        const bound = stallBound(o.stall, longestStepMs);
        throw new GpuTimeoutError(longestStepMs === null
          ? `the prompt stalled: no event for ${Date.now() - lastActivity} ms and no progress yet, more than ${bound} ms (stallFirstProgressMs); it was interrupted`
          : `the prompt stalled: no progress for ${Date.now() - lastActivity} ms, more than ${bound} ms `
            + `(max(stallFloorMs ${o.stall.floorMs}, ${o.stall.factor} × its longest step ${longestStepMs} ms)); it was interrupted`);
      }
      wake = new Promise<void>((r) => (wakeUp = r));
      if (mailbox.length > 0) continue;
      await waitFor(Math.min(nextPollAt, stallAt()) - Date.now(), wake, o.signal);
    }
  } finally {
    unsubscribe();
  }
}
