/**
 * What the simulated segmentation, analyzer and hosted-inpaint services compute when no
 * transport fault stops them.
 */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { unitHash } from '../faults.ts';
import { compositeMasked, decodeFrame, decodeMaskChannel, encodePng, sampleFrame, scaleFrame } from '../comfyui/pixels.ts';
import { torchOomMessage, vramNeededMiB, activationMiB, modelSizeMiB } from '../comfyui/physics.ts';
import type { AnalyzeRequest, AnalyzeResponse, InpaintSubmitRequest, InpaintTask, SegmentRequest, SegmentResponse } from './api.ts';
import { encodeMaskPng, filledMask, garmentMask } from './masks.ts';
import { ProviderBadRequest } from './serve.ts';

const DEFAULT_SEGMENT_MODEL = 'sam2-hiera-large';

function decodeBase64(field: string, value: string): Buffer {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0) throw new ProviderBadRequest(400, 'invalid_image', `Invalid image file: '${field}' is empty`);
  return bytes;
}

async function imageSize(field: string, bytes: Buffer): Promise<{ width: number; height: number }> {
  try {
    const m = await sharp(bytes, { failOn: 'error' }).metadata();
    return m.autoOrient;
  } catch {
    throw new ProviderBadRequest(400, 'invalid_image', `Invalid image file: could not decode '${field}'`);
  }
}

/** `degenerate`: the 'degenerate' fault, an empty or full mask at low confidence. */
export async function segment(req: SegmentRequest, { degenerate }: { degenerate: boolean }): Promise<SegmentResponse> {
  const image = decodeBase64('image', req.image);
  const { width, height } = await imageSize('image', image);
  const model = req.model ?? DEFAULT_SEGMENT_MODEL;
  const mask = degenerate
    ? filledMask(width, height, unitHash('degenerate', req.jobId, req.prompt) < 0.5 ? 0 : 255)
    : await garmentMask(image, req.prompt, model);
  return {
    mask: (await encodeMaskPng(mask)).toString('base64'),
    confidence: degenerate ? 0.31 : Math.round((0.86 + 0.1 * unitHash('confidence', req.prompt, model)) * 1000) / 1000,
    model,
    prompt: req.prompt,
  };
}

/** Passes unless told to reject, or the result is visibly broken (black, blank). */
export async function analyze(req: AnalyzeRequest, { reject }: { reject: boolean }): Promise<AnalyzeResponse> {
  const result = decodeBase64('result', req.result);
  await imageSize('original', decodeBase64('original', req.original));
  await imageSize('mask', decodeBase64('mask', req.mask));
  await imageSize('result', result);
  const stats = await sharp(result).removeAlpha().stats();
  const mean = stats.channels.reduce((s, c) => s + c.mean, 0) / stats.channels.length;
  const spread = Math.max(...stats.channels.map((c) => c.stdev));
  if (mean < 8) return { verdict: 'fail', score: 0.02, reasons: ['the result is black'] };
  if (spread < 1) return { verdict: 'fail', score: 0.05, reasons: ['the result is a blank, uniform image'] };
  if (reject) {
    return {
      verdict: 'fail',
      score: Math.round((0.25 + 0.2 * unitHash('reject', req.jobId)) * 100) / 100,
      reasons: ['garment texture does not match the reference', 'visible seam along the mask border'],
    };
  }
  return { verdict: 'pass', score: Math.round((0.82 + 0.15 * unitHash('score', req.jobId)) * 100) / 100, reasons: [] };
}

interface Task {
  readonly taskId: string;
  readonly jobId: string;
  readonly createdAt: number;
  readonly durationMs: number;
  readonly error: string | null;
  readonly render: () => Promise<Buffer>;
  result?: Promise<string>;
}

/** The hosted inpaint API's tasks: submitted, then queued → running → succeeded|failed over `durationMs`. */
export class HostedTasks {
  readonly #tasks = new Map<string, Task>();
  readonly #durationMs: number;
  readonly #vramMiB: number;
  counts = { submitted: 0, succeeded: 0, failed: 0 };

  constructor(durationMs: number, vramMiB: number) {
    this.#durationMs = durationMs;
    this.#vramMiB = vramMiB;
  }

  jobOf(taskId: string): string | undefined {
    return this.#tasks.get(taskId)?.jobId;
  }

  async submit(req: InpaintSubmitRequest): Promise<{ taskId: string; status: 'queued' }> {
    const image = decodeBase64('image', req.image);
    const mask = decodeBase64('mask', req.mask);
    const garment = decodeBase64('garment', req.garment);
    const size = await imageSize('image', image);
    await imageSize('mask', mask);
    await imageSize('garment', garment);
    const p = req.params ?? {};
    const width = p.width ?? size.width;
    const height = p.height ?? size.height;
    const batch = p.batch ?? 1;
    const model = p.model ?? 'hosted-inpaint-xl';
    const need = vramNeededMiB({ model, width, height, batch });
    const error = need > this.#vramMiB
      ? `${torchOomMessage('native', { totalMiB: this.#vramMiB, usedMiB: modelSizeMiB(model) + 1024, requestMiB: activationMiB(width, height, batch) })}`
      : null;
    const seed = p.seed ?? 0;
    const task: Task = {
      taskId: randomUUID(), jobId: req.jobId, createdAt: Date.now(), durationMs: this.#durationMs, error,
      render: async () => {
        const person = await decodeFrame(image);
        const g = await scaleFrame(await decodeFrame(garment), person.width, person.height, 'lanczos', 'disabled');
        const m = await decodeMaskChannel(mask, 'red');
        const pasted = await compositeMasked(person, g, { x: 0, y: 0, mask: m, resizeSource: false });
        return encodePng(sampleFrame(person.width, person.height, pasted, m, seed, p.denoise ?? 0.85));
      },
    };
    this.#tasks.set(task.taskId, task);
    this.counts.submitted += 1;
    return { taskId: task.taskId, status: 'queued' };
  }

  /** The task's state now; null when unknown. */
  async poll(taskId: string): Promise<InpaintTask | null> {
    const t = this.#tasks.get(taskId);
    if (t === undefined) return null;
    const elapsed = Date.now() - t.createdAt;
    const queuedFor = t.durationMs * 0.15;
    if (elapsed < queuedFor) return { taskId, status: 'queued', progress: 0 };
    if (elapsed < t.durationMs) {
      return { taskId, status: 'running', progress: Math.min(0.99, Math.round(((elapsed - queuedFor) / (t.durationMs - queuedFor)) * 100) / 100) };
    }
    if (t.error !== null) {
      if (t.result === undefined) {
        t.result = Promise.resolve('');
        this.counts.failed += 1;
      }
      return { taskId, status: 'failed', progress: 1, error: t.error };
    }
    if (t.result === undefined) {
      t.result = t.render().then((b) => b.toString('base64'));
      this.counts.succeeded += 1;
    }
    return { taskId, status: 'succeeded', progress: 1, result: await t.result };
  }
}
