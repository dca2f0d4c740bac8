/**
 * ComfyUI's HTTP routes the worker uses (shared/reference/comfyui.md). Every call has
 * its own timeout; a caller's signal cancels it too. Non-2xx answers throw
 * ComfyHttpError carrying the status and the body, which the classifier reads.
 */
import { z } from 'zod';
import type { Workflow } from '../core/gpu-message.ts';

export class ComfyHttpError extends Error {
  override readonly name = 'ComfyHttpError';
  readonly route: string;
  readonly status: number;
  /** The raw body (ComfyUI's JSON, or an HTML error page from a proxy). */
  readonly body: string;
  /** The body parsed as JSON, when it is JSON. */
  readonly json: unknown;

  constructor(route: string, status: number, body: string) {
    super(`ComfyUI ${route} answered HTTP ${status}: ${body.slice(0, 500)}`);
    this.route = route;
    this.status = status;
    this.body = body;
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    this.json = json;
  }
}

export interface ImageRef {
  readonly filename: string;
  readonly subfolder: string;
  readonly type: string;
}

export const promptResponseSchema = z.object({
  prompt_id: z.string().min(1),
  number: z.number().optional(),
  node_errors: z.record(z.string(), z.unknown()).optional(),
}).loose();
export type PromptResponse = z.infer<typeof promptResponseSchema>;

const uploadResponseSchema = z.object({ name: z.string().min(1), subfolder: z.string().default(''), type: z.string().default('input') }).loose();

const historyMessageSchema = z.tuple([z.string(), z.record(z.string(), z.unknown())]);
export const historyEntrySchema = z.object({
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  status: z.object({
    status_str: z.string().optional(),
    completed: z.boolean().optional(),
    messages: z.array(z.unknown()).default([]),
  }).loose().optional(),
}).loose();
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** The status messages of a history entry, keeping the well-formed ones. */
export function historyMessages(entry: HistoryEntry): [string, Record<string, unknown>][] {
  return (entry.status?.messages ?? []).flatMap((m) => {
    const r = historyMessageSchema.safeParse(m);
    return r.success ? [r.data] : [];
  });
}

const queueSchema = z.object({
  queue_running: z.array(z.array(z.unknown())).default([]),
  queue_pending: z.array(z.array(z.unknown())).default([]),
}).loose();

export interface ComfyClientOptions {
  readonly baseUrl: string;
  readonly requestTimeoutMs: number;
}

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

interface FetchInit extends CallOptions {
  readonly method?: string;
  readonly body?: string | FormData;
  readonly headers?: Record<string, string>;
}

export class ComfyClient {
  readonly baseUrl: string;
  readonly requestTimeoutMs: number;

  constructor(options: ComfyClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs;
  }

  /** ws(s)://host/ws?clientId= for this server. */
  socketUrl(clientId: string): string {
    const u = new URL(`${this.baseUrl}/ws`);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('clientId', clientId);
    return u.toString();
  }

  async #fetch(route: string, init: FetchInit = {}): Promise<Response> {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const signal = init.signal ? AbortSignal.any([timeout, init.signal]) : timeout;
    const res = await fetch(`${this.baseUrl}${route}`, {
      method: init.method ?? 'GET', signal,
      ...(init.body !== undefined && { body: init.body }),
      ...(init.headers !== undefined && { headers: init.headers }),
    });
    if (!res.ok) throw new ComfyHttpError(route.split('?')[0] ?? route, res.status, await res.text());
    return res;
  }

  async #json(route: string, init: FetchInit = {}): Promise<unknown> {
    const res = await this.#fetch(route, init);
    const text = await res.text();
    // JSON.parse's own message ("Unexpected token '<'...") is what the classifier reads.
    return text === '' ? {} : JSON.parse(text);
  }

  async systemStats(options: CallOptions = {}): Promise<unknown> {
    return this.#json('/system_stats', options);
  }

  async uploadImage(file: { bytes: Uint8Array; filename: string; contentType: string }, options: CallOptions = {}): Promise<ImageRef> {
    const form = new FormData();
    form.set('image', new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.contentType }), file.filename);
    form.set('type', 'input');
    // A re-run of the same attempt reuses the name instead of piling up "x (1).png".
    form.set('overwrite', 'true');
    const body = uploadResponseSchema.parse(await this.#json('/upload/image', { ...options, method: 'POST', body: form }));
    return { filename: body.name, subfolder: body.subfolder, type: body.type };
  }

  async queuePrompt(
    req: { prompt: Workflow; clientId: string; promptId: string; extraData: Record<string, unknown> },
    options: CallOptions = {},
  ): Promise<PromptResponse> {
    const body = JSON.stringify({ prompt: req.prompt, client_id: req.clientId, prompt_id: req.promptId, extra_data: req.extraData });
    const json = await this.#json('/prompt', { ...options, method: 'POST', body, headers: { 'content-type': 'application/json' } });
    return promptResponseSchema.parse(json);
  }

  /** The prompt's history entry, or null while it has none (ComfyUI answers 200 {} until it ends). */
  async history(promptId: string, options: CallOptions = {}): Promise<HistoryEntry | null> {
    const json = await this.#json(`/history/${encodeURIComponent(promptId)}`, options);
    const entry = (json as Record<string, unknown>)[promptId];
    return entry === undefined ? null : historyEntrySchema.parse(entry);
  }

  /** Prompts running and waiting: [prompt_id, extra_data] of each, the running ones first. */
  async queued(options: CallOptions = {}): Promise<{ promptId: string; extraData: Record<string, unknown> }[]> {
    const q = queueSchema.parse(await this.#json('/queue', options));
    return [...q.queue_running, ...q.queue_pending].flatMap((item) => (typeof item[1] === 'string'
      ? [{ promptId: item[1], extraData: item[3] !== null && typeof item[3] === 'object' ? item[3] as Record<string, unknown> : {} }]
      : []));
  }

  /** Whether the prompt is running or waiting in ComfyUI's queue. */
  async isQueued(promptId: string, options: CallOptions = {}): Promise<boolean> {
    const q = queueSchema.parse(await this.#json('/queue', options));
    return [...q.queue_running, ...q.queue_pending].some((item) => item[1] === promptId);
  }

  async view(ref: ImageRef, options: CallOptions = {}): Promise<{ bytes: Uint8Array; contentType: string }> {
    const q = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
    const res = await this.#fetch(`/view?${q.toString()}`, options);
    return { bytes: new Uint8Array(await res.arrayBuffer()), contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  /** POST /free: ComfyUI unloads its models and frees cached memory once its current prompt ends. */
  async free(options: CallOptions = {}): Promise<void> {
    await (await this.#fetch('/free', {
      ...options, method: 'POST', body: JSON.stringify({ unload_models: true, free_memory: true }), headers: { 'content-type': 'application/json' },
    })).arrayBuffer();
  }

  /**
   * Stops a prompt wherever it is: /interrupt acts only if it is the running one, and
   * POST /queue delete removes it if it is still pending. Both are attempted.
   */
  async cancel(promptId: string): Promise<void> {
    const post = (route: string, body: unknown) =>
      this.#fetch(route, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
        .then((r) => r.arrayBuffer());
    const results = await Promise.allSettled([post('/interrupt', { prompt_id: promptId }), post('/queue', { delete: [promptId] })]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
