/**
 * The simulated ComfyUI's WebSocket side (/ws and /api/ws), as server.py runs it: one
 * socket per clientId (a reconnect with the same id replaces the old one), `status` with
 * `sid` on connect, the feature_flags handshake, and send_sync routing — to one client
 * when a client id is given, to every socket otherwise; frames for a client that is not
 * connected are lost.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';

export const SERVER_FEATURE_FLAGS = { supports_preview_metadata: true, max_upload_size: 100 * 1024 * 1024 } as const;

export interface HubHooks {
  /** Frames to send right after `status` on connect (e.g. `executing` for the running client). */
  onConnect(sid: string): { type: string; data: Record<string, unknown> }[];
  queueInfo(): Record<string, unknown>;
}

export class SocketHub {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #sockets = new Map<string, WebSocket>();
  readonly #hooks: HubHooks;

  constructor(hooks: HubHooks) {
    this.#hooks = hooks;
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://sim.local');
      if (url.pathname !== '/ws' && url.pathname !== '/api/ws') {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connected(ws, url.searchParams.get('clientId') ?? ''));
    });
  }

  #connected(ws: WebSocket, requested: string): void {
    const sid = requested !== '' ? requested : randomUUID().replace(/-/g, '');
    this.#sockets.set(sid, ws);
    const frame = (type: string, data: Record<string, unknown>) => ws.send(JSON.stringify({ type, data }));
    frame('status', { status: this.#hooks.queueInfo(), sid });
    for (const f of this.#hooks.onConnect(sid)) frame(f.type, f.data);
    let first = true;
    ws.on('message', (raw, isBinary) => {
      if (!first || isBinary) return;
      first = false;
      try {
        const msg = JSON.parse(raw.toString()) as { type?: unknown };
        if (msg.type === 'feature_flags') frame('feature_flags', { ...SERVER_FEATURE_FLAGS });
      } catch {
        // server.py logs "Invalid JSON received from client" and carries on.
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.#sockets.get(sid) === ws) this.#sockets.delete(sid);
    });
  }

  /** send_sync(event, data, sid). */
  send(type: string, data: Record<string, unknown>, sid: string | null): void {
    const text = JSON.stringify({ type, data });
    for (const ws of this.#targets(sid)) ws.send(text);
  }

  sendBinary(frame: Buffer, sid: string | null): void {
    for (const ws of this.#targets(sid)) ws.send(frame, { binary: true });
  }

  #targets(sid: string | null): WebSocket[] {
    const all = sid === null ? [...this.#sockets.values()] : [this.#sockets.get(sid)].filter((w) => w !== undefined);
    return all.filter((w) => w.readyState === WebSocket.OPEN);
  }

  /** Drops a client's connection without a close handshake, as a network failure does. */
  drop(sid: string): boolean {
    const ws = this.#sockets.get(sid);
    if (ws === undefined) return false;
    ws.terminate();
    this.#sockets.delete(sid);
    return true;
  }

  terminateAll(): void {
    for (const ws of this.#sockets.values()) ws.terminate();
    this.#sockets.clear();
  }

  close(): Promise<void> {
    this.terminateAll();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }

  get size(): number {
    return this.#sockets.size;
  }
}
