/**
 * The fixer: from a failed QA report to the parameters of the next inpaint run. Pure and
 * deterministic, so a replayed execution plans the same fix.
 */
import type { QaCode, QaReport } from './images/qa.ts';
import { PARAM_BOUNDS, type InpaintParams } from './params.ts';

export interface FixPlan {
  params: InpaintParams;
  /** One line per changed knob: "denoise 0.85 → 0.95 (no_change_inside_mask)". */
  changes: string[];
}

/** What each QA code asks of the next run. */
type Intent = 'reseed' | 'more_steps' | 'more_denoise' | 'expand_mask' | 'shrink_mask';

export const FIX_INTENTS: Readonly<Record<QaCode, readonly Intent[]>> = Object.freeze({
  // A black or flat output is a sampling failure: another seed, and more steps to converge.
  black_output: ['reseed', 'more_steps'],
  blank_output: ['reseed', 'more_steps'],
  analyzer_fail: ['reseed'],
  size_mismatch: ['reseed'],
  // The model kept the original: let it depart further from it.
  no_change_inside_mask: ['more_denoise'],
  mask_coverage_low: ['expand_mask'],
  mask_coverage_high: ['shrink_mask'],
  // Generated content bled past the mask: give it less margin.
  change_outside_mask: ['shrink_mask'],
});

const DENOISE_STEP = 0.1;
const STEPS_FACTOR = 1.25;
const MIN_STEPS_INCREASE = 5;
const MIN_EXPAND_INCREASE = 8;

/**
 * Plans the parameters of fix attempt `fixAttempt` (1 for the first fix) from the report
 * of the run that used `params`. Every knob stays within PARAM_BOUNDS. Something always
 * changes: when no knob can move, the seed does, so a retry is never identical.
 *
 * @example
 * const { params: next, changes } = planFix(report, job.params, job.fixAttempts + 1);
 */
export function planFix(report: QaReport, params: InpaintParams, fixAttempt: number): FixPlan {
  if (!Number.isInteger(fixAttempt) || fixAttempt < 0) throw new RangeError(`fixAttempt must be an integer ≥ 0, got ${fixAttempt}`);
  const why = new Map<Intent, QaCode[]>();
  for (const { code } of report.reasons) {
    for (const intent of FIX_INTENTS[code]) {
      const codes = why.get(intent) ?? [];
      if (!codes.includes(code)) codes.push(code);
      why.set(intent, codes);
    }
  }
  const because = (intent: Intent) => (why.get(intent) ?? []).join(', ');

  const next: InpaintParams = { ...params };
  const changes: string[] = [];
  const record = (knob: string, from: number, to: number, reason: string) => changes.push(`${knob} ${from} → ${to} (${reason})`);

  if (why.has('more_denoise')) {
    const denoise = Math.min(PARAM_BOUNDS.denoise.max, round2(params.denoise + DENOISE_STEP));
    if (denoise !== params.denoise) {
      next.denoise = denoise;
      record('denoise', params.denoise, denoise, because('more_denoise'));
    } else {
      // Denoise is at its ceiling; more steps is the remaining way to move further.
      why.set('more_steps', [...(why.get('more_steps') ?? []), ...(why.get('more_denoise') ?? [])]);
    }
  }

  if (why.has('more_steps')) {
    const steps = Math.min(PARAM_BOUNDS.steps.max, Math.max(params.steps + MIN_STEPS_INCREASE, Math.round(params.steps * STEPS_FACTOR)));
    if (steps !== params.steps) {
      next.steps = steps;
      record('steps', params.steps, steps, because('more_steps'));
    }
  }

  const grow = why.has('expand_mask');
  const shrink = why.has('shrink_mask');
  if (grow && shrink) {
    changes.push(`maskExpandPx kept at ${params.maskExpandPx} (${because('expand_mask')} and ${because('shrink_mask')} pull both ways)`);
  } else if (grow || shrink) {
    const px = params.maskExpandPx;
    const expand = grow
      ? Math.min(PARAM_BOUNDS.maskExpandPx.max, Math.max(px + MIN_EXPAND_INCREASE, Math.round(px * 1.5)))
      : Math.max(PARAM_BOUNDS.maskExpandPx.min, Math.floor(px / 2));
    if (expand !== px) {
      next.maskExpandPx = expand;
      record('maskExpandPx', px, expand, because(grow ? 'expand_mask' : 'shrink_mask'));
    }
  }

  const knobsMoved = next.denoise !== params.denoise || next.steps !== params.steps || next.maskExpandPx !== params.maskExpandPx;
  if (why.has('reseed') || !knobsMoved) {
    next.seed = deriveSeed(params.seed, fixAttempt);
    const reason = why.has('reseed')
      ? because('reseed')
      : report.reasons.length === 0
        ? 'no QA reasons; a new seed makes the retry differ'
        : `no knob left to move for ${report.reasons.map((r) => r.code).join(', ')}; a new seed makes the retry differ`;
    record('seed', params.seed, next.seed, reason);
  }
  return { params: next, changes };
}

/**
 * A new 32-bit seed from the old one and the attempt number (murmur3's finaliser), never
 * equal to the old one.
 */
export function deriveSeed(seed: number, fixAttempt: number): number {
  let h = (seed ^ Math.imul(fixAttempt + 1, 0x9e3779b9)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h >>>= 0;
  return h === seed ? (h + 1) >>> 0 : h;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
