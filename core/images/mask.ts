/**
 * Garment masks: decoding, statistics, the degeneracy rules that reject a segmentation,
 * the quorum vote that aggregates N segmentations, and the dilation that gives inpainting
 * its margin.
 */
import sharp from 'sharp';
import { DegenerateMaskError, InvalidInputError } from '../errors.ts';
import { componentSizes } from './components.ts';
import { dilateDisc } from './dilate.ts';
import { messageOf } from './raw.ts';

/** A binary mask: one byte per pixel, row-major, 0 (keep) or 255 (garment area). */
export interface Mask {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface BoundingBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface MaskStats {
  width: number;
  height: number;
  /** Set pixels. */
  area: number;
  /** area / (width × height), 0..1. */
  coverage: number;
  /** Smallest box holding every set pixel; null for an empty mask. */
  bbox: BoundingBox | null;
  /** 4-connected components of set pixels, specks included. */
  components: number;
  /** Components of at least `minComponentPx` pixels. */
  significantComponents: number;
}

export interface DegeneracyLimits {
  /** Below this coverage (fraction of the frame) the mask is empty. @default 0.005 */
  minCoverage: number;
  /** Above this coverage the mask is the whole frame, not a garment. @default 0.95 */
  maxCoverage: number;
  /** More significant components than this and the mask is fragmented. @default 12 */
  maxComponents: number;
  /** Components smaller than this many pixels are specks and not counted. @default 16 */
  minComponentPx: number;
}

/**
 * Default degeneracy limits. A garment is one to a few regions (a top, sleeves, a strap
 * split off by an arm) covering a visible share of the frame; speckle noise from a
 * segmenter is tolerated, a scatter of real blobs is not.
 */
export const DEFAULT_DEGENERACY_LIMITS: Readonly<DegeneracyLimits> = Object.freeze({
  minCoverage: 0.005,
  maxCoverage: 0.95,
  maxComponents: 12,
  minComponentPx: 16,
});

export type DegeneracyReason = 'empty' | 'full_frame' | 'fragmented';

export interface Degeneracy {
  reason: DegeneracyReason;
  /** Coverage (0..1) for empty and full_frame; significant components for fragmented. */
  value: number;
  /** The limit `value` crossed. */
  limit: number;
}

export type RejectionReason = DegeneracyReason | 'size_mismatch';

export interface AggregateOptions {
  /** Fraction of usable masks that must set a pixel for the result to set it, in (0, 1]. @default 0.5 */
  quorum?: number;
  /** Fewer usable masks than this and aggregation fails. @default 2 */
  minUsable?: number;
  /** Degeneracy limits for the inputs and the result. @default DEFAULT_DEGENERACY_LIMITS */
  limits?: Partial<DegeneracyLimits>;
}

export interface AggregateResult {
  mask: Mask;
  /** How many masks voted. */
  usable: number;
  /** The masks left out, by position in the input. */
  rejected: { index: number; reason: RejectionReason }[];
}

/**
 * Decodes any image sharp reads into a mask: alpha flattened over black (a transparent
 * pixel is outside), greyscale, then ≥ 128 is set. Throws InvalidInputError when the bytes
 * are not a readable image.
 */
export async function decodeMask(image: Buffer): Promise<Mask> {
  let decoded;
  try {
    decoded = await sharp(image, { failOn: 'warning' })
      .autoOrient()
      .flatten({ background: '#000000' })
      .toColourspace('b-w')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new InvalidInputError(`mask is not a readable image: ${messageOf(e)}`, { cause: e });
  }
  const { data: grey, info } = decoded;
  const n = info.width * info.height;
  const data = new Uint8Array(n);
  const step = info.channels;
  for (let i = 0, j = 0; i < n; i++, j += step) data[i] = grey[j]! >= 128 ? 255 : 0;
  return { width: info.width, height: info.height, data };
}

/** Encodes a mask as a one-channel PNG. */
export async function encodeMask(mask: Mask): Promise<Buffer> {
  assertMask(mask);
  return sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 1 } }).png().toBuffer();
}

export function maskStats(mask: Mask, minComponentPx: number = DEFAULT_DEGENERACY_LIMITS.minComponentPx): MaskStats {
  assertMask(mask);
  const { width, height, data } = mask;
  let area = 0;
  let minX = width;
  let minY = height;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) {
      if (data[base + x] === 0) continue;
      area++;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      maxY = y;
    }
  }
  const sizes = area === 0 ? [] : componentSizes(data, width, height);
  return {
    width,
    height,
    area,
    coverage: area / (width * height),
    bbox: area === 0 ? null : { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 },
    components: sizes.length,
    significantComponents: sizes.filter((s) => s >= minComponentPx).length,
  };
}

