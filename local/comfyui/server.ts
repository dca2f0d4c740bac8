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
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import sharp from 'sharp';
import { createFaultInjector, type ComfyFaultKind, type FaultInjector, type FaultProfile } from '../faults.ts';
import { executePrompt, NodeCache, type RunEnv, type RunResult } from './executor.ts';
import { FileStore, FILE_TYPES, parseAnnotated, PathEscapeError, safeSubfolder, type FileType } from './files.ts';
import {
  BodyTooLargeError, closeServer, listen, parseJson, parseMultipart, readBody, sendJson, sendText, trackConnections, Waker,
} from './http.ts';
import { nodeDefs, nodeInfo, type NodeDef } from './node-defs.ts';
import { DEFAULT_INSTALLED_MODELS, DEFAULT_VRAM_MIB, Vram, type OomStyle } from './physics.ts';
import { ServerGone } from './python-errors.ts';
import { validatePrompt, type PromptGraph } from './validate.ts';
import { SERVER_FEATURE_FLAGS, SocketHub } from './ws-hub.ts';

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

/** [number, prompt_id, prompt, extra_data, outputs_to_execute] */
type QueueItem = [number, string, PromptGraph, Record<string, unknown>, string[]];

interface Pending {
  readonly item: QueueItem;
  readonly fault: ComfyFaultKind | null;
}

interface HistoryEntry {
  prompt: QueueItem;
  outputs: RunResult['outputs'];
  status: { status_str: 'success' | 'error'; completed: boolean; messages: RunResult['messages'] };
  meta: RunResult['meta'];
}

const SENSITIVE_EXTRA_DATA_KEYS = ['auth_token_comfy_org', 'api_key_comfy_org'];
const MAX_HISTORY = 10_000;
const MODEL_FOLDERS = [
  'checkpoints', 'configs', 'loras', 'vae', 'text_encoders', 'diffusion_models', 'clip_vision', 'style_models', 'embeddings',
  'diffusers', 'vae_approx', 'controlnet', 'gligen', 'upscale_models', 'custom_nodes', 'hypernetworks', 'photomaker',
  'classifiers', 'model_patches', 'audio_encoders',
];
const INDEX_HTML = '<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><title>ComfyUI</title></head><body><div id="vue-app"></div></body></html>';

const CONTENT_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif' };

/** A worker's warm-up prompt (worker/warmup.ts): extra_data.vto.warmup. */
function isWarmup(extraData: Record<string, unknown>): boolean {
  const vto = extraData['vto'];
  return vto !== null && typeof vto === 'object' && (vto as Record<string, unknown>)['warmup'] === true;
}

/** Which job a prompt belongs to, for fault decisions: extra_data.vto.jobId, else the prompt_id. */
function faultKey(extraData: Record<string, unknown>, promptId: string): string {
  const vto = extraData['vto'];
  const jobId = vto !== null && typeof vto === 'object' ? (vto as Record<string, unknown>)['jobId'] : undefined;
  return typeof jobId === 'string' && jobId !== '' ? jobId : promptId;
}

