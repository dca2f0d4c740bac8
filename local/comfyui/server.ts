/**
 * A simulated ComfyUI server speaking the real HTTP + WebSocket protocol
 * (shared/reference/comfyui.md): /prompt with ComfyUI's validation, one prompt at a time
 * on a simulated GPU, /history written before `executing {node: null}`, /view serving real
 * PNGs. It fails by physics (VRAM budget, installed models) and by a seeded fault profile.
 *
 * Crash fault: when `onCrash` is given (a child process passes `process.exit`), it is
 * called mid-run. In-process there is no process to kill, so the server destroys every
 * HTTP and WebSocket connection, stops listening (clients get ECONNREFUSED) and forgets
 * its queue, history, cache and loaded models, as a dead process would; files "on disk"
 * (uploads, outputs) survive. `restart()` listens again on the same port.
 *
 * Layout: the HTTP routes are one table (router.ts); what a crash loses is ProcessMemory
 * (state.ts, one `reset()`); a prompt runs in executor.ts; uploads and /view in file-routes.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { createFaultInjector, type ComfyFaultKind, type FaultInjector, type FaultProfile } from '../faults.ts';
import { executePrompt, type RunEnv, type RunResult } from './executor.ts';
import { uploadImage, viewFile } from './file-routes.ts';
import { FileStore } from './files.ts';
import { BodyTooLargeError, closeServer, listen, parseJson, readBody, sendJson, sendText, trackConnections, Waker } from '../http.ts';
import { INDEX_HTML, MODEL_FOLDERS, systemStats } from './info.ts';
import { nodeDefs, nodeInfo, type NodeDef } from './node-defs.ts';
import { DEFAULT_INSTALLED_MODELS, DEFAULT_VRAM_MIB, type OomStyle } from './physics.ts';
import { PromptLog, type PromptOutcome, type PromptRecord } from './prompt-log.ts';
import { ServerGone } from './python-errors.ts';
import { RouteTable, type Route } from './router.ts';
import { SimCounters } from './sim-stats.ts';
import { ProcessMemory, type HistoryEntry, type Pending } from './state.ts';
import { validatePrompt, type PromptGraph } from './validate.ts';
import { SERVER_FEATURE_FLAGS, SocketHub } from './ws-hub.ts';

export type { PromptOutcome, PromptRecord } from './prompt-log.ts';

export interface ComfySimOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Checkpoints in models/checkpoints. @default DEFAULT_INSTALLED_MODELS */
  readonly installedModels?: readonly string[];
  /** Installed checkpoints whose file is corrupt (SafetensorError when loaded). */
  readonly corruptModels?: readonly string[];
  /** @default 24576 */
  readonly vramMiB?: number;
  /** Milliseconds per sampler step for one 1024×1024 image (scaled by size × batch). @default 20 */
  readonly stepMs?: number;
  /** Time to load a checkpoint that is not in VRAM. @default 10 × stepMs */
  readonly modelLoadMs?: number;
  /**
   * A cold host: for this long after start the server accepts connections and drops them
   * unanswered, as a host still booting, pulling its image or importing ComfyUI's nodes does
   * (physics.ts COLD_START). @default 0
   */
  readonly bootMs?: number;
  /** Fault profile name or object. @default 'none' */
  readonly profile?: string | FaultProfile;
  readonly seed?: number;
  /** An injector shared with other simulators or restored after a restart; overrides profile/seed. */
  readonly faults?: FaultInjector;
  /** @default 'invalid_prompt' (ComfyUI @a125cd8); 'missing_node_type' after PR #12194. */
  readonly missingNodeErrorType?: 'invalid_prompt' | 'missing_node_type';
  /** @default 'cudaMallocAsync' (ComfyUI's default allocator: "Allocation on device "). */
  readonly oomStyle?: OomStyle;
  /** ComfyUI's output cache: an identical node (same inputs, same image files) is not run again. @default true */
  readonly cache?: boolean;
  /** Binary PREVIEW_IMAGE frames with each sampler step (ComfyUI: --preview-method). @default false */
  readonly previews?: boolean;
  /** @default 100 MiB (ComfyUI's --max-upload-size) */
  readonly maxBodyBytes?: number;
  /** Called by the crash fault instead of the in-process crash (a child process exits here). */
  readonly onCrash?: () => void;
  /**
   * In-process: listen again this long after a crash, as a container runtime brings back a
   * ComfyUI that died (ECS restarts a task's essential container). @default never (restart())
   */
  readonly restartAfterCrashMs?: number;
}