/** Why a mask cannot stand for a garment, or null when it can. Checks coverage before shape. */
export function degeneracy(mask: Mask, limits: Partial<DegeneracyLimits> = {}): Degeneracy | null {
  assertMask(mask);
  const l = { ...DEFAULT_DEGENERACY_LIMITS, ...limits };
  const coverage = countSet(mask.data) / mask.data.length;
  if (coverage < l.minCoverage) return { reason: 'empty', value: coverage, limit: l.minCoverage };
  if (coverage > l.maxCoverage) return { reason: 'full_frame', value: coverage, limit: l.maxCoverage };
  let significant = 0;
  for (const size of componentSizes(mask.data, mask.width, mask.height)) if (size >= l.minComponentPx) significant++;
  if (significant > l.maxComponents) return { reason: 'fragmented', value: significant, limit: l.maxComponents };
  return null;
}

/** A short human sentence for a degeneracy, e.g. "empty (coverage 0.10 % < 0.50 %)". */
export function describeDegeneracy(d: Degeneracy): string {
  const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
  switch (d.reason) {
    case 'empty':
      return `empty (coverage ${pct(d.value)} < ${pct(d.limit)})`;
    case 'full_frame':
      return `full_frame (coverage ${pct(d.value)} > ${pct(d.limit)})`;
    case 'fragmented':
      return `fragmented (${d.value} components > ${d.limit})`;
  }
}

/**
 * Aggregates N segmentations: masks that are degenerate, or not the size of the first
 * usable one, are left out; each pixel of the result is set when at least
 * ceil(quorum × usable) of the usable masks set it.
 *
 * @throws DegenerateMaskError when fewer than `minUsable` masks are usable
 *   ("quorum not reached: 1 usable mask of 3 (empty, full_frame)") or the result is degenerate.
 * @example
 * const { mask, rejected } = aggregateMasks(await Promise.all(pngs.map(decodeMask)));
 */
export function aggregateMasks(masks: readonly Mask[], opts: AggregateOptions = {}): AggregateResult {
  const quorum = opts.quorum ?? 0.5;
  const minUsable = opts.minUsable ?? 2;
  if (!(quorum > 0 && quorum <= 1)) throw new RangeError(`quorum must be in (0, 1], got ${quorum}`);
  if (!Number.isInteger(minUsable) || minUsable < 1) throw new RangeError(`minUsable must be an integer ≥ 1, got ${minUsable}`);

  const usable: Uint8Array[] = [];
  const rejected: AggregateResult['rejected'] = [];
  let width = 0;
  let height = 0;
  masks.forEach((mask, index) => {
    const bad = degeneracy(mask, opts.limits);
    if (bad !== null) {
      rejected.push({ index, reason: bad.reason });
    } else if (usable.length > 0 && (mask.width !== width || mask.height !== height)) {
      rejected.push({ index, reason: 'size_mismatch' });
    } else {
      width = mask.width;
      height = mask.height;
      usable.push(mask.data);
    }
  });

  if (usable.length < minUsable) {
    const s = usable.length === 1 ? '' : 's';
    const why = rejected.length > 0 ? rejected.map((r) => r.reason).join(', ') : `need ${minUsable}`;
    throw new DegenerateMaskError(`quorum not reached: ${usable.length} usable mask${s} of ${masks.length} (${why})`);
  }

  // Small epsilon: 0.3 × 10 must need 3 votes, not 4.
  const need = Math.max(1, Math.ceil(quorum * usable.length - 1e-9));
  // Count votes mask by mask (tight linear loops), then threshold the counts in place.
  const data = usable.length < 255 ? new Uint8Array(width * height) : new Uint16Array(width * height);
  for (const m of usable) for (let i = 0; i < data.length; i++) if (m[i] !== 0) data[i]!++;
  const out = data instanceof Uint8Array ? data : new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! >= need ? 255 : 0;
  const mask: Mask = { width, height, data: out };
  const bad = degeneracy(mask, opts.limits);
  if (bad !== null) {
    throw new DegenerateMaskError(`aggregated mask of ${usable.length} usable masks is ${describeDegeneracy(bad)}`);
  }
  return { mask, usable: usable.length, rejected };
}

/**
 * Dilates a mask by a disc of `radiusPx` (Euclidean: a pixel is set when a set pixel lies
 * within the radius), so inpainting gets a margin around the garment. Radius 0 copies.
 * Linear time in the pixel count, whatever the radius.
 */
export function expandMask(mask: Mask, radiusPx: number): Mask {
  assertMask(mask);
  return dilateDisc(mask, radiusPx);
}

function countSet(data: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) n++;
  return n;
}

function assertMask(mask: Mask): void {
  const { width, height, data } = mask;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`mask size must be positive integers, got ${width}×${height}`);
  }
  if (data.length !== width * height) {
    throw new RangeError(`mask data holds ${data.length} bytes, expected ${width}×${height} = ${width * height}`);
  }
}