export async function startComfySim(options: ComfySimOptions = {}): Promise<ComfySim> {
  const host = options.host ?? '127.0.0.1';
  const stepMs = options.stepMs ?? 20;
  const modelLoadMs = options.modelLoadMs ?? stepMs * 10;
  const vramMiB = options.vramMiB ?? DEFAULT_VRAM_MIB;
  const maxBody = options.maxBodyBytes ?? SERVER_FEATURE_FLAGS.max_upload_size;
  const faults = options.faults ?? createFaultInjector(options.profile, options.seed);
  const missingNodeErrorType = options.missingNodeErrorType ?? 'invalid_prompt';
  let installed = [...(options.installedModels ?? DEFAULT_INSTALLED_MODELS)];
  const corrupt = new Set(options.corruptModels ?? []);
  const files = new FileStore();
  const preview = options.previews === true ? await previewFrame() : null;

  // Process memory: lost on a crash.
  let pending: Pending[] = [];
  let running: Pending | null = null;
  let history = new Map<string, HistoryEntry>();
  let counter = 0;
  let interruptFlag = false;
  let lastNodeId: string | null = null;
  let executingClient: string | null = null;
  let cache = options.cache === false ? null : new NodeCache();
  let vram = new Vram(vramMiB);
  let freeFlags: { unload: boolean; free: boolean } = { unload: false, free: false };
  let generation = 0;

  let stopped = false;
  let crashed = false;
  const waker = new Waker();
  const counters = {
    promptsAccepted: 0, promptsRejected: 0, promptsRun: 0, promptsSucceeded: 0, promptsFailed: 0, promptsInterrupted: 0, busyMs: 0, uploads: 0, freeRequests: 0,
  };
  const faultsFired: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const prompts = new PromptLog();

  const defs = (): Readonly<Record<string, NodeDef>> => nodeDefs({ checkpoints: [...installed].sort(), inputFiles: files.inputList() });
  const queueRemaining = () => pending.length + (running === null ? 0 : 1);
  const queueInfo = () => ({ exec_info: { queue_remaining: queueRemaining() } });

  const hub = new SocketHub({
    queueInfo,
    onConnect: (sid) => (executingClient === sid && lastNodeId !== null ? [{ type: 'executing', data: { node: lastNodeId } }] : []),
  });
  const queueUpdated = () => hub.send('status', { status: queueInfo() }, null);

  const bootedAt = performance.now() + (options.bootMs ?? 0);
  const server = createServer((req, res) => {
    if (performance.now() < bootedAt) {
      req.socket.destroy();
      return;
    }
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendText(res, 500, `500 Internal Server Error\n\nServer got itself in trouble: ${String(e)}`);
      else res.destroy();
    });
  });
  const sockets = trackConnections(server);
  hub.attach(server);

  function applyFreeFlags(): void {
    if (freeFlags.unload || freeFlags.free) vram.unloadAll();
    if (freeFlags.free) cache?.clear();
    freeFlags = { unload: false, free: false };
  }

  function sortPending(): void {
    pending.sort((a, b) => a.item[0] - b.item[0] || (a.item[1] < b.item[1] ? -1 : a.item[1] > b.item[1] ? 1 : 0));
  }

  function crash(): void {
    if (options.onCrash !== undefined) {
      options.onCrash();
      return;
    }
    crashed = true;
    generation += 1;
    waker.wake();
    hub.terminateAll();
    void closeServer(server, sockets);
    pending = [];
    running = null;
    history = new Map();
    cache = options.cache === false ? null : new NodeCache();
    vram = new Vram(vramMiB);
    lastNodeId = null;
    executingClient = null;
  }

  function pump(): void {
    if (stopped || crashed || running !== null) return;
    const next = pending.shift();
    if (next === undefined) {
      applyFreeFlags();
      return;
    }
    running = next;
    queueUpdated();
    void runPrompt(next);
  }

  async function runPrompt(job: Pending): Promise<void> {
    const gen = generation;
    const [, promptId, prompt, extraData, outputs] = job.item;
    const clientId = typeof extraData['client_id'] === 'string' ? extraData['client_id'] : null;
    interruptFlag = false;
    executingClient = clientId;
    const started = performance.now();
    prompts.started(promptId);
    let outcome: PromptOutcome = 'lost';
    const env: RunEnv = {
      defs: defs(), files, vram, cache, stepMs, modelLoadMs, previews: preview !== null,
      installedModels: () => installed,
      corruptModels: corrupt,
      oomStyle: options.oomStyle ?? 'cudaMallocAsync',
      send: (event, data, sid) => {
        if (gen === generation) hub.send(event, data, sid);
      },
      sendPreview: (sid) => {
        if (preview !== null && gen === generation) hub.sendBinary(preview, sid);
      },
      setLastNode: (node) => {
        if (gen === generation) lastNodeId = node;
      },
      takeInterrupt: () => {
        const was = interruptFlag;
        interruptFlag = false;
        return was;
      },
      wait: (ms) => waker.wait(ms),
      alive: () => !stopped && gen === generation,
      dropSocket: (sid) => hub.drop(sid),
      crash,
      faultFired: (kind) => {
        faultsFired[kind] = (faultsFired[kind] ?? 0) + 1;
      },
    };
    let result: RunResult;
    try {
      result = await executePrompt(env, { promptId, prompt, outputs, clientId, fault: job.fault });
      if (gen === generation && !stopped) outcome = result.status === 'success' ? 'success' : result.interrupted ? 'interrupted' : 'error';
    } catch (e) {
      if (e instanceof ServerGone) return;
      throw e;
    } finally {
      counters.busyMs += performance.now() - started;
      prompts.ended(promptId, outcome);
    }
    if (gen !== generation || stopped) return;
    counters.promptsRun += 1;
    if (result.status === 'success') counters.promptsSucceeded += 1;
    else if (result.interrupted) counters.promptsInterrupted += 1;
    else counters.promptsFailed += 1;
    if (result.failure !== null && !result.interrupted) errors[result.failure.type] = (errors[result.failure.type] ?? 0) + 1;

    const stored = { ...extraData };
    for (const k of SENSITIVE_EXTRA_DATA_KEYS) delete stored[k];
    if (history.size >= MAX_HISTORY) history.delete(history.keys().next().value!);
    history.set(promptId, {
      prompt: [job.item[0], promptId, prompt, stored, outputs],
      outputs: result.outputs,
      status: { status_str: result.status, completed: result.status === 'success', messages: result.messages },
      meta: result.meta,
    });
    running = null;
    queueUpdated();
    // main.py prompt_worker: sent after task_done wrote the history.
    if (clientId !== null) hub.send('executing', { node: null, prompt_id: promptId }, clientId);
    applyFreeFlags();
    setImmediate(pump);
  }

  async function postPrompt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, maxBody);
    const json = parseJson(body);
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      sendText(res, 500, '500 Internal Server Error\n\nServer got itself in trouble');
      return;
    }
    const data = json as Record<string, unknown>;
    let number: number;
    if ('number' in data) {
      number = Number(data['number']);
    } else {
      number = data['front'] === true ? -counter : counter;
      counter += 1;
    }
    if (!('prompt' in data)) {
      counters.promptsRejected += 1;
      sendJson(res, 400, { error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} });
      return;
    }
    const promptId = data['prompt_id'] === undefined || data['prompt_id'] === null ? randomUUID() : String(data['prompt_id']);
    const extra = data['extra_data'];
    const extraData: Record<string, unknown> = extra !== null && typeof extra === 'object' && !Array.isArray(extra) ? { ...(extra as Record<string, unknown>) } : {};
    if ('client_id' in data) extraData['client_id'] = data['client_id'];

    // A worker's warm-up prompt belongs to no job: the fault profile decides jobs' fates only.
    const fault = isWarmup(extraData) ? null : faults.next('comfyui', faultKey(extraData, promptId));
    if (fault === 'http503') {
      faultsFired['http503'] = (faultsFired['http503'] ?? 0) + 1;
      sendText(res, 503, '503: Service Unavailable');
      return;
    }
    const v = validatePrompt(data['prompt'], { defs: defs(), imageExists: (n) => files.resolveImage(n) !== undefined, missingNodeErrorType });
    if (!v.ok) {
      counters.promptsRejected += 1;
      sendJson(res, 400, { error: v.error, node_errors: v.nodeErrors });
      return;
    }
    counters.promptsAccepted += 1;
    prompts.queued(promptId, extraData);
    pending.push({ item: [number, promptId, data['prompt'] as PromptGraph, extraData, v.outputs], fault });
    sortPending();
    queueUpdated();
    sendJson(res, 200, { prompt_id: promptId, number, node_errors: v.nodeErrors });
    setImmediate(pump);
  }

  async function uploadImage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, maxBody);
    let form: FormData;
    try {
      form = await parseMultipart(body, req.headers['content-type'] ?? '');
    } catch {
      sendText(res, 400, '400: Bad Request');
      return;
    }
    const image = form.get('image');
    if (!(image instanceof File) || image.name === '') {
      sendText(res, 400, '400: Bad Request');
      return;
    }
    const typeField = form.get('type');
    const type: FileType = typeof typeField === 'string' && (FILE_TYPES as readonly string[]).includes(typeField) ? (typeField as FileType) : 'input';
    const subfolderField = form.get('subfolder');
    const subfolder = typeof subfolderField === 'string' ? subfolderField : '';
    const overwrite = form.get('overwrite');
    try {
      const name = files.upload(type, subfolder, image.name, Buffer.from(await image.arrayBuffer()), overwrite === 'true' || overwrite === '1');
      counters.uploads += 1;
      sendJson(res, 200, { name, subfolder, type });
    } catch (e) {
      if (e instanceof PathEscapeError) sendText(res, 400, '400: Bad Request');
      else throw e;
    }
  }

  function view(url: URL, res: ServerResponse): void {
    const raw = url.searchParams.get('filename');
    if (raw === null) {
      sendText(res, 404, '404: Not Found');
      return;
    }
    const { name, type: annotated } = parseAnnotated(raw);
    if (name === '' || name.startsWith('/') || name.includes('..')) {
      sendText(res, 400, '400: Bad Request');
      return;
    }
    const type = annotated ?? url.searchParams.get('type') ?? 'output';
    if (!(FILE_TYPES as readonly string[]).includes(type)) {
      sendText(res, 400, '400: Bad Request');
      return;
    }
    let subfolder: string;
    try {
      subfolder = safeSubfolder(url.searchParams.get('subfolder') ?? '');
    } catch {
      sendText(res, 403, '403: Forbidden');
      return;
    }
    const base = posix.basename(name);
    const file = files.get(type as FileType, subfolder, base);
    if (file === undefined) {
      sendText(res, 404, '404: Not Found');
      return;
    }
    const contentType = CONTENT_TYPES[posix.extname(base).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, { 'content-type': contentType, 'content-length': file.bytes.length, 'content-disposition': `filename="${base}"` });
    res.end(file.bytes);
  }

  function systemStats(): Record<string, unknown> {
    const total = vram.totalMiB * 2 ** 20;
    const used = Math.min(total, vram.usedMiB * 2 ** 20);
    return {
      system: {
        os: 'posix', ram_total: 64 * 2 ** 30, ram_free: 48 * 2 ** 30, comfyui_version: '0.3.64',
        required_frontend_version: '1.27.10', installed_templates_version: '0.1.94', required_templates_version: '0.1.94',
        python_version: '3.12.3 (main, Sep 11 2025, 14:09:23) [GCC 13.3.0]', pytorch_version: '2.8.0+cu128', embedded_python: false,
        argv: ['main.py', '--listen', host, '--port', String(port)],
      },
      devices: [{
        name: 'cuda:0 NVIDIA L4 : cudaMallocAsync', type: 'cuda', index: 0,
        vram_total: total, vram_free: total - used, torch_vram_total: used, torch_vram_free: Math.round(used * 0.05),
      }],
    };
  }

  function getHistory(url: URL): Record<string, HistoryEntry> {
    const maxItems = url.searchParams.has('max_items') ? Number(url.searchParams.get('max_items')) : null;
    let offset = url.searchParams.has('offset') ? Number(url.searchParams.get('offset')) : -1;
    if (offset < 0 && maxItems !== null) offset = history.size - maxItems;
    const out: Record<string, HistoryEntry> = {};
    let i = 0;
    for (const [k, v] of history) {
      if (i >= offset) {
        out[k] = v;
        if (maxItems !== null && Object.keys(out).length >= maxItems) break;
      }
      i += 1;
    }
    return out;
  }

  async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const parsed = parseJson(await readBody(req, maxBody));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.local');
    const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname === '/api' ? '/' : url.pathname;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    try {
      if (get && path === '/') return sendText(res, 200, INDEX_HTML, 'text/html; charset=utf-8', { 'cache-control': 'no-cache' });
      if (get && path === '/ws') return sendText(res, 400, 'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".');
      if (get && path === '/embeddings') return sendJson(res, 200, []);
      if (get && path === '/extensions') return sendJson(res, 200, []);
      if (get && path === '/features') return sendJson(res, 200, SERVER_FEATURE_FLAGS);
      if (get && path === '/models') return sendJson(res, 200, MODEL_FOLDERS);
      if (get && path.startsWith('/models/')) {
        const folder = decodeURIComponent(path.slice('/models/'.length));
        if (!MODEL_FOLDERS.includes(folder)) return sendText(res, 404, '404: Not Found');
        return sendJson(res, 200, folder === 'checkpoints' ? [...installed].sort() : []);
      }
      if (get && path === '/system_stats') return sendJson(res, 200, systemStats());
      if (get && path === '/prompt') return sendJson(res, 200, queueInfo());
      if (get && path === '/object_info') {
        const d = defs();
        return sendJson(res, 200, Object.fromEntries(Object.entries(d).map(([k, def]) => [k, nodeInfo(k, def)])));
      }
      if (get && path.startsWith('/object_info/')) {
        const cls = decodeURIComponent(path.slice('/object_info/'.length));
        const def = defs()[cls];
        return sendJson(res, 200, def === undefined ? {} : { [cls]: nodeInfo(cls, def) });
      }
      if (get && path === '/history') return sendJson(res, 200, getHistory(url));
      if (get && path.startsWith('/history/')) {
        const id = decodeURIComponent(path.slice('/history/'.length));
        const entry = history.get(id);
        return sendJson(res, 200, entry === undefined ? {} : { [id]: entry });
      }
      if (get && path === '/queue') {
        return sendJson(res, 200, { queue_running: running === null ? [] : [running.item], queue_pending: pending.map((p) => p.item) });
      }
      if (get && path === '/view') return view(url, res);
      if (method === 'POST' && path === '/prompt') return await postPrompt(req, res);
      if (method === 'POST' && path === '/upload/image') return await uploadImage(req, res);
      if (method === 'POST' && path === '/queue') {
        const body = await jsonBody(req);
        if (body['clear'] === true) {
          pending = [];
          queueUpdated();
        }
        if (Array.isArray(body['delete'])) {
          for (const id of body['delete']) {
            const i = pending.findIndex((p) => p.item[1] === id);
            if (i >= 0) {
              pending.splice(i, 1);
              queueUpdated();
            }
          }
        }
        return sendText(res, 200, '');
      }
      if (method === 'POST' && path === '/interrupt') {
        const body = await jsonBody(req);
        const target = body['prompt_id'];
        if (typeof target !== 'string' || target === '' || running?.item[1] === target) {
          interruptFlag = true;
          waker.wake();
        }
        return sendText(res, 200, '');
      }
      if (method === 'POST' && path === '/free') {
        const body = await jsonBody(req);
        if (body['unload_models'] === true) freeFlags.unload = true;
        if (body['free_memory'] === true) freeFlags.free = true;
        if (body['unload_models'] === true || body['free_memory'] === true) counters.freeRequests += 1;
        if (running === null) applyFreeFlags();
        return sendText(res, 200, '');
      }
      if (method === 'POST' && path === '/history') {
        const body = await jsonBody(req);
        if (body['clear'] === true) history.clear();
        if (Array.isArray(body['delete'])) for (const id of body['delete']) history.delete(String(id));
        return sendText(res, 200, '');
      }
      const known = ['/', '/prompt', '/queue', '/history', '/interrupt', '/free', '/upload/image', '/view', '/system_stats', '/object_info', '/models'];
      if (known.includes(path)) return sendText(res, 405, '405: Method Not Allowed');
      return sendText(res, 404, '404: Not Found');
    } catch (e) {
      if (e instanceof BodyTooLargeError) {
        return sendText(res, 413, `Maximum request body size ${maxBody} exceeded, actual body size ${req.headers['content-length'] ?? 'unknown'}`);
      }
      throw e;
    }
  }

  const port = await listen(server, options.port ?? 0, host);
  const url = `http://${host}:${port}`;

  return {
    url,
    port,
    faults,
    async stop() {
      if (stopped) return;
      stopped = true;
      generation += 1;
      waker.wake();
      await hub.close();
      await closeServer(server, sockets);
    },
    async restart() {
      if (stopped) throw new Error('the simulator was stopped; start a new one');
      if (!crashed) return;
      await listen(server, port, host);
      crashed = false;
      counter = 0;
      interruptFlag = false;
      freeFlags = { unload: false, free: false };
    },
    stats: () => ({
      ...counters,
      queueRemaining: queueRemaining(),
      running: running?.item[1] ?? null,
      crashed,
      connectedSockets: hub.size,
      faultsFired: { ...faultsFired },
      errors: { ...errors },
    }),
    setFault: (key, kind, calls) => faults.force('comfyui', key, kind, calls),
    setInstalledModels: (models) => {
      installed = [...models];
    },
    promptLog: () => prompts.all(),
  };
}

