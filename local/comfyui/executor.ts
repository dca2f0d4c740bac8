/**
 * Runs one validated prompt the way ComfyUI's PromptExecutor does: execution_start,
 * execution_cached, then node by node (progress_state, executing, progress per sampler
 * step, executed for nodes with UI output), and execution_success, execution_error or
 * execution_interrupted. Node outputs are real values (pixels, masks, latents), so the
 * saved PNGs show the inpaint; the GPU's limits come from physics.ts and injected faults.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { ComfyFaultKind } from '../faults.ts';
import type { FileStore, FileType, StoredFile } from './files.ts';
import type { NodeDef } from './node-defs.ts';
import { stepFactor, torchOomMessage, OOM_TIPS, type OomStyle, type Vram } from './physics.ts';
import {
  blackFrame, compositeMasked, decodeAlphaMask, decodeFrame, decodeMaskChannel, encodePng, greyOut, sampleFrame, scaleFrame,
  type Frame, type MaskChannel, type Plane,
} from './pixels.ts';
import { INPUT_DIR, InterruptProcessing, PythonException, ServerGone, tracebackFor } from './python-errors.ts';
import type { PromptGraph } from './validate.ts';

interface Model { readonly kind: 'model' | 'clip' | 'vae'; readonly name: string }
interface Conditioning { readonly kind: 'conditioning'; readonly text: string }
interface Latent {
  readonly kind: 'latent';
  readonly width: number;
  readonly height: number;
  readonly batch: number;
  /** Source pixels per batch item (inpaint/img2img), or null for an empty latent. */
  readonly frames: readonly Frame[] | null;
  readonly noiseMask: Plane | null;
  readonly sampled: { readonly seed: number; readonly denoise: number } | null;
}
type Value = Model | Conditioning | Latent | Frame[] | Plane[] | string | number | boolean | null;

export interface UiImage { readonly filename: string; readonly subfolder: string; readonly type: FileType }
type Ui = { images: UiImage[] };

interface NodeResult { readonly outputs: Value[]; readonly ui: Ui | null }

