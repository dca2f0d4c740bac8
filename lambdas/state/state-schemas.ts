/** The parts of the machines' state the handlers read, as schemas. */
import { z } from 'zod';
import { inpaintBackendSchema } from '../../core/inpaint-backend.ts';
import { STAGES } from '../../core/strategies.ts';

export const jobContextSchema = z.object({
  resumeAt: z.enum(STAGES),
  inpaint: inpaintBackendSchema,
});

export const jobStateSchema = z.object({
  packId: z.string().min(1),
  jobId: z.string().min(1),
  job: jobContextSchema.optional(),
  lastError: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
}).loose();
export type JobState = z.infer<typeof jobStateSchema>;

export const packStateSchema = z.object({
  packId: z.string().min(1),
  lastError: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
}).loose();