export interface ComfySimStats {
  readonly promptsAccepted: number;
  readonly promptsRejected: number;
  readonly promptsRun: number;
  readonly promptsSucceeded: number;
  readonly promptsFailed: number;
  readonly promptsInterrupted: number;
  /** Wall time spent executing prompts (the GPU's busy time). */
  readonly busyMs: number;
  readonly queueRemaining: number;
  readonly running: string | null;
  readonly crashed: boolean;
  readonly uploads: number;
  /** POST /free calls that asked for something (unload_models or free_memory). */
  readonly freeRequests: number;
  readonly connectedSockets: number;
  /** Faults that took effect, per kind. */
  readonly faultsFired: Readonly<Record<string, number>>;
  /** execution_error exception types seen, per type. */
  readonly errors: Readonly<Record<string, number>>;
}

export interface ComfySim {
  readonly url: string;
  readonly port: number;
  readonly faults: FaultInjector;
  stop(): Promise<void>;
  /** Listens again after an in-process crash, with an empty queue and history. */
  restart(): Promise<void>;
  stats(): ComfySimStats;
  /** Forces `kind` on the next `calls` prompts of `key` (a jobId or prompt_id); null clears. */
  setFault(key: string, kind: ComfyFaultKind | null, calls?: number): void;
  setInstalledModels(models: readonly string[]): void;
  /** Read-only record of every accepted prompt (see PromptRecord); benchmarks read GPU busy intervals from it. */
  promptLog(): readonly PromptRecord[];
}


const SENSITIVE_EXTRA_DATA_KEYS = ['auth_token_comfy_org', 'api_key_comfy_org'];

/** The `vto` tag a worker puts in extra_data (jobId, attempt, warmup); {} when absent. */
function vtoTag(extraData: Record<string, unknown>): Record<string, unknown> {
  const vto = extraData['vto'];
  return vto !== null && typeof vto === 'object' ? (vto as Record<string, unknown>) : {};
}

/** Which job a prompt belongs to, for fault decisions: extra_data.vto.jobId, else the prompt_id. */
function faultKey(extraData: Record<string, unknown>, promptId: string): string {
  const jobId = vtoTag(extraData)['jobId'];
  return typeof jobId === 'string' && jobId !== '' ? jobId : promptId;
}

function jsonObject(body: Buffer): Record<string, unknown> | null {
  const parsed = parseJson(body);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
}

interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
}
type Handler = (call: Call) => void | Promise<void>;

interface Settings {
  readonly host: string;
  readonly stepMs: number;
  readonly modelLoadMs: number;
  readonly maxBody: number;
  readonly missingNodeErrorType: 'invalid_prompt' | 'missing_node_type';
  readonly oomStyle: OomStyle;
  readonly corrupt: ReadonlySet<string>;
  readonly bootedAt: number;
  readonly onCrash: (() => void) | undefined;
  readonly restartAfterCrashMs: number | undefined;
}

function settingsOf(options: ComfySimOptions): Settings {
  const stepMs = options.stepMs ?? 20;
  return {
    host: options.host ?? '127.0.0.1',
    stepMs,
    modelLoadMs: options.modelLoadMs ?? stepMs * 10,
    maxBody: options.maxBodyBytes ?? SERVER_FEATURE_FLAGS.max_upload_size,
    missingNodeErrorType: options.missingNodeErrorType ?? 'invalid_prompt',
    oomStyle: options.oomStyle ?? 'cudaMallocAsync',
    corrupt: new Set(options.corruptModels ?? []),
    bootedAt: performance.now() + (options.bootMs ?? 0),
    onCrash: options.onCrash,
    restartAfterCrashMs: options.restartAfterCrashMs,
  };
}