/** Node outputs of earlier prompts by input signature (ComfyUI's CLASSIC cache). */
export class NodeCache {
  #entries = new Map<string, NodeResult>();
  get(sig: string): NodeResult | undefined {
    return this.#entries.get(sig);
  }
  set(sig: string, r: NodeResult): void {
    this.#entries.set(sig, r);
  }
  /** Drops what the current prompt does not use, as clean_unused() does. */
  retain(sigs: ReadonlySet<string>): void {
    for (const k of [...this.#entries.keys()]) if (!sigs.has(k)) this.#entries.delete(k);
  }
  clear(): void {
    this.#entries.clear();
  }
}

export interface RunEnv {
  readonly defs: Readonly<Record<string, NodeDef>>;
  readonly files: FileStore;
  readonly vram: Vram;
  readonly cache: NodeCache | null;
  readonly installedModels: () => readonly string[];
  readonly corruptModels: ReadonlySet<string>;
  readonly stepMs: number;
  readonly modelLoadMs: number;
  readonly oomStyle: OomStyle;
  readonly previews: boolean;
  /** send_sync: to the client when it is set, else to every socket. */
  send(event: string, data: Record<string, unknown>, clientId: string | null): void;
  sendPreview(clientId: string | null): void;
  setLastNode(node: string | null): void;
  /** True once /interrupt asked; reading it in a raise clears it, as ComfyUI does. */
  takeInterrupt(): boolean;
  /** Resolves after ms, or early on interrupt, stop or crash. */
  wait(ms?: number): Promise<void>;
  /** False once the server stopped or crashed. */
  alive(): boolean;
  dropSocket(clientId: string): void;
  crash(): void;
  faultFired(kind: ComfyFaultKind): void;
}

export interface RunRequest {
  readonly promptId: string;
  readonly prompt: PromptGraph;
  readonly outputs: readonly string[];
  readonly clientId: string | null;
  readonly fault: ComfyFaultKind | null;
}

export type Message = [string, Record<string, unknown>];

export interface RunResult {
  readonly status: 'success' | 'error';
  readonly interrupted: boolean;
  readonly messages: Message[];
  readonly outputs: Record<string, Ui>;
  readonly meta: Record<string, Record<string, unknown>>;
  readonly failure: { readonly type: string; readonly nodeType: string } | null;
}

const link = (v: unknown): [string, number] | null =>
  Array.isArray(v) && v.length === 2 ? [String(v[0]), Number(v[1])] : null;

/** The nodes the outputs need, dependencies first, as ExecutionList stages them. */
function executionOrder(prompt: PromptGraph, outputs: readonly string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const inputs = (prompt[id]?.inputs ?? {}) as Record<string, unknown>;
    for (const v of Object.values(inputs)) {
      const l = link(v);
      if (l !== null && prompt[l[0]] !== undefined) visit(l[0]);
    }
    order.push(id);
  };
  for (const o of outputs) visit(o);
  return order;
}

function signatures(prompt: PromptGraph, order: readonly string[], files: FileStore): Map<string, string> {
  const sigs = new Map<string, string>();
  for (const id of order) {
    const node = prompt[id]!;
    const inputs = (node.inputs ?? {}) as Record<string, unknown>;
    const parts: unknown[] = [String(node.class_type)];
    for (const k of Object.keys(inputs).sort()) {
      const l = link(inputs[k]);
      parts.push(k, l === null ? inputs[k] : ['link', sigs.get(l[0]), l[1]]);
    }
    // IS_CHANGED of LoadImage / LoadImageMask: the file's hash.
    if (node.class_type === 'LoadImage' || node.class_type === 'LoadImageMask') {
      parts.push(files.resolveImage(String(inputs['image']))?.sha256 ?? null);
    }
    sigs.set(id, createHash('sha256').update(JSON.stringify(parts)).digest('hex'));
  }
  return sigs;
}

const pointer = () => `0x7f${createHash('md5').update(String(Math.random())).digest('hex').slice(0, 10)}`;

/** The repr ComfyUI prints for a node input in current_inputs (format_value: str() of non-scalars). */
function repr(v: Value): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    const first = v[0];
    if (first === undefined) return 'tensor([])';
    return 'data' in first && first.data.length === first.width * first.height
      ? `tensor([[[0., 0., 0.,  ..., 0., 0., 0.],\n         ...]]) shape=(${v.length}, ${first.height}, ${first.width})`
      : `tensor([[[[0.5020, 0.4980, 0.4941],\n          ...]]]) shape=(${v.length}, ${first.height}, ${first.width}, 3)`;
  }
  switch (v.kind) {
    case 'model': return `<comfy.model_patcher.ModelPatcher object at ${pointer()}>`;
    case 'clip': return `<comfy.sd.CLIP object at ${pointer()}>`;
    case 'vae': return `<comfy.sd.VAE object at ${pointer()}>`;
    case 'conditioning': return "[[tensor([[[-0.3885,  0.0229, -0.0523,  ..., -0.4901, -0.3066,  0.0674]]], device='cuda:0'), {'pooled_output': tensor([[...]], device='cuda:0')}]]";
    case 'latent': return `{'samples': tensor(shape=(${v.batch}, 4, ${v.height >> 3}, ${v.width >> 3}))${v.noiseMask === null ? '' : ", 'noise_mask': tensor(...)"}}`;
  }
}

class Run {
  readonly #env: RunEnv;
  readonly #req: RunRequest;
  readonly messages: Message[] = [];
  readonly #progress = new Map<string, { value: number; max: number; state: string }>();

  constructor(env: RunEnv, req: RunRequest) {
    this.#env = env;
    this.#req = req;
  }

