/**
 * Recovery strategies as pure functions. The strategy states of the job machine call
 * these through thin handlers; the benchmark and the tests call them directly.
 */
import { PARAM_BOUNDS, type InpaintParams } from './params.ts';
import type { RetryPolicy } from './taxonomy.ts';

const round8 = (n: number) => Math.round(n / 8) * 8;

/**
 * REDUCE_PARAMS: batch ÷2 (min 1); width and height ×0.8 (min 512); steps ×0.8 (min 20).
 * Returns null when every knob is already at its minimum, so nothing would change.
 */
export function reduceParams(p: InpaintParams): InpaintParams | null {
  const next: InpaintParams = {
    ...p,
    batch: Math.max(PARAM_BOUNDS.batch.min, Math.floor(p.batch / 2)),
    width: Math.max(PARAM_BOUNDS.width.min, round8(p.width * 0.8)),
    height: Math.max(PARAM_BOUNDS.height.min, round8(p.height * 0.8)),
    steps: Math.max(PARAM_BOUNDS.steps.min, Math.round(p.steps * 0.8)),
  };
  const changed = next.batch !== p.batch || next.width !== p.width || next.height !== p.height || next.steps !== p.steps;
  return changed ? next : null;
}

/**
 * SWITCH_MODEL: the next model along the fallback chain that has not been tried yet.
 * The current model counts as tried. Returns null when the chain is spent.
 */
export function switchModel(current: string, chain: readonly string[], tried: readonly string[] = []): string | null {
  const seen = new Set([current, ...tried]);
  const start = chain.indexOf(current);
  const ordered = start >= 0 ? [...chain.slice(start + 1), ...chain.slice(0, start)] : chain;
  return ordered.find((m) => !seen.has(m)) ?? null;
}

/** The stages of a job in order; a checkpoint holds the S3 key of a finished stage's output. */
export const STAGES = ['segmentation', 'inpaint', 'compositing', 'qa'] as const;
export type Stage = (typeof STAGES)[number];
export type Checkpoints = Partial<Record<Stage, string>>;

/**
 * RESUME_CHECKPOINT: the first stage whose output is not checkpointed; finished stages
 * are kept, never re-run.
 */
export function resumeFrom(checkpoints: Checkpoints): Stage {
  return STAGES.find((s) => checkpoints[s] === undefined) ?? 'qa';
}

/**
 * The delay before retry number `attempt` (1-based) under a policy, in seconds, as Step
 * Functions computes it: interval × rate^(attempt-1), capped, then FULL jitter picks
 * uniformly in [0, delay]. `random` is injectable so callers can seed it.
 */
export function nextBackoff(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer ≥ 1, got ${attempt}`);
  const raw = policy.IntervalSeconds * policy.BackoffRate ** (attempt - 1);
  const capped = Math.min(raw, policy.MaxDelaySeconds);
  return policy.JitterStrategy === 'FULL' ? random() * capped : capped;
}
