/**
 * Inpaint parameters: the knobs recovery strategies turn. Bounds are checked once here
 * and shared by the API, the fixer and the strategies.
 */
import { z } from 'zod';

export const PARAM_BOUNDS = {
  width: { min: 512, max: 2048 },
  height: { min: 512, max: 2048 },
  steps: { min: 20, max: 150 },
  batch: { min: 1, max: 8 },
  denoise: { min: 0.1, max: 1 },
  maskExpandPx: { min: 0, max: 128 },
} as const;

const multipleOf8 = (n: number) => n % 8 === 0;

export const inpaintParamsSchema = z.strictObject({
  width: z.int().min(PARAM_BOUNDS.width.min).max(PARAM_BOUNDS.width.max).refine(multipleOf8, 'must be a multiple of 8'),
  height: z.int().min(PARAM_BOUNDS.height.min).max(PARAM_BOUNDS.height.max).refine(multipleOf8, 'must be a multiple of 8'),
  steps: z.int().min(PARAM_BOUNDS.steps.min).max(PARAM_BOUNDS.steps.max),
  batch: z.int().min(PARAM_BOUNDS.batch.min).max(PARAM_BOUNDS.batch.max),
  model: z.string().min(1).max(200).regex(/^[\w.\-/ ]+$/, 'may hold only letters, digits, spaces and . _ - /'),
  seed: z.int().min(0).max(2 ** 32 - 1),
  denoise: z.number().min(PARAM_BOUNDS.denoise.min).max(PARAM_BOUNDS.denoise.max),
  maskExpandPx: z.int().min(PARAM_BOUNDS.maskExpandPx.min).max(PARAM_BOUNDS.maskExpandPx.max),
});
export type InpaintParams = z.infer<typeof inpaintParamsSchema>;

/** Parameters a caller may set; the rest come from the pack or these defaults. */
export const partialParamsSchema = inpaintParamsSchema.partial();
export type PartialParams = z.infer<typeof partialParamsSchema>;

export const DEFAULT_PARAMS: InpaintParams = {
  width: 1024,
  height: 1024,
  steps: 30,
  batch: 2,
  model: 'sdxl-inpaint-1.0.safetensors',
  seed: 42,
  denoise: 0.85,
  maskExpandPx: 16,
};

export function resolveParams(...layers: (PartialParams | undefined)[]): InpaintParams {
  const merged: Record<string, unknown> = { ...DEFAULT_PARAMS };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer ?? {})) if (v !== undefined) merged[k] = v;
  }
  return inpaintParamsSchema.parse(merged);
}
