/**
 * Follows one submitted prompt to its end. The WebSocket gives the fast path (terminal
 * events of our prompt_id); GET /history/{id} is polled underneath it as a safety net
 * and after every reconnect, and alone once the socket is gone. A prompt that is
 * neither in history nor in the queue was lost (ComfyUI restarted).
 */
import { TransientServiceUnavailableError } from '../core/errors.ts';
import { historyMessages, type ComfyClient, type HistoryEntry } from './comfy-client.ts';
import type { ComfySocket, SocketSignal } from './comfy-socket.ts';
import type { Logger } from './logger.ts';

export type PromptOutcome =
  | { readonly kind: 'success'; readonly entry: HistoryEntry }
  | { readonly kind: 'error'; readonly error: Record<string, unknown> }
  | { readonly kind: 'interrupted'; readonly data: Record<string, unknown> };

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
      o.onStarted?.();
    }
  };

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
          continue;
        }
        const { type, data } = s.event;
        if (data['prompt_id'] !== o.promptId) continue;
        if (type === 'execution_start' || type === 'executing' || type === 'progress') markStarted();
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
      wake = new Promise<void>((r) => (wakeUp = r));
      if (mailbox.length > 0) continue;
      await waitFor(nextPollAt - Date.now(), wake, o.signal);
    }
  } finally {
    unsubscribe();
  }
}
