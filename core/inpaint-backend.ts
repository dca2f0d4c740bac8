/**
 * Where a pack's inpaint runs: ComfyUI on the GPU workers, or the hosted inpaint API. The
 * one runtime list and schema of `InpaintBackend` (core/job.ts), for the API, the state
 * inputs and the CLI.
 */
import { z } from 'zod';
import type { InpaintBackend } from './job.ts';

export const INPAINT_BACKENDS = ['comfyui', 'hosted'] as const satisfies readonly InpaintBackend[];
// Both ways: a backend added to the type and not here fails to compile.
type Missing = Exclude<InpaintBackend, (typeof INPAINT_BACKENDS)[number]>;
const complete: [Missing] extends [never] ? true : never = true;
void complete;

export const inpaintBackendSchema = z.enum(INPAINT_BACKENDS);
