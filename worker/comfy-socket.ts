/**
 * ComfyUI's progress WebSocket for one client id, with bounded reconnects.
 *
 * A drop is followed by up to `reconnectAttempts` tries, each after `reconnectDelayMs`
 * and an HTTP probe; events sent in the gap are lost, so subscribers get a
 * `reconnected` signal and re-read /history. When the tries are spent the socket is
 * `gone` and callers rely on /history polling alone (what users of runpod's and
 * Salad's wrappers learned: a WebSocket alone can leave a finished prompt unnoticed).
 */
import WebSocket from 'ws';
import type { Logger } from './logger.ts';

export interface ComfyEvent {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

export type SocketSignal =
  | { readonly kind: 'event'; readonly event: ComfyEvent }
  | { readonly kind: 'reconnected' }
  | { readonly kind: 'gone'; readonly error: unknown };

export type SocketState = 'connecting' | 'open' | 'reconnecting' | 'gone' | 'closed';

export interface ComfySocketOptions {
  readonly url: string;
  readonly handshakeTimeoutMs: number;
  readonly reconnectAttempts: number;
  readonly reconnectDelayMs: number;
  /** Checked before each reconnect so a dead server fails fast (throws when down). */
  readonly probe: () => Promise<void>;
  readonly log: Logger;
  /** Called on every successful reconnect (counted as a retry). */
  readonly onReconnect?: () => void;
}

export function parseFrame(data: WebSocket.RawData, isBinary: boolean): ComfyEvent | null {
  // Binary frames are previews; the worker does not need them.
  if (isBinary) return null;
  try {
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const frame = JSON.parse(text) as unknown;
    if (frame === null || typeof frame !== 'object') return null;
    const { type, data: payload } = frame as { type?: unknown; data?: unknown };
    if (typeof type !== 'string') return null;
    return { type, data: payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>) : {} };
  } catch {
    return null;
  }
}

export class ComfySocket {
  readonly #o: ComfySocketOptions;
  #ws: WebSocket | undefined;
  #state: SocketState = 'connecting';
  readonly #listeners = new Set<(s: SocketSignal) => void>();
  readonly #stop = new AbortController();

  private constructor(options: ComfySocketOptions) {
    this.#o = options;
  }

  /**
   * Connects once; a failed first connect leaves the socket `gone` rather than failing
   * the job, since /history still tells the outcome.
   */
  static async open(options: ComfySocketOptions): Promise<ComfySocket> {
    const s = new ComfySocket(options);
    try {
      await s.#connect();
    } catch (e) {
      options.log.warn('ComfyUI WebSocket did not open; following the prompt through /history', { err: e });
      s.#state = 'gone';
    }
    return s;
  }

  get state(): SocketState {
    return this.#state;
  }

  subscribe(listener: (s: SocketSignal) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#state = 'closed';
    this.#stop.abort();
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.terminate();
  }

  #emit(s: SocketSignal): void {
    for (const l of this.#listeners) l(s);
  }

  #connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.#o.url, { handshakeTimeout: this.#o.handshakeTimeoutMs });
      let opened = false;
      ws.on('open', () => {
        opened = true;
        if (this.#state === 'closed') {
          ws.terminate();
          resolve();
          return;
        }
        this.#ws = ws;
        this.#state = 'open';
        resolve();
      });
      ws.on('message', (data, isBinary) => {
        const event = parseFrame(data, isBinary);
        if (event) this.#emit({ kind: 'event', event });
      });
      ws.on('error', (e) => {
        if (!opened) reject(e);
        else this.#o.log.debug('ComfyUI WebSocket error', { err: e });
      });
      ws.on('close', (code) => {
        if (!opened) {
          reject(new Error(`WebSocket closed before opening (code ${code})`));
          return;
        }
        if (this.#ws !== ws || this.#state === 'closed') return;
        this.#ws = undefined;
        this.#o.log.warn('ComfyUI WebSocket closed; reconnecting', { code });
        void this.#reconnect();
      });
    });
  }

  async #reconnect(): Promise<void> {
    this.#state = 'reconnecting';
    let last: unknown = new Error('WebSocket closed');
    for (let attempt = 1; attempt <= this.#o.reconnectAttempts; attempt++) {
      try {
        await sleep(this.#o.reconnectDelayMs, this.#stop.signal);
        await this.#o.probe();
        await this.#connect();
        if (this.state !== 'open') return;
        this.#o.log.info('ComfyUI WebSocket reconnected', { attempt });
        this.#o.onReconnect?.();
        this.#emit({ kind: 'reconnected' });
        return;
      } catch (e) {
        if (this.#stop.signal.aborted) return;
        last = e;
        this.#o.log.debug('ComfyUI WebSocket reconnect failed', { attempt, err: e });
      }
    }
    if (this.state === 'closed') return;
    this.#state = 'gone';
    this.#o.log.warn('ComfyUI WebSocket gone after bounded reconnects; following the prompt through /history', {
      attempts: this.#o.reconnectAttempts, err: last,
    });
    this.#emit({ kind: 'gone', error: last });
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
