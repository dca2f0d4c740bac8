/**
 * The QA report: measures a composite against its original and mask, turns what it finds
 * into coded reasons with penalties, and decides pass or fail. The fixer reads the codes.
 */
import { z } from 'zod';
import { CompositingFailedError, InvalidInputError } from '../errors.ts';
import type { Mask } from './mask.ts';
import { decodeRgb, messageOf, type RawImage } from './raw.ts';

export const QA_CODES = [
  'black_output',
  'blank_output',
  'size_mismatch',
  'analyzer_fail',
  'change_outside_mask',
  'no_change_inside_mask',
  'mask_coverage_low',
  'mask_coverage_high',
] as const;
export type QaCode = (typeof QA_CODES)[number];

/** Codes that fail the report whatever the score: the output is unusable as it stands. */
export const HARD_QA_CODES: ReadonlySet<QaCode> = new Set<QaCode>(['black_output', 'blank_output', 'size_mismatch', 'analyzer_fail']);

/** Points each code takes off the score of 100. */
export const QA_PENALTIES: Readonly<Record<QaCode, number>> = Object.freeze({
  black_output: 100,
  blank_output: 80,
  size_mismatch: 50,
  analyzer_fail: 50,
  change_outside_mask: 40,
  no_change_inside_mask: 40,
  // Coverage alone is a smell, not a failure: together with any other finding it fails.
  mask_coverage_low: 20,
  mask_coverage_high: 20,
});

export interface QaThresholds {
  /** Lowest passing score. @default 70 */
  passScore: number;
  /** Mean luma (0..255) of the generated region at or below which it is black. @default 8 */
  blackMaxMeanLuma: number;
  /** Luma standard deviation of the generated region below which it is flat (blank). @default 2 */
  blankMaxStdDev: number;
  /** Mask coverage (0..1) below which the garment area is implausibly small. @default 0.01 */
  minMaskCoverage: number;
  /** Mask coverage above which the garment area is implausibly large. @default 0.9 */
  maxMaskCoverage: number;
  /** Mean absolute difference (levels 0..255) outside the mask above which the background changed. @default 0.5 */
  maxChangeOutside: number;
  /** Mean absolute difference inside the mask below which the inpaint did nothing. @default 2 */
  minChangeInside: number;
}

/**
 * Default QA thresholds. Outside the mask a composite is the original byte for byte, so the
 * tolerance there is half a level (resampling or re-encoding noise, never a visible change);
 * inside, a real inpaint moves pixels by tens of levels, so 2 levels means nothing happened.
 */
export const DEFAULT_QA_THRESHOLDS: Readonly<QaThresholds> = Object.freeze({
  passScore: 70,
  blackMaxMeanLuma: 8,
  blankMaxStdDev: 2,
  minMaskCoverage: 0.01,
  maxMaskCoverage: 0.9,
  maxChangeOutside: 0.5,
  minChangeInside: 2,
});

export const qaReasonSchema = z.object({
  code: z.enum(QA_CODES),
  message: z.string(),
  value: z.number().optional(),
});

export const qaMetricsSchema = z.object({
  /** Mean Rec. 601 luma (0..255) of the result inside the mask (the whole image if the mask is empty). */
  meanLuma: z.number().min(0).max(255),
  /** Standard deviation of that luma. */
  lumaStdDev: z.number().min(0),
  /** Fraction of the frame the mask covers, 0..1. */
  maskCoverage: z.number().min(0).max(1),
  /** Mean absolute RGB difference (levels 0..255) between original and result inside the mask. */
  changeInsideMask: z.number().min(0).max(255),
  /** The same outside the mask. */
  changeOutsideMask: z.number().min(0).max(255),
});

export const qaReportSchema = z.object({
  score: z.number().min(0).max(100),
  passed: z.boolean(),
  threshold: z.number().min(0).max(100),
  reasons: z.array(qaReasonSchema),
  metrics: qaMetricsSchema,
});
export type QaReport = z.infer<typeof qaReportSchema>;
export type QaReason = z.infer<typeof qaReasonSchema>;
export type QaMetrics = z.infer<typeof qaMetricsSchema>;

export interface AnalyzerVerdict {
  verdict: 'pass' | 'fail';
  score: number;
  reasons: string[];
}

export interface QaInput {
  original: Buffer;
  /** The composite to judge. */
  result: Buffer;
  /** The mask the composite went through, at the original's size. */
  mask: Mask;
  analyzer?: AnalyzerVerdict | undefined;
}

/**
 * Scores a composite: 100 minus the penalties of what it finds; passed when the score
 * reaches the threshold and no hard code (HARD_QA_CODES) was found.
 *
 * @throws InvalidInputError when the original is unreadable.
 * @throws CompositingFailedError when the result is unreadable or the mask is not the original's size.
 */
