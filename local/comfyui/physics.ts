/**
 * The simulated GPU: what a run needs in VRAM and how long its steps take, and the texts
 * PyTorch and ComfyUI produce when memory runs out.
 *
 * VRAM needed = checkpoint size + runtime overhead + MIB_PER_PIXEL × width × height × batch.
 * With the defaults on a 24 GiB card: DEFAULT_PARAMS (1024², batch 2, SDXL) needs about
 * 13 GiB and fits; 1536², batch 4 needs about 31 GiB and runs out; one REDUCE_PARAMS step
 * (1232², batch 2) needs about 15 GiB and fits again.
 */
import { DEFAULT_PARAMS } from '../../core/params.ts';

/** Checkpoints installed by default: the default model and two fallbacks. */
export const DEFAULT_INSTALLED_MODELS: readonly string[] = [
  DEFAULT_PARAMS.model,
  'realvisxl-v4-inpaint.safetensors',
  'sd-1.5-inpainting.safetensors',
];

export const DEFAULT_VRAM_MIB = 24_576;

/**
 * A new GPU host's cold start, in pipeline seconds (the offline stack multiplies them by
 * --time-scale). Assumptions standing for a g5.xlarge (A10G, 24 GiB) behind ECS on EC2:
 * - hostBootSeconds 120: instance launch and ECS agent registration (~45–60 s for a GPU
 *   AMI), the worker image pull (~30–40 s for a ~5 GB ComfyUI + CUDA image) and ComfyUI's
 *   start (~15–20 s importing custom nodes). AWS's guidance for asynchronous inference on
 *   EKS quotes "new nodes within 2 minutes" (Karpenter); the figure is that one.
 * - modelLoadSeconds 30: an SDXL inpaint checkpoint (~6.6 GiB) read from the host's disk and
 *   moved to the GPU; ComfyUI logs 20–40 s for it on gp3 EBS (the low end on instance NVMe).
 * Model load is paid by the worker's warm-up prompt (worker/warmup.ts), not by a job.
 */
export const COLD_START = { hostBootSeconds: 120, modelLoadSeconds: 30 } as const;

/**
 * Job parameters that meet the physics-driven failures, for the demo pack and benchmarks
 * (the fault profiles inject everything else).
 */
export const PHYSICS_FAULT_PARAMS = {
  /** Needs ~31 GiB on the default 24 GiB card; one REDUCE_PARAMS step (1232², batch 2) fits. */
  outOfMemory: { width: 1536, height: 1536, batch: 4 },
  /** Not installed: /prompt answers 400 value_not_in_list; SWITCH_MODEL to an installed one cures it. */
  modelMissing: { model: 'sdxl-inpaint-0.9-retired.safetensors' },
} as const;
/** CUDA context, CLIP and VAE working memory beside the checkpoint. */
export const OVERHEAD_MIB = 1_024;
/** Activations per output pixel per batch item while sampling (SDXL attention at high resolution). */
export const MIB_PER_PIXEL = 0.0025;

/** VRAM a checkpoint takes once loaded: SDXL-class files ~6.6 GiB, SD 1.5-class ~2 GiB. */
export function modelSizeMiB(ckptName: string): number {
  return /xl|sd3|flux/i.test(ckptName) ? 6_800 : 2_100;
}

export function activationMiB(width: number, height: number, batch: number): number {
  return MIB_PER_PIXEL * width * height * batch;
}

export function vramNeededMiB(job: { model: string; width: number; height: number; batch: number }): number {
  return modelSizeMiB(job.model) + OVERHEAD_MIB + activationMiB(job.width, job.height, job.batch);
}

/**
 * Cost of one sampler step relative to one 1024×1024 image, so `stepMs` reads as
 * "milliseconds per step at 1024², batch 1" and a benchmark can model GPU seconds.
 */
export function stepFactor(width: number, height: number, batch: number): number {
  return Math.max(0.05, (width * height * batch) / (1024 * 1024));
}

export type OomStyle = 'cudaMallocAsync' | 'native';

/** ComfyUI's text appended to an OOM (execution.py). */
export const OOM_TIPS = 'This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.';

const gib = (mib: number) => `${(mib / 1024).toFixed(2)} GiB`;

/**
 * The PyTorch message of the OutOfMemoryError. ComfyUI enables cudaMallocAsync by default,
 * whose message is just "Allocation on device " (sic, trailing space); the native
 * allocator's is the long "CUDA out of memory. Tried to allocate ..." text.
 */
export function torchOomMessage(style: OomStyle, state: { totalMiB: number; usedMiB: number; requestMiB: number }): string {
  if (style === 'cudaMallocAsync') return 'Allocation on device ';
  const free = Math.max(0, state.totalMiB - state.usedMiB);
  return `CUDA out of memory. Tried to allocate ${gib(state.requestMiB)}. GPU 0 has a total capacity of ${gib(state.totalMiB)} of which ${gib(free)} is free. ` +
    `Including non-PyTorch memory, this process has ${gib(state.usedMiB)} memory in use. Of the allocated memory ${gib(state.usedMiB * 0.94)} is allocated by PyTorch, ` +
    `and ${gib(state.usedMiB * 0.05)} is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting ` +
    'PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  ' +
    '(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)';
}

/** What the card holds between runs: ComfyUI keeps models loaded until memory is needed. */
export class Vram {
  readonly totalMiB: number;
  #loaded = new Map<string, number>();
  #activeMiB = 0;

  constructor(totalMiB: number) {
    this.totalMiB = totalMiB;
  }

  get usedMiB(): number {
    let sum = this.#activeMiB;
    for (const v of this.#loaded.values()) sum += v;
    return sum;
  }

  isLoaded(model: string): boolean {
    return this.#loaded.has(model);
  }

  /** Loads a checkpoint, unloading others first when they would not fit beside it. */
  load(model: string): void {
    if (this.#loaded.has(model)) return;
    const size = modelSizeMiB(model);
    if (this.usedMiB + size + OVERHEAD_MIB > this.totalMiB) this.#loaded.clear();
    this.#loaded.set(model, size);
  }

  /** Reserves activations for a sampling run; false when the card cannot hold them. */
  reserve(model: string, width: number, height: number, batch: number): { ok: boolean; requestMiB: number } {
    const requestMiB = activationMiB(width, height, batch);
    // Before sampling ComfyUI frees every model it does not need for this run.
    for (const m of [...this.#loaded.keys()]) if (m !== model) this.#loaded.delete(m);
    if (!this.#loaded.has(model)) this.#loaded.set(model, modelSizeMiB(model));
    const ok = modelSizeMiB(model) + OVERHEAD_MIB + requestMiB <= this.totalMiB;
    if (ok) this.#activeMiB = requestMiB;
    return { ok, requestMiB };
  }

  release(): void {
    this.#activeMiB = 0;
  }

  unloadAll(): void {
    this.#loaded.clear();
    this.#activeMiB = 0;
  }
}
