/**
 * The HTTP contracts of the simulated providers (see README.md in this folder), as zod
 * schemas: requests the simulators validate and responses a typed client should validate.
 * Images travel as base64-encoded PNG (or any format sharp reads), never as URLs.
 */
import { z } from 'zod';

/** Request bodies above this are refused with 413. */
export const MAX_BODY_BYTES = 20 * 1024 * 1024;

const base64 = z.string().min(1).regex(/^[A-Za-z0-9+/=\s]+$/, 'must be base64');

export const segmentRequestSchema = z.object({
  jobId: z.string().min(1).max(200),
  /** The person image. */
  image: base64,
  /** What to segment, e.g. "upper-body garment"; different prompts give slightly different masks. */
  prompt: z.string().min(1).max(500),
  model: z.string().min(1).max(100).optional(),
});
export type SegmentRequest = z.infer<typeof segmentRequestSchema>;

export const segmentResponseSchema = z.object({
  /** One-channel PNG at the image's size: 255 = garment area, 0 = keep. */
  mask: base64,
  /** 0..1. */
  confidence: z.number().min(0).max(1),
  model: z.string(),
  prompt: z.string(),
});
export type SegmentResponse = z.infer<typeof segmentResponseSchema>;

export const analyzeRequestSchema = z.object({
  jobId: z.string().min(1).max(200),
  original: base64,
  result: base64,
  mask: base64,
});
export type AnalyzeRequest = z.infer<typeof analyzeRequestSchema>;

export const analyzeResponseSchema = z.object({
  verdict: z.enum(['pass', 'fail']),
  /** 0..1, higher is better. */
  score: z.number().min(0).max(1),
  reasons: z.array(z.string()),
});
export type AnalyzeResponse = z.infer<typeof analyzeResponseSchema>;

export const hostedParamsSchema = z.object({
  width: z.int().positive().optional(),
  height: z.int().positive().optional(),
  steps: z.int().positive().optional(),
  batch: z.int().positive().optional(),
  model: z.string().optional(),
  seed: z.int().min(0).optional(),
  denoise: z.number().optional(),
}).loose();

export const inpaintSubmitRequestSchema = z.object({
  jobId: z.string().min(1).max(200),
  image: base64,
  mask: base64,
  garment: base64,
  params: hostedParamsSchema.optional(),
});
export type InpaintSubmitRequest = z.infer<typeof inpaintSubmitRequestSchema>;

export const inpaintSubmitResponseSchema = z.object({
  taskId: z.string().min(1),
  status: z.literal('queued'),
});
export type InpaintSubmitResponse = z.infer<typeof inpaintSubmitResponseSchema>;

export const INPAINT_TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;

export const inpaintTaskSchema = z.object({
  taskId: z.string().min(1),
  status: z.enum(INPAINT_TASK_STATUSES),
  /** 0..1. */
  progress: z.number().min(0).max(1),
  /** Base64 PNG at the input image's size, when succeeded. */
  result: base64.optional(),
  /** Why it failed, when failed. */
  error: z.string().optional(),
});
export type InpaintTask = z.infer<typeof inpaintTaskSchema>;

/** Error bodies of 4xx/5xx JSON answers. */
export const providerErrorSchema = z.object({ error: z.string(), message: z.string() }).loose();