  /** PromptExecutor.add_message(broadcast=False): recorded for /history, sent only to the prompt's client. */
  message(event: string, data: Record<string, unknown>): void {
    const full = this.#record(event, data);
    if (this.#req.clientId !== null) this.#env.send(event, full, this.#req.clientId);
  }

  /** add_message(broadcast=True): recorded, sent to the prompt's client, or to every socket when it has none. */
  broadcastMessage(event: string, data: Record<string, unknown>): void {
    this.#env.send(event, this.#record(event, data), this.#req.clientId);
  }

  #record(event: string, data: Record<string, unknown>): Record<string, unknown> {
    const full = { ...data, timestamp: Date.now() };
    this.messages.push([event, full]);
    return full;
  }

  /** send_sync(event, data, client_id): routed to the client, or broadcast when the prompt has none. */
  send(event: string, data: Record<string, unknown>): void {
    this.#env.send(event, data, this.#req.clientId);
  }

  /** Like send, but only when the prompt has a client (executing, executed). */
  sendToClient(event: string, data: Record<string, unknown>): void {
    if (this.#req.clientId !== null) this.#env.send(event, data, this.#req.clientId);
  }

  progressState(node: string, value: number, max: number, state: string): void {
    this.#progress.set(node, { value, max, state });
    const nodes: Record<string, unknown> = {};
    for (const [id, s] of this.#progress) {
      nodes[id] = { ...s, node_id: id, prompt_id: this.#req.promptId, display_node_id: id, parent_node_id: null, real_node_id: id };
    }
    this.send('progress_state', { prompt_id: this.#req.promptId, nodes });
  }

  checkAlive(): void {
    if (!this.#env.alive()) throw new ServerGone('the server stopped');
  }

  /** The progress hook: raises a pending interrupt, then reports the step. */
  step(node: string, value: number, max: number): void {
    this.checkAlive();
    if (this.#env.takeInterrupt()) throw new InterruptProcessing('Processing interrupted');
    this.progressState(node, value, max, 'running');
    this.send('progress', { value, max, prompt_id: this.#req.promptId, node });
    if (this.#env.previews) this.#env.sendPreview(this.#req.clientId);
  }

  /** Whether a fault fired since the last call of takeFaulted(). */
  #faulted = false;

  fault(kind: ComfyFaultKind): boolean {
    if (this.#req.fault !== kind) return false;
    this.#env.faultFired(kind);
    this.#faulted = true;
    return true;
  }

  takeFaulted(): boolean {
    const was = this.#faulted;
    this.#faulted = false;
    return was;
  }

  get env(): RunEnv {
    return this.#env;
  }

  get req(): RunRequest {
    return this.#req;
  }
}

type Inputs = Record<string, Value>;
type Evaluate = (run: Run, inputs: Inputs, id: string) => Promise<NodeResult>;

const num = (v: Value | undefined, fallback = 0): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : fallback);
const frames = (v: Value | undefined): Frame[] => (Array.isArray(v) ? (v as Frame[]) : []);
const planes = (v: Value | undefined): Plane[] => (Array.isArray(v) ? (v as Plane[]) : []);
const asLatent = (v: Value | undefined): Latent => {
  if (v !== undefined && v !== null && typeof v === 'object' && !Array.isArray(v) && v.kind === 'latent') return v;
  throw new PythonException('TypeError', "'NoneType' object is not subscriptable", tracebackFor('KSampler'));
};
const out = (...outputs: Value[]): NodeResult => ({ outputs, ui: null });

async function loadImageFile(classType: string, name: string, files: FileStore): Promise<StoredFile> {
  const file = files.resolveImage(name);
  if (file === undefined) {
    throw new PythonException('FileNotFoundError', `[Errno 2] No such file or directory: '${posix.join(INPUT_DIR, name)}'`, tracebackFor(classType));
  }
  return file;
}

async function decodeOrRaise<T>(classType: string, name: string, decode: () => Promise<T>): Promise<T> {
  try {
    return await decode();
  } catch {
    throw new PythonException('PIL.UnidentifiedImageError', `cannot identify image file '${posix.join(INPUT_DIR, name)}'`, tracebackFor(classType));
  }
}

interface SaveOptions {
  readonly prefix: string;
  readonly type: FileType;
  /** The truncatedOutput fault: each file keeps only the first half of its bytes. */
  readonly truncate?: boolean;
}

async function saveImages(run: Run, images: Frame[], { prefix, type, truncate = false }: SaveOptions): Promise<NodeResult> {
  const files = run.env.files;
  const dir = posix.dirname(prefix);
  const subfolder = dir === '.' ? '' : dir;
  const base = posix.basename(prefix);
  let counter = files.nextCounter(type, subfolder, base);
  const ui: UiImage[] = [];
  for (const f of images) {
    const filename = `${base}_${String(counter).padStart(5, '0')}_.png`;
    const png = await encodePng(f);
    // A write cut short (a full page cache flushed late, a network volume hiccup): the file
    // exists and ComfyUI reports success, but its bytes stop halfway.
    files.put(type, subfolder, filename, truncate ? png.subarray(0, Math.floor(png.length / 2)) : png);
    ui.push({ filename, subfolder, type });
    counter += 1;
  }
  return { outputs: [], ui: { images: ui } };
}

const EVALUATORS: Record<string, Evaluate> = {
  async CheckpointLoaderSimple(run, inputs) {
    const name = String(inputs['ckpt_name']);
    const { env } = run;
    if (!env.installedModels().includes(name)) {
      throw new PythonException('FileNotFoundError', `Model in folder 'checkpoints' with filename '${name}' not found.`, tracebackFor('CheckpointLoaderSimple'));
    }
    if (env.corruptModels.has(name)) {
      throw new PythonException('safetensors_rust.SafetensorError', 'Error while deserializing header: HeaderTooLarge', tracebackFor('CheckpointLoaderSimple', 'corrupt'));
    }
    if (!env.vram.isLoaded(name)) {
      await env.wait(env.modelLoadMs);
      run.checkAlive();
      env.vram.load(name);
    }
    return out({ kind: 'model', name }, { kind: 'clip', name }, { kind: 'vae', name });
  },

  async LoadImage(run, inputs) {
    const name = String(inputs['image']);
    const file = await loadImageFile('LoadImage', name, run.env.files);
    const [image, mask] = await decodeOrRaise('LoadImage', name, () => Promise.all([decodeFrame(file.bytes), decodeAlphaMask(file.bytes)]));
    return out([image], [mask]);
  },

  async LoadImageMask(run, inputs) {
    const name = String(inputs['image']);
    const file = await loadImageFile('LoadImageMask', name, run.env.files);
    const mask = await decodeOrRaise('LoadImageMask', name, () => decodeMaskChannel(file.bytes, String(inputs['channel']) as MaskChannel));
    return out([mask]);
  },

  async ImageScale(_run, inputs) {
    const scaled = await Promise.all(frames(inputs['image']).map((f) =>
      scaleFrame(f, num(inputs['width']), num(inputs['height']), String(inputs['upscale_method']), String(inputs['crop']))));
    return out(scaled);
  },

  async ImageInvert(_run, inputs) {
    // ComfyUI works in float32 (v / 255, 1 - x) and SaveImage truncates (astype uint8): 200 → 54, not 55.
    const invert = (v: number) => Math.min(255, Math.max(0, Math.floor(Math.fround(255 * Math.fround(1 - Math.fround(v / 255))))));
    return out(frames(inputs['image']).map((f) => ({ ...f, data: f.data.map(invert) })));
  },

  async ExpSlowProgress(run, inputs, id) {
    const steps = Math.max(1, num(inputs['steps'], 5));
    for (let i = 1; i <= steps; i++) {
      // throw_exception_if_processing_interrupted(), time.sleep(delay), pbar.update(1)
      run.checkAlive();
      if (run.env.takeInterrupt()) throw new InterruptProcessing('Processing interrupted');
      await run.env.wait(num(inputs['delay'], 0.2) * 1000);
      run.step(id, i, steps);
    }
    return out(frames(inputs['image']));
  },

  async ImageCompositeMasked(_run, inputs) {
    const dest = frames(inputs['destination']);
    const src = frames(inputs['source']);
    const masks = inputs['mask'] === undefined ? [] : planes(inputs['mask']);
    const result = await Promise.all(dest.map((d, i) =>
      compositeMasked(d, src[i % src.length]!, {
        x: num(inputs['x']), y: num(inputs['y']), mask: masks.length === 0 ? null : masks[i % masks.length]!, resizeSource: inputs['resize_source'] === true,
      })));
    return out(result);
  },

  async CLIPTextEncode(_run, inputs) {
    return out({ kind: 'conditioning', text: String(inputs['text']) });
  },

  async InpaintModelConditioning(_run, inputs) {
    const pixels = frames(inputs['pixels']);
    const first = pixels[0]!;
    const mask = planes(inputs['mask'])[0] ?? null;
    const latent: Latent = {
      kind: 'latent', width: first.width, height: first.height, batch: pixels.length,
      frames: pixels, noiseMask: inputs['noise_mask'] === false ? null : mask, sampled: null,
    };
    return out(inputs['positive'] ?? null, inputs['negative'] ?? null, latent);
  },

  async VAEEncodeForInpaint(_run, inputs) {
    const mask = planes(inputs['mask'])[0]!;
    const pixels = frames(inputs['pixels']).map((f) => greyOut(f, mask));
    const first = pixels[0]!;
    return out({ kind: 'latent', width: first.width, height: first.height, batch: pixels.length, frames: pixels, noiseMask: mask, sampled: null });
  },

  async VAEEncode(_run, inputs) {
    const pixels = frames(inputs['pixels']);
    const first = pixels[0]!;
    return out({ kind: 'latent', width: first.width, height: first.height, batch: pixels.length, frames: pixels, noiseMask: null, sampled: null });
  },

  async SetLatentNoiseMask(_run, inputs) {
    return out({ ...asLatent(inputs['samples']), noiseMask: planes(inputs['mask'])[0] ?? null });
  },

  async EmptyLatentImage(_run, inputs) {
    return out({ kind: 'latent', width: num(inputs['width']), height: num(inputs['height']), batch: num(inputs['batch_size'], 1), frames: null, noiseMask: null, sampled: null });
  },

  async RepeatLatentBatch(_run, inputs) {
    const l = asLatent(inputs['samples']);
    const amount = num(inputs['amount'], 1);
    const repeated = l.frames === null ? null : Array.from({ length: l.batch * amount }, (_, i) => l.frames![i % l.frames!.length]!);
    return out({ ...l, batch: l.batch * amount, frames: repeated });
  },

  async KSampler(run, inputs, id) {
    const { env } = run;
    const latent = asLatent(inputs['latent_image']);
    const model = inputs['model'] as Model;
    const steps = Math.max(1, num(inputs['steps'], 20));
    const { ok, requestMiB } = env.vram.reserve(model.name, latent.width, latent.height, latent.batch);
    if (!ok) {
      const message = torchOomMessage(env.oomStyle, { totalMiB: env.vram.totalMiB, usedMiB: env.vram.usedMiB, requestMiB });
      throw new PythonException('torch.OutOfMemoryError', `${message}\n${OOM_TIPS}`, tracebackFor('KSampler'), { oom: true });
    }
    try {
      const stepMs = env.stepMs * stepFactor(latent.width, latent.height, latent.batch);
      const midway = Math.ceil(steps / 2);
      for (let i = 1; i <= steps; i++) {
        await env.wait(stepMs);
        run.step(id, i, steps);
        if (i === 1 && run.fault('hang')) {
          // Stuck in a CUDA kernel: nothing more until someone interrupts.
          for (;;) {
            run.checkAlive();
            if (env.takeInterrupt()) throw new InterruptProcessing('Processing interrupted');
            await env.wait();
          }
        }
        if (i === midway && run.fault('wsDrop') && run.req.clientId !== null) env.dropSocket(run.req.clientId);
        if (i === midway && run.fault('crash')) {
          env.crash();
          run.checkAlive();
        }
      }
    } finally {
      env.vram.release();
    }
    return out({ ...latent, sampled: { seed: num(inputs['seed']), denoise: num(inputs['denoise'], 1) } });
  },

  async VAEDecode(run, inputs) {
    const l = asLatent(inputs['samples']);
    await run.env.wait(run.env.stepMs * stepFactor(l.width, l.height, l.batch));
    run.checkAlive();
    if (run.fault('blackOutput')) return out(Array.from({ length: l.batch }, () => blackFrame(l.width, l.height)));
    const images = Array.from({ length: l.batch }, (_, b) => {
      const source = l.frames === null ? null : l.frames[b % l.frames.length]!;
      if (l.sampled === null) return source ?? blackFrame(l.width, l.height);
      return sampleFrame(l.width, l.height, source, l.noiseMask, (l.sampled.seed + b) >>> 0, l.sampled.denoise);
    });
    return out(images);
  },

  async SaveImage(run, inputs) {
    if (run.fault('diskFull')) throw new PythonException('OSError', '[Errno 28] No space left on device', tracebackFor('SaveImage'));
    return saveImages(run, frames(inputs['images']), { prefix: String(inputs['filename_prefix'] ?? 'ComfyUI'), type: 'output', truncate: run.fault('truncatedOutput') });
  },

  async PreviewImage(run, inputs) {
    const suffix = Array.from({ length: 5 }, () => 'abcdefghijklmnopqrstupvxyz'[Math.floor(Math.random() * 26)]).join('');
    return saveImages(run, frames(inputs['images']), { prefix: `ComfyUI_temp_${suffix}`, type: 'temp' });
  },
};

function resolveInputs(node: PromptGraph[string], def: NodeDef, values: ReadonlyMap<string, Value[]>): Inputs {
  const raw = (node.inputs ?? {}) as Record<string, unknown>;
  const inputs: Inputs = {};
  for (const [k, v] of Object.entries(raw)) {
    const l = link(v);
    if (l !== null) {
      inputs[k] = values.get(l[0])?.[l[1]] ?? null;
      continue;
    }
    const spec = def.required[k] ?? def.optional?.[k];
    const type = spec?.[0];
    const unwrapped = v !== null && typeof v === 'object' && '__value__' in v ? (v as { __value__: unknown }).__value__ : v;
    if (type === 'INT') inputs[k] = Math.trunc(Number(unwrapped));
    else if (type === 'FLOAT') inputs[k] = Number(unwrapped);
    else if (type === 'BOOLEAN') inputs[k] = Boolean(unwrapped) && unwrapped !== 'false';
    else inputs[k] = typeof unwrapped === 'string' || typeof unwrapped === 'number' || typeof unwrapped === 'boolean' ? unwrapped : String(unwrapped);
  }
  return inputs;
}

/** What the executed nodes produced so far: outputs for later nodes, UI for /history, and which outputs a fault shaped. */
class Outputs {
  readonly values = new Map<string, Value[]>();
  readonly ui: Record<string, Ui> = {};
  readonly meta: Record<string, Record<string, unknown>> = {};
  readonly executed: string[] = [];
  /**
   * Outputs shaped by an injected fault, and everything downstream, stay out of the cache:
   * a profile's finite fault must not come back from the cache on the retry.
   */
  readonly tainted = new Set<string>();

  set(id: string, result: NodeResult): void {
    this.values.set(id, result.outputs);
    if (result.ui === null) return;
    this.ui[id] = result.ui;
    this.meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
  }

  hasTaintedInput(node: PromptGraph[string]): boolean {
    return Object.values((node.inputs ?? {}) as Record<string, unknown>).some((v) => {
      const l = link(v);
      return l !== null && this.tainted.has(l[0]);
    });
  }
}

type NodeFailure = { readonly failure: NonNullable<RunResult['failure']>; readonly interrupted: boolean };

/** Runs one node that is not cached; the failure that ends the prompt, or null. */
async function runNode(run: Run, out: Outputs, id: string, sig: string, currentOutputs: readonly string[]): Promise<NodeFailure | null> {
  const { env, req } = run;
  const node = req.prompt[id]!;
  const classType = String(node.class_type);
  run.progressState(id, 0, 1, 'running');
  const inputs = resolveInputs(node, env.defs[classType]!, out.values);
  if (req.clientId !== null) env.setLastNode(id);
  run.sendToClient('executing', { node: id, display_node: id, prompt_id: req.promptId });
  try {
    if (env.takeInterrupt()) throw new InterruptProcessing('Processing interrupted');
    const evaluate = EVALUATORS[classType];
    if (evaluate === undefined) throw new PythonException('NotImplementedError', `the simulator cannot run ${classType}`, tracebackFor(classType));
    const result = await evaluate(run, inputs, id);
    run.checkAlive();
    out.set(id, result);
    if (result.ui !== null) run.sendToClient('executed', { node: id, display_node: id, output: result.ui, prompt_id: req.promptId });
    if (run.takeFaulted() || out.hasTaintedInput(node)) out.tainted.add(id);
    else env.cache?.set(sig, result);
    run.progressState(id, 1, 1, 'finished');
    out.executed.push(id);
    return null;
  } catch (e) {
    if (e instanceof ServerGone) throw e;
    const base = { prompt_id: req.promptId, node_id: id, node_type: classType, executed: [...out.executed] };
    if (e instanceof InterruptProcessing) {
      run.broadcastMessage('execution_interrupted', base);
      return { failure: { type: 'InterruptProcessingException', nodeType: classType }, interrupted: true };
    }
    const ex = e instanceof PythonException ? e : new PythonException('RuntimeError', e instanceof Error ? e.message : String(e), tracebackFor(classType));
    // "Got an OOM, unloading all loaded models."
    if (ex.isOom) env.vram.unloadAll();
    const currentInputs: Record<string, unknown[]> = {};
    for (const [k, v] of Object.entries(inputs)) currentInputs[k] = [repr(v)];
    run.message('execution_error', {
      ...base,
      exception_message: ex.isOom || ex.message.endsWith('\n') ? ex.message : `${ex.message}\n`,
      exception_type: ex.pyType, traceback: ex.traceback, current_inputs: currentInputs, current_outputs: currentOutputs,
    });
    return { failure: { type: ex.pyType, nodeType: classType }, interrupted: false };
  }
}

/**
 * Executes a prompt; resolves with what /history records. Throws ServerGone when the server
 * stops or crashes underneath it (then nothing is recorded, as in a dead process).
 */
export async function executePrompt(env: RunEnv, req: RunRequest): Promise<RunResult> {
  const run = new Run(env, req);
  const { promptId, prompt } = req;
  run.message('execution_start', { prompt_id: promptId });

  const order = executionOrder(prompt, req.outputs);
  const sigs = signatures(prompt, order, env.files);
  env.cache?.retain(new Set(sigs.values()));
  const cachedIds = new Set(order.filter((id) => env.cache?.get(sigs.get(id)!) !== undefined));
  run.message('execution_cached', { nodes: Object.keys(prompt).filter((id) => cachedIds.has(id)), prompt_id: promptId });

  const out = new Outputs();
  const currentOutputs = [...cachedIds];
  let end: NodeFailure | null = null;
  for (const id of order) {
    run.checkAlive();
    const sig = sigs.get(id)!;
    const cached = cachedIds.has(id) ? env.cache?.get(sig) : undefined;
    if (cached === undefined) {
      end = await runNode(run, out, id, sig, currentOutputs);
      if (end !== null) break;
      continue;
    }
    out.set(id, cached);
    run.sendToClient('executed', { node: id, display_node: id, output: cached.ui, prompt_id: promptId });
    run.progressState(id, 1, 1, 'finished');
  }
  if (end === null) run.message('execution_success', { prompt_id: promptId });
  env.setLastNode(null);
  return {
    status: end === null ? 'success' : 'error', interrupted: end?.interrupted ?? false,
    messages: run.messages, outputs: out.ui, meta: out.meta, failure: end?.failure ?? null,
  };
}
