/**
 * Where a pack's inpaint runs: ComfyUI on the GPU workers, or the hosted inpaint API. The
 * one list, type and schema, for the job and pack records (core/job.ts), the API, the state
 * inputs and the CLI.
 */
import { z } from 'zod';

export const INPAINT_BACKENDS = ['comfyui', 'hosted'] as const;
export type InpaintBackend = (typeof INPAINT_BACKENDS)[number];
export const inpaintBackendSchema = z.enum(INPAINT_BACKENDS);