// ---------------------------------------------------------------------------------------
// Prompt log (read-only, for benchmarks): when each accepted prompt was queued, started and
// ended on the simulated GPU, and for which job attempt (extra_data.vto). Nothing here
// changes how the simulator behaves.

export type PromptOutcome = 'success' | 'error' | 'interrupted' | 'lost';

export interface PromptRecord {
  readonly promptId: string;
  /** extra_data.vto.jobId / attempt as the worker sent them; null when absent. */
  readonly jobId: string | null;
  readonly attempt: number | null;
  /** A worker's warm-up prompt (extra_data.vto.warmup): GPU time spent before any job, not for one. */
  readonly warmup?: boolean;
  /** Epoch milliseconds. */
  readonly queuedAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  /** 'lost': the run ended with the server (crash or stop) and left no history. Null while queued or running. */
  readonly outcome: PromptOutcome | null;
}

class PromptLog {
  readonly #records = new Map<string, { -readonly [K in keyof PromptRecord]: PromptRecord[K] }>();

  queued(promptId: string, extraData: Record<string, unknown>): void {
    const vto = extraData['vto'];
    const tag = vto !== null && typeof vto === 'object' ? (vto as Record<string, unknown>) : {};
    this.#records.set(promptId, {
      promptId,
      jobId: typeof tag['jobId'] === 'string' ? tag['jobId'] : null,
      attempt: typeof tag['attempt'] === 'number' ? tag['attempt'] : null,
      warmup: tag['warmup'] === true,
      queuedAt: Date.now(), startedAt: null, endedAt: null, outcome: null,
    });
  }

  started(promptId: string): void {
    const r = this.#records.get(promptId);
    if (r !== undefined) r.startedAt = Date.now();
  }

  ended(promptId: string, outcome: PromptOutcome): void {
    const r = this.#records.get(promptId);
    if (r !== undefined && r.endedAt === null) {
      r.endedAt = Date.now();
      r.outcome = outcome;
    }
  }

  all(): readonly PromptRecord[] {
    return [...this.#records.values()].map((r) => ({ ...r }));
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
