/**
 * The ComfyUI inpaint workflow (API format) built from InpaintParams, and the reverse
 * reading the simulator uses for its physics.
 *
 * Graph, with core ComfyUI nodes only:
 *   person → ImageScale ─┐
 *   garment → ImageScale ─┴ ImageCompositeMasked (garment pasted through the mask)
 *   → InpaintModelConditioning (+ CLIP prompts, mask) → RepeatLatentBatch(batch)
 *   → KSampler → VAEDecode → SaveImage.
 * The paste gives the sampler the garment's colours and texture inside the mask; `denoise`
 * below 1 keeps that structure while blending it in. Batch size is a RepeatLatentBatch:
 * an inpaint latent comes from encoding the person image, so it has batch 1 and
 * EmptyLatentImage's batch_size does not apply.
 */
import type { Workflow } from './gpu-message.ts';
import type { InpaintParams } from './params.ts';

/** Node ids of the built graph, stable so that tests, the worker and logs can name them. */
export const INPAINT_NODES = {
  checkpoint: '1',
  person: '2',
  garment: '3',
  mask: '4',
  scalePerson: '5',
  scaleGarment: '6',
  paste: '7',
  positive: '8',
  negative: '9',
  conditioning: '10',
  batch: '11',
  sampler: '12',
  decode: '13',
  save: '14',
} as const;

export interface InpaintImages {
  /** LoadImage file names; the worker passes placeholders such as '{{person}}' and substitutes uploads. */
  readonly person: string;
  readonly mask: string;
  readonly garment: string;
}

export interface InpaintWorkflowOptions {
  /** SaveImage's filename_prefix; may hold a subfolder ("vto/job-1"). @default 'vto_inpaint' */
  readonly filenamePrefix?: string;
  readonly positivePrompt?: string;
  readonly negativePrompt?: string;
  /** @default 6.5 */
  readonly cfg?: number;
  /** @default 'dpmpp_2m' */
  readonly samplerName?: string;
  /** @default 'karras' */
  readonly scheduler?: string;
}

const DEFAULT_POSITIVE = 'a person wearing the garment, photorealistic, natural fabric folds, consistent lighting, high detail';
const DEFAULT_NEGATIVE = 'deformed, blurry, extra limbs, bad anatomy, watermark, text, lowres';

const link = (node: string, slot: number): [string, number] => [node, slot];

export function buildInpaintWorkflow(params: InpaintParams, images: InpaintImages, options: InpaintWorkflowOptions = {}): Workflow {
  const n = INPAINT_NODES;
  return {
    [n.checkpoint]: { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: params.model } },
    [n.person]: { class_type: 'LoadImage', inputs: { image: images.person } },
    [n.garment]: { class_type: 'LoadImage', inputs: { image: images.garment } },
    [n.mask]: { class_type: 'LoadImageMask', inputs: { image: images.mask, channel: 'red' } },
    [n.scalePerson]: {
      class_type: 'ImageScale',
      inputs: { image: link(n.person, 0), upscale_method: 'lanczos', width: params.width, height: params.height, crop: 'disabled' },
    },
    [n.scaleGarment]: {
      class_type: 'ImageScale',
      inputs: { image: link(n.garment, 0), upscale_method: 'lanczos', width: params.width, height: params.height, crop: 'disabled' },
    },
    [n.paste]: {
      class_type: 'ImageCompositeMasked',
      inputs: { destination: link(n.scalePerson, 0), source: link(n.scaleGarment, 0), x: 0, y: 0, resize_source: false, mask: link(n.mask, 0) },
    },
    [n.positive]: { class_type: 'CLIPTextEncode', inputs: { text: options.positivePrompt ?? DEFAULT_POSITIVE, clip: link(n.checkpoint, 1) } },
    [n.negative]: { class_type: 'CLIPTextEncode', inputs: { text: options.negativePrompt ?? DEFAULT_NEGATIVE, clip: link(n.checkpoint, 1) } },
    [n.conditioning]: {
      class_type: 'InpaintModelConditioning',
      inputs: {
        positive: link(n.positive, 0), negative: link(n.negative, 0), vae: link(n.checkpoint, 2),
        pixels: link(n.paste, 0), mask: link(n.mask, 0), noise_mask: true,
      },
    },
    [n.batch]: { class_type: 'RepeatLatentBatch', inputs: { samples: link(n.conditioning, 2), amount: params.batch } },
    [n.sampler]: {
      class_type: 'KSampler',
      inputs: {
        model: link(n.checkpoint, 0), seed: params.seed, steps: params.steps, cfg: options.cfg ?? 6.5,
        sampler_name: options.samplerName ?? 'dpmpp_2m', scheduler: options.scheduler ?? 'karras',
        positive: link(n.conditioning, 0), negative: link(n.conditioning, 1), latent_image: link(n.batch, 0), denoise: params.denoise,
      },
    },
    [n.decode]: { class_type: 'VAEDecode', inputs: { samples: link(n.sampler, 0), vae: link(n.checkpoint, 2) } },
    [n.save]: { class_type: 'SaveImage', inputs: { images: link(n.decode, 0), filename_prefix: options.filenamePrefix ?? 'vto_inpaint' } },
  };
}