export async function qaReport(input: QaInput, thresholds: Partial<QaThresholds> = {}): Promise<QaReport> {
  const t: QaThresholds = { ...DEFAULT_QA_THRESHOLDS, ...thresholds };
  let original: RawImage;
  try {
    original = await decodeRgb(input.original);
  } catch (e) {
    throw new InvalidInputError(`original image is not readable: ${messageOf(e)}`, { cause: e });
  }
  const { width, height } = original;
  const { mask } = input;
  if (mask.width !== width || mask.height !== height || mask.data.length !== width * height) {
    throw new CompositingFailedError(`mask is ${mask.width}×${mask.height} but the original is ${width}×${height}`);
  }
  let result: RawImage;
  try {
    result = await decodeRgb(input.result);
  } catch (e) {
    throw new CompositingFailedError(`result image is not readable: ${messageOf(e)}`, { cause: e });
  }

  const reasons: QaReason[] = [];
  const add = (code: QaCode, message: string, value?: number) =>
    reasons.push(value === undefined ? { code, message } : { code, message, value });

  if (result.width !== width || result.height !== height) {
    add('size_mismatch', `result is ${result.width}×${result.height} but the original is ${width}×${height}`);
    // Measure anyway, so the rest of the report still says what went wrong.
    result = await decodeRgb(input.result, { resizeTo: { width, height } });
  }

  const metrics = measure(original, result, mask);
  const r2 = (v: number) => Math.round(v * 100) / 100;
  const pct = (v: number) => `${(v * 100).toFixed(2)} %`;

  if (metrics.meanLuma <= t.blackMaxMeanLuma) {
    add('black_output', `generated region is black (mean luma ${r2(metrics.meanLuma)} ≤ ${t.blackMaxMeanLuma})`, metrics.meanLuma);
  } else if (metrics.lumaStdDev < t.blankMaxStdDev) {
    add('blank_output', `generated region is flat (luma std-dev ${r2(metrics.lumaStdDev)} < ${t.blankMaxStdDev})`, metrics.lumaStdDev);
  }
  if (input.analyzer?.verdict === 'fail') {
    const why = input.analyzer.reasons.length > 0 ? `: ${input.analyzer.reasons.join('; ')}` : '';
    add('analyzer_fail', `analyzer rejected the result (score ${input.analyzer.score})${why}`, input.analyzer.score);
  }
  if (metrics.changeOutsideMask > t.maxChangeOutside) {
    add('change_outside_mask',
      `pixels outside the mask changed (mean difference ${r2(metrics.changeOutsideMask)} > ${t.maxChangeOutside})`,
      metrics.changeOutsideMask);
  }
  if (metrics.changeInsideMask < t.minChangeInside) {
    add('no_change_inside_mask',
      `the garment area barely changed (mean difference ${r2(metrics.changeInsideMask)} < ${t.minChangeInside})`,
      metrics.changeInsideMask);
  }
  if (metrics.maskCoverage < t.minMaskCoverage) {
    add('mask_coverage_low', `mask covers ${pct(metrics.maskCoverage)} of the frame (< ${pct(t.minMaskCoverage)})`, metrics.maskCoverage);
  } else if (metrics.maskCoverage > t.maxMaskCoverage) {
    add('mask_coverage_high', `mask covers ${pct(metrics.maskCoverage)} of the frame (> ${pct(t.maxMaskCoverage)})`, metrics.maskCoverage);
  }

  const score = Math.max(0, 100 - reasons.reduce((sum, r) => sum + QA_PENALTIES[r.code], 0));
  const hard = reasons.some((r) => HARD_QA_CODES.has(r.code));
  return { score, passed: score >= t.passScore && !hard, threshold: t.passScore, reasons, metrics };
}

/** One pass over the pixels: luma of the generated region, mean differences in and out. */
function measure(original: RawImage, result: RawImage, mask: Mask): QaMetrics {
  const a = original.data;
  const b = result.data;
  const m = mask.data;
  let inside = 0;
  for (let i = 0; i < m.length; i++) if (m[i] !== 0) inside++;
  const outside = m.length - inside;
  // With no mask there is no generated region; judge the whole image instead.
  const wholeImage = inside === 0;

  let lumaSum = 0;
  let lumaSq = 0;
  let diffIn = 0;
  let diffOut = 0;
  for (let i = 0, p = 0; i < m.length; i++, p += 3) {
    const r = b[p]!;
    const g = b[p + 1]!;
    const bl = b[p + 2]!;
    const diff = Math.abs(a[p]! - r) + Math.abs(a[p + 1]! - g) + Math.abs(a[p + 2]! - bl);
    const set = m[i] !== 0;
    if (set) diffIn += diff;
    else diffOut += diff;
    if (set || wholeImage) {
      const y = 0.299 * r + 0.587 * g + 0.114 * bl;
      lumaSum += y;
      lumaSq += y * y;
    }
  }
  const lumaCount = wholeImage ? m.length : inside;
  const meanLuma = lumaSum / lumaCount;
  // Rounded so reports read cleanly; clamped because the luma weights sum to 1 only up to rounding.
  const tidy = (v: number, max: number) => Math.min(max, Math.max(0, Math.round(v * 1e6) / 1e6));
  return {
    meanLuma: tidy(meanLuma, 255),
    lumaStdDev: tidy(Math.sqrt(Math.max(0, lumaSq / lumaCount - meanLuma * meanLuma)), 255),
    maskCoverage: tidy(inside / m.length, 1),
    changeInsideMask: tidy(inside === 0 ? 0 : diffIn / (3 * inside), 255),
    changeOutsideMask: tidy(outside === 0 ? 0 : diffOut / (3 * outside), 255),
  };
}