export async function startComfySim(options: ComfySimOptions = {}): Promise<ComfySim> {
  const sim = new SimulatedComfy(options, options.previews === true ? await previewFrame() : null);
  await sim.listen(options.port ?? 0);
  return sim;
}

class SimulatedComfy implements ComfySim {
  readonly faults: FaultInjector;
  readonly #s: Settings;
  readonly #preview: Buffer | null;
  /** Files "on disk": they survive a crash. */
  readonly #files = new FileStore();
  /** Process memory: lost on a crash. */
  readonly #memory: ProcessMemory;
  readonly #counters = new SimCounters();
  readonly #prompts = new PromptLog();
  readonly #waker = new Waker();
  readonly #hub: SocketHub;
  readonly #server: Server;
  readonly #sockets: Set<Socket>;
  readonly #routes = new RouteTable(this.#routeList());
  #installed: string[];
  #port = 0;
  /** Bumped by a crash or stop: a run of an older generation sends and records nothing more. */
  #generation = 0;
  #stopped = false;
  #crashed = false;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(options: ComfySimOptions, preview: Buffer | null) {
    this.#s = settingsOf(options);
    this.faults = options.faults ?? createFaultInjector(options.profile, options.seed);
    this.#installed = [...(options.installedModels ?? DEFAULT_INSTALLED_MODELS)];
    this.#preview = preview;
    this.#memory = new ProcessMemory({ vramMiB: options.vramMiB ?? DEFAULT_VRAM_MIB, cache: options.cache !== false });
    this.#hub = new SocketHub({
      queueInfo: () => this.#queueInfo(),
      onConnect: (sid) => {
        const { clientId, node } = this.#memory.executing;
        return clientId === sid && node !== null ? [{ type: 'executing', data: { node } }] : [];
      },
    });
    this.#server = createServer((req, res) => this.#onRequest(req, res));
    this.#sockets = trackConnections(this.#server);
    this.#hub.attach(this.#server);
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://${this.#s.host}:${this.#port}`;
  }

  async listen(port: number): Promise<void> {
    this.#port = await listen(this.#server, port, this.#s.host);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#generation += 1;
    this.#waker.wake();
    await this.#hub.close();
    await closeServer(this.#server, this.#sockets);
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new Error('the simulator was stopped; start a new one');
    if (!this.#crashed) return;
    // Restarted by hand (a benchmark's own schedule): the automatic restart is not due any more.
    clearTimeout(this.#restartTimer);
    await listen(this.#server, this.#port, this.#s.host);
    this.#crashed = false;
  }

  stats(): ComfySimStats {
    return {
      ...this.#counters.snapshot(),
      queueRemaining: this.#memory.queue.remaining,
      running: this.#memory.queue.running?.item[1] ?? null,
      crashed: this.#crashed,
      connectedSockets: this.#hub.size,
    };
  }

  setFault(key: string, kind: ComfyFaultKind | null, calls?: number): void {
    this.faults.force('comfyui', key, kind, calls);
  }

  setInstalledModels(models: readonly string[]): void {
    this.#installed = [...models];
  }

  promptLog(): readonly PromptRecord[] {
    return this.#prompts.all();
  }

  // ----------------------------------------------------------------- HTTP

  #routeList(): Route<Handler>[] {
    const json = (body: () => unknown): Handler => ({ res }) => sendJson(res, 200, body());
    // POST commands answer an empty 200 whatever their body asked.
    const command = (act: (body: Record<string, unknown>) => void): Handler => async ({ req, res }) => {
      act(jsonObject(await readBody(req, this.#s.maxBody)) ?? {});
      sendText(res, 200, '');
    };
    return [
      { method: 'GET', path: '/', handler: ({ res }) => sendText(res, 200, INDEX_HTML, 'text/html; charset=utf-8', { 'cache-control': 'no-cache' }) },
      { method: 'GET', path: '/ws', handler: ({ res }) => sendText(res, 400, 'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".') },
      { method: 'GET', path: '/embeddings', handler: json(() => []) },
      { method: 'GET', path: '/extensions', handler: json(() => []) },
      { method: 'GET', path: '/features', handler: json(() => SERVER_FEATURE_FLAGS) },
      { method: 'GET', path: '/models', handler: json(() => MODEL_FOLDERS) },
      { method: 'GET', path: '/models/{folder}', handler: ({ res, params }) => this.#modelList(res, params['folder']!) },
      { method: 'GET', path: '/system_stats', handler: json(() => systemStats(this.#memory.gpu.vram, { host: this.#s.host, port: this.#port })) },
      { method: 'GET', path: '/prompt', handler: json(() => this.#queueInfo()) },
      { method: 'GET', path: '/object_info', handler: json(() => Object.fromEntries(Object.entries(this.#defs()).map(([k, def]) => [k, nodeInfo(k, def)]))) },
      { method: 'GET', path: '/object_info/{node_class}', handler: ({ res, params }) => sendJson(res, 200, this.#objectInfo(params['node_class']!)) },
      { method: 'GET', path: '/history', handler: ({ res, url }) => sendJson(res, 200, this.#historyPage(url)) },
      { method: 'GET', path: '/history/{prompt_id}', handler: ({ res, params }) => sendJson(res, 200, this.#historyOf(params['prompt_id']!)) },
      { method: 'GET', path: '/queue', handler: json(() => this.#memory.queue.view()) },
      { method: 'GET', path: '/view', handler: ({ res, url }) => viewFile(this.#files, url, res) },
      { method: 'POST', path: '/prompt', handler: ({ req, res }) => this.#postPrompt(req, res) },
      { method: 'POST', path: '/upload/image', handler: async ({ req, res }) => {
        if (await uploadImage(this.#files, req, res, this.#s.maxBody)) this.#counters.counts.uploads += 1;
      } },
      { method: 'POST', path: '/queue', handler: command((body) => this.#editQueue(body)) },
      { method: 'POST', path: '/interrupt', handler: command((body) => this.#interrupt(body)) },
      { method: 'POST', path: '/free', handler: command((body) => this.#free(body)) },
      { method: 'POST', path: '/history', handler: command((body) => this.#editHistory(body)) },
    ];
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (performance.now() < this.#s.bootedAt) {
      req.socket.destroy();
      return;
    }
    this.#handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendText(res, 500, `500 Internal Server Error\n\nServer got itself in trouble: ${String(e)}`);
      else res.destroy();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.local');
    // ComfyUI serves every API route under /api too.
    const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname === '/api' ? '/' : url.pathname;
    const match = this.#routes.match(req.method ?? 'GET', path);
    if (match.kind === 'method-not-allowed') return sendText(res, 405, '405: Method Not Allowed');
    if (match.kind === 'not-found') return sendText(res, 404, '404: Not Found');
    try {
      await match.handler({ req, res, url, params: match.params });
    } catch (e) {
      if (!(e instanceof BodyTooLargeError)) throw e;
      sendText(res, 413, `Maximum request body size ${this.#s.maxBody} exceeded, actual body size ${req.headers['content-length'] ?? 'unknown'}`);
    }
  }

  #defs(): Readonly<Record<string, NodeDef>> {
    return nodeDefs({ checkpoints: [...this.#installed].sort(), inputFiles: this.#files.inputList() });
  }

  #queueInfo(): { exec_info: { queue_remaining: number } } {
    return { exec_info: { queue_remaining: this.#memory.queue.remaining } };
  }

  #queueUpdated(): void {
    this.#hub.send('status', { status: this.#queueInfo() }, null);
  }

  #modelList(res: ServerResponse, folder: string): void {
    if (!MODEL_FOLDERS.includes(folder)) return sendText(res, 404, '404: Not Found');
    sendJson(res, 200, folder === 'checkpoints' ? [...this.#installed].sort() : []);
  }

  #objectInfo(cls: string): Record<string, unknown> {
    const def = this.#defs()[cls];
    return def === undefined ? {} : { [cls]: nodeInfo(cls, def) };
  }

  #historyPage(url: URL): Record<string, HistoryEntry> {
    const maxItems = url.searchParams.has('max_items') ? Number(url.searchParams.get('max_items')) : null;
    const offset = url.searchParams.has('offset') ? Number(url.searchParams.get('offset')) : -1;
    return this.#memory.history.page(maxItems, offset);
  }

  #historyOf(promptId: string): Record<string, HistoryEntry> {
    const entry = this.#memory.history.get(promptId);
    return entry === undefined ? {} : { [promptId]: entry };
  }

  #editQueue(body: Record<string, unknown>): void {
    const { queue } = this.#memory;
    if (body['clear'] === true) {
      queue.clear();
      this.#queueUpdated();
    }
    if (!Array.isArray(body['delete'])) return;
    for (const id of body['delete']) if (queue.delete(id)) this.#queueUpdated();
  }

  /** Without a prompt_id, or with the running one's, interrupts the running prompt. */
  #interrupt(body: Record<string, unknown>): void {
    const target = body['prompt_id'];
    if (typeof target !== 'string' || target === '' || this.#memory.queue.running?.item[1] === target) {
      this.#memory.interruptRequested = true;
      this.#waker.wake();
    }
  }

  #free(body: Record<string, unknown>): void {
    const { gpu, queue } = this.#memory;
    if (gpu.request({ unloadModels: body['unload_models'] === true, freeMemory: body['free_memory'] === true })) this.#counters.counts.freeRequests += 1;
    if (queue.running === null) gpu.applyRequested();
  }

  #editHistory(body: Record<string, unknown>): void {
    const { history } = this.#memory;
    if (body['clear'] === true) history.clear();
    if (Array.isArray(body['delete'])) for (const id of body['delete']) history.delete(String(id));
  }

  // ---------------------------------------------------------- POST /prompt

  async #postPrompt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const data = jsonObject(await readBody(req, this.#s.maxBody));
    if (data === null) return sendText(res, 500, '500 Internal Server Error\n\nServer got itself in trouble');
    const number = 'number' in data ? Number(data['number']) : this.#memory.queue.nextNumber({ front: data['front'] === true });
    if (!('prompt' in data)) {
      this.#counters.counts.promptsRejected += 1;
      return sendJson(res, 400, { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} });
    }
    const promptId = data['prompt_id'] === undefined || data['prompt_id'] === null ? randomUUID() : String(data['prompt_id']);
    const extra = data['extra_data'];
    const extraData: Record<string, unknown> = extra !== null && typeof extra === 'object' && !Array.isArray(extra) ? { ...(extra as Record<string, unknown>) } : {};
    if ('client_id' in data) extraData['client_id'] = data['client_id'];

    // A worker's warm-up prompt belongs to no job: the fault profile decides jobs' fates only.
    const fault = vtoTag(extraData)['warmup'] === true ? null : this.faults.next('comfyui', faultKey(extraData, promptId));
    if (fault === 'http503') {
      this.#counters.faultFired('http503');
      return sendText(res, 503, '503: Service Unavailable');
    }
    const v = validatePrompt(data['prompt'], {
      defs: this.#defs(), imageExists: (n) => this.#files.resolveImage(n) !== undefined, missingNodeErrorType: this.#s.missingNodeErrorType,
    });
    if (!v.ok) {
      this.#counters.counts.promptsRejected += 1;
      return sendJson(res, 400, { error: v.error, node_errors: v.nodeErrors });
    }
    this.#counters.counts.promptsAccepted += 1;
    this.#prompts.queued(promptId, extraData);
    this.#memory.queue.add({ item: [number, promptId, data['prompt'] as PromptGraph, extraData, v.outputs], fault });
    this.#queueUpdated();
    sendJson(res, 200, { prompt_id: promptId, number, node_errors: v.nodeErrors });
    setImmediate(() => this.#pump());
  }

  // ------------------------------------------------------------- the GPU

  #pump(): void {
    if (this.#stopped || this.#crashed || this.#memory.queue.running !== null) return;
    const next = this.#memory.queue.start();
    if (next === undefined) {
      this.#memory.gpu.applyRequested();
      return;
    }
    this.#queueUpdated();
    void this.#runPrompt(next);
  }

  async #runPrompt(job: Pending): Promise<void> {
    const gen = this.#generation;
    const [, promptId, prompt, extraData, outputs] = job.item;
    const clientId = typeof extraData['client_id'] === 'string' ? extraData['client_id'] : null;
    this.#memory.interruptRequested = false;
    this.#memory.executing.clientId = clientId;
    const started = performance.now();
    this.#prompts.started(promptId);
    let outcome: PromptOutcome = 'lost';
    let result: RunResult;
    try {
      result = await executePrompt(this.#runEnv(gen), { promptId, prompt, outputs, clientId, fault: job.fault });
      if (gen === this.#generation && !this.#stopped) outcome = result.status === 'success' ? 'success' : result.interrupted ? 'interrupted' : 'error';
    } catch (e) {
      if (e instanceof ServerGone) return;
      throw e;
    } finally {
      this.#counters.counts.busyMs += performance.now() - started;
      this.#prompts.ended(promptId, outcome);
    }
    if (gen !== this.#generation || this.#stopped) return;
    this.#counters.ran(result);
    this.#finish(job, result, clientId);
  }

  /** What a run may touch; every effect is dropped once the server crashed or stopped under it. */
  #runEnv(gen: number): RunEnv {
    const current = () => gen === this.#generation;
    const { gpu } = this.#memory;
    return {
      defs: this.#defs(), files: this.#files, vram: gpu.vram, cache: gpu.cache,
      stepMs: this.#s.stepMs, modelLoadMs: this.#s.modelLoadMs, previews: this.#preview !== null,
      installedModels: () => this.#installed,
      corruptModels: this.#s.corrupt,
      oomStyle: this.#s.oomStyle,
      send: (event, data, sid) => {
        if (current()) this.#hub.send(event, data, sid);
      },
      sendPreview: (sid) => {
        if (this.#preview !== null && current()) this.#hub.sendBinary(this.#preview, sid);
      },
      setLastNode: (node) => {
        if (current()) this.#memory.executing.node = node;
      },
      takeInterrupt: () => this.#memory.takeInterrupt(),
      wait: (ms) => this.#waker.wait(ms),
      alive: () => !this.#stopped && current(),
      dropSocket: (sid) => this.#hub.drop(sid),
      crash: () => this.#crash(),
      faultFired: (kind) => this.#counters.faultFired(kind),
    };
  }

  /** task_done: the history entry, then `executing {node: null}` to the client, then the next prompt. */
  #finish(job: Pending, result: RunResult, clientId: string | null): void {
    const [number, promptId, prompt, extraData, outputs] = job.item;
    const stored = { ...extraData };
    for (const k of SENSITIVE_EXTRA_DATA_KEYS) delete stored[k];
    this.#memory.history.record(promptId, {
      prompt: [number, promptId, prompt, stored, outputs],
      outputs: result.outputs,
      status: { status_str: result.status, completed: result.status === 'success', messages: result.messages },
      meta: result.meta,
    });
    this.#memory.queue.finish();
    this.#queueUpdated();
    // main.py prompt_worker: sent after task_done wrote the history.
    if (clientId !== null) this.#hub.send('executing', { node: null, prompt_id: promptId }, clientId);
    this.#memory.gpu.applyRequested();
    setImmediate(() => this.#pump());
  }

  /** A dead process: connections cut, the port closed, its memory gone; files stay. */
  #crash(): void {
    if (this.#s.onCrash !== undefined) {
      this.#s.onCrash();
      return;
    }
    this.#crashed = true;
    this.#generation += 1;
    this.#waker.wake();
    this.#hub.terminateAll();
    const closed = closeServer(this.#server, this.#sockets);
    this.#memory.reset();
    const after = this.#s.restartAfterCrashMs;
    if (after !== undefined) {
      this.#restartTimer = setTimeout(() => void closed.then(() => this.restart()).catch(() => undefined), after);
    }
  }
}

/** A small PNG for PREVIEW_IMAGE frames: event 1, image type 2 (PNG), then the bytes. */
async function previewFrame(): Promise<Buffer> {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer();
  const head = Buffer.alloc(8);
  head.writeUInt32BE(1, 0);
  head.writeUInt32BE(2, 4);
  return Buffer.concat([head, png]);
}
