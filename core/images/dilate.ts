/**
 * Dilation by a disc, through an exact Euclidean distance transform (Felzenszwalb &
 * Huttenlocher, "Distance Transforms of Sampled Functions", 2012): linear in the pixel
 * count whatever the radius, where the naive stencil costs n·r².
 */
import type { Mask } from './mask.ts';

/**
 * The pixels whose Euclidean distance to a set pixel is at most `radiusPx` (a disc
 * structuring element, so corners round off as a garment outline would). Radius 0 copies.
 */
export function dilateDisc(mask: Mask, radiusPx: number): Mask {
  if (!Number.isFinite(radiusPx) || radiusPx < 0) throw new RangeError(`radius must be a finite number ≥ 0, got ${radiusPx}`);
  const { width, height, data } = mask;
  const out = new Uint8Array(width * height);
  if (radiusPx < 1) {
    // No other lattice point lies within a radius below 1.
    out.set(data);
    return { width, height, data: out };
  }
  const r2 = radiusPx * radiusPx;
  // Vertical distances beyond the radius all act alike; capping them keeps the arithmetic
  // finite (a capped term exceeds r² whatever the horizontal offset).
  const cap = Math.floor(radiusPx) + 1;

  // Pass 1, top to bottom: distance to the nearest set pixel at or above, per column.
  const above = new Int32Array(width * height);
  const run = new Int32Array(width).fill(cap);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) {
      const d = data[base + x] !== 0 ? 0 : Math.min(run[x]! + 1, cap);
      run[x] = d;
      above[base + x] = d;
    }
  }

  // Pass 2, bottom to top: fold in the distance from below, then solve each row in 1-D.
  run.fill(cap);
  const f = new Float64Array(width);
  const env = new EnvelopeScratch(width);
  for (let y = height - 1; y >= 0; y--) {
    const base = y * width;
    let any = false;
    for (let x = 0; x < width; x++) {
      const below = data[base + x] !== 0 ? 0 : Math.min(run[x]! + 1, cap);
      run[x] = below;
      const g = Math.min(below, above[base + x]!);
      if (g < cap) any = true;
      f[x] = g * g;
    }
    if (any) env.thresholdRow(f, r2, out, base);
  }
  return { width, height, data: out };
}

/** Scratch space for the lower envelope of parabolas, reused across rows. */
class EnvelopeScratch {
  private readonly v: Int32Array;
  private readonly z: Float64Array;

  constructor(n: number) {
    this.v = new Int32Array(n);
    this.z = new Float64Array(n + 1);
  }

  /** Sets out[base + x] = 255 where min_q ((x − q)² + f[q]) ≤ r2. */
  thresholdRow(f: Float64Array, r2: number, out: Uint8Array, base: number): void {
    const { v, z } = this;
    const n = f.length;
    let k = 0;
    v[0] = 0;
    z[0] = -Infinity;
    z[1] = Infinity;
    for (let q = 1; q < n; q++) {
      const fq = f[q]! + q * q;
      let s = (fq - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * (q - v[k]!));
      while (s <= z[k]!) {
        k--;
        s = (fq - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * (q - v[k]!));
      }
      k++;
      v[k] = q;
      z[k] = s;
      z[k + 1] = Infinity;
    }
    k = 0;
    for (let x = 0; x < n; x++) {
      while (z[k + 1]! < x) k++;
      const dx = x - v[k]!;
      if (dx * dx + f[v[k]!]! <= r2) out[base + x] = 255;
    }
  }
}
