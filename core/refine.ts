/**
 * Refining a pack: a new pack, linked to its source, that runs chosen jobs of the source
 * again with the same inputs. `successful_only` takes the complete jobs to improve them
 * (a new seed and more steps); `all_completed` also takes the failed ones for a
 * corrective pass (the parameters their recovery ended with, and a new seed).
 */
import { PARAM_BOUNDS, type InpaintParams } from './params.ts';
import type { JobRecord } from './job.ts';

export const REFINE_SCOPES = ['successful_only', 'all_completed'] as const;
export type RefineScope = (typeof REFINE_SCOPES)[number];

/** How much a refinement raises the steps of a finished job. */
export const REFINE_STEPS_FACTOR = 1.25;

/** A different seed, the same for the same input (an LCG step, kept in 32 bits). */
export const nextSeed = (seed: number): number => (Math.imul(seed >>> 0, 1_103_515_245) + 12_345) >>> 0;

/** The jobs of the source pack a refinement takes, in a stable order. */
export function refineSelection<J extends Pick<JobRecord, 'status' | 'jobId'>>(jobs: readonly J[], scope: RefineScope): J[] {
  const wanted = scope === 'successful_only' ? ['complete'] : ['complete', 'failed'];
  return jobs.filter((j) => wanted.includes(j.status)).sort((a, b) => a.jobId.localeCompare(b.jobId));
}

/** The parameters a refined job starts with. */
export function refinedParams(job: Pick<JobRecord, 'status' | 'params'>): InpaintParams {
  const p = job.params;
  if (job.status === 'complete') {
    return { ...p, seed: nextSeed(p.seed), steps: Math.min(PARAM_BOUNDS.steps.max, Math.max(p.steps + 1, Math.round(p.steps * REFINE_STEPS_FACTOR))) };
  }
  // A failed job keeps what recovery learned (reduced sizes, a model that exists) and tries another seed.
  return { ...p, seed: nextSeed(p.seed) };
}

/** The name of a refinement pack, within the name's length limit. */
export function refinedName(sourceName: string, maxLength: number): string {
  const suffix = ' (refined)';
  const base = [...sourceName];
  const room = maxLength - suffix.length;
  return `${base.length > room ? base.slice(0, room).join('') : sourceName}${suffix}`;
}