export interface WorkflowSummary {
  readonly model: string;
  readonly width: number;
  readonly height: number;
  readonly batch: number;
  readonly steps: number;
}

export class WorkflowShapeError extends Error {
  override readonly name = 'WorkflowShapeError';
}

type Node = Workflow[string];

function linkTarget(value: unknown): string | null {
  return Array.isArray(value) && value.length === 2 && (typeof value[0] === 'string' || typeof value[0] === 'number')
    ? String(value[0]) : null;
}

function num(node: Node, input: string): number | null {
  const v = node.inputs[input];
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

/** Follows the first of `inputs` that is a link, from `id`, until `stop` accepts a node. */
function walk(wf: Workflow, id: string | null, inputs: readonly string[], stop: (n: Node) => boolean): Node | null {
  const seen = new Set<string>();
  while (id !== null && !seen.has(id)) {
    seen.add(id);
    const node = wf[id];
    if (node === undefined) return null;
    if (stop(node)) return node;
    id = inputs.map((i) => linkTarget(node.inputs[i])).find((t) => t !== null) ?? null;
  }
  return null;
}

/** Latent inputs, image inputs and model inputs along which summaries walk. */
const LATENT_PATH = ['latent_image', 'samples'] as const;
const PIXEL_PATH = ['pixels', 'destination', 'image', 'images', 'samples'] as const;
const MODEL_PATH = ['model'] as const;

/**
 * What the GPU will be asked to do: the checkpoint, output size, batch and steps of the
 * first KSampler. Reads any graph of core nodes shaped like buildInpaintWorkflow's (also
 * EmptyLatentImage or VAEEncodeForInpaint based ones).
 * @throws WorkflowShapeError when the graph has no KSampler or its sizes cannot be read.
 */
export function workflowSummary(workflow: Workflow): WorkflowSummary {
  const samplerId = Object.keys(workflow).find((id) => workflow[id]?.class_type === 'KSampler');
  const sampler = samplerId === undefined ? undefined : workflow[samplerId];
  if (samplerId === undefined || sampler === undefined) throw new WorkflowShapeError('the workflow has no KSampler');
  const steps = num(sampler, 'steps');
  if (steps === null) throw new WorkflowShapeError(`KSampler ${samplerId} has no numeric steps`);

  let batch = 1;
  let sizeFrom: Node | null = null;
  let id = linkTarget(sampler.inputs['latent_image']);
  const seen = new Set<string>();
  while (id !== null && !seen.has(id)) {
    seen.add(id);
    const node: Node | undefined = workflow[id];
    if (node === undefined) break;
    if (node.class_type === 'RepeatLatentBatch') batch *= num(node, 'amount') ?? 1;
    if (node.class_type === 'EmptyLatentImage') {
      batch *= num(node, 'batch_size') ?? 1;
      sizeFrom = node;
      break;
    }
    const pixels = linkTarget(node.inputs['pixels']);
    if (pixels !== null) {
      sizeFrom = walk(workflow, pixels, PIXEL_PATH, (n) => n.class_type === 'ImageScale' || n.class_type === 'EmptyImage');
      break;
    }
    id = LATENT_PATH.map((i) => linkTarget(node.inputs[i])).find((t) => t !== null) ?? null;
  }
  const width = sizeFrom === null ? null : num(sizeFrom, 'width');
  const height = sizeFrom === null ? null : num(sizeFrom, 'height');
  if (width === null || height === null) throw new WorkflowShapeError(`cannot read the output size upstream of KSampler ${samplerId}`);

  const loader = walk(workflow, linkTarget(sampler.inputs['model']), MODEL_PATH, (n) => typeof n.inputs['ckpt_name'] === 'string');
  const model = loader?.inputs['ckpt_name'];
  if (typeof model !== 'string') throw new WorkflowShapeError(`cannot find the checkpoint loader of KSampler ${samplerId}`);
  return { model, width, height, batch, steps };
}

/**
 * A new worker's warm-up prompt (worker/warmup.ts): loads `model` onto the GPU and samples one
 * small step, so the checkpoint load is paid before the first job rather than by it. Core
 * nodes only, no input images; PreviewImage writes to temp/, which ComfyUI clears.
 */
export function buildWarmupWorkflow(model: string): Workflow {
  return {
    '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: model } },
    '2': { class_type: 'CLIPTextEncode', inputs: { text: 'warm-up', clip: link('1', 1) } },
    '3': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
    '4': {
      class_type: 'KSampler',
      inputs: {
        model: link('1', 0), seed: 0, steps: 1, cfg: 1, sampler_name: 'euler', scheduler: 'normal',
        positive: link('2', 0), negative: link('2', 0), latent_image: link('3', 0), denoise: 1,
      },
    },
    '5': { class_type: 'VAEDecode', inputs: { samples: link('4', 0), vae: link('1', 2) } },
    '6': { class_type: 'PreviewImage', inputs: { images: link('5', 0) } },
  };
}
