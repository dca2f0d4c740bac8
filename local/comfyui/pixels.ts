/**
 * Pixel work of the simulated nodes on raw 8-bit buffers: loading as LoadImage and
 * LoadImageMask do, ImageScale, ImageCompositeMasked, and the "sampler" that repaints the
 * masked region. Real enough that QA can measure the output: outside the mask the person
 * is unchanged, inside it the garment's colours and texture show.
 */
import sharp from 'sharp';
import { mulberry32 } from '../faults.ts';

/** An RGB frame, interleaved, row-major. */
export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** A mask plane, one byte per pixel, 255 = inpaint. */
export interface Plane {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export async function decodeFrame(bytes: Uint8Array): Promise<Frame> {
  const { data, info } = await sharp(bytes).autoOrient().toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

export type MaskChannel = 'alpha' | 'red' | 'green' | 'blue';

/** LoadImageMask: one channel of the RGBA image; alpha is inverted (transparent = inpaint). */
export async function decodeMaskChannel(bytes: Uint8Array, channel: MaskChannel): Promise<Plane> {
  const { data, info } = await sharp(bytes).autoOrient().toColourspace('srgb').ensureAlpha(1).raw().toBuffer({ resolveWithObject: true });
  const index = { red: 0, green: 1, blue: 2, alpha: 3 }[channel];
  const n = info.width * info.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = data[i * 4 + index]!;
    out[i] = channel === 'alpha' ? 255 - v : v;
  }
  return { width: info.width, height: info.height, data: out };
}

/** LoadImage's MASK output: inverted alpha, or a 64×64 empty mask when the image has none. */
export async function decodeAlphaMask(bytes: Uint8Array): Promise<Plane> {
  const meta = await sharp(bytes).metadata();
  if (meta.hasAlpha !== true) return { width: 64, height: 64, data: new Uint8Array(64 * 64) };
  return decodeMaskChannel(bytes, 'alpha');
}

const KERNELS = { 'nearest-exact': 'nearest', bilinear: 'linear', area: 'linear', bicubic: 'cubic', lanczos: 'lanczos3' } as const;

/** ImageScale: 'disabled' stretches to the size, 'center' crops to its aspect first. A zero side keeps the aspect. */
export async function scaleFrame(f: Frame, width: number, height: number, method: string, crop: string): Promise<Frame> {
  if (width === 0 && height === 0) return f;
  const w = width === 0 ? Math.max(1, Math.round((f.width * height) / f.height)) : width;
  const h = height === 0 ? Math.max(1, Math.round((f.height * width) / f.width)) : height;
  const kernel = KERNELS[method as keyof typeof KERNELS] ?? 'lanczos3';
  const data = await sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
    .resize(w, h, { fit: crop === 'center' ? 'cover' : 'fill', kernel })
    .raw()
    .toBuffer();
  return { width: w, height: h, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

export async function scalePlane(p: Plane, width: number, height: number): Promise<Plane> {
  if (p.width === width && p.height === height) return p;
  const data = await sharp(p.data, { raw: { width: p.width, height: p.height, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** ImageCompositeMasked: `source` over `destination` at (x, y) through `mask` (resized to the source). */
export interface CompositeOptions {
  readonly x: number;
  readonly y: number;
  readonly mask: Plane | null;
  /** Scale the source to the destination's size first. */
  readonly resizeSource: boolean;
}

export async function compositeMasked(dest: Frame, source: Frame, { x, y, mask, resizeSource }: CompositeOptions): Promise<Frame> {
  const src = resizeSource ? await scaleFrame(source, dest.width, dest.height, 'bilinear', 'disabled') : source;
  const m = mask === null ? null : await scalePlane(mask, src.width, src.height);
  const out = new Uint8Array(dest.data);
  const w = Math.min(src.width, dest.width - x);
  const h = Math.min(src.height, dest.height - y);
  for (let sy = 0; sy < h; sy++) {
    for (let sx = 0; sx < w; sx++) {
      const a = m === null ? 1 : m.data[sy * src.width + sx]! / 255;
      if (a === 0) continue;
      const si = (sy * src.width + sx) * 3;
      const di = ((sy + y) * dest.width + sx + x) * 3;
      for (let c = 0; c < 3; c++) out[di + c] = Math.round(out[di + c]! * (1 - a) + src.data[si + c]! * a);
    }
  }
  return { width: dest.width, height: dest.height, data: out };
}

/** VAEEncodeForInpaint's view of the pixels: the masked region set to grey. */
export function greyOut(f: Frame, mask: Plane): Frame {
  const out = new Uint8Array(f.data);
  const n = f.width * f.height;
  for (let i = 0; i < n; i++) {
    const mx = Math.floor(((i % f.width) * mask.width) / f.width);
    const my = Math.floor((Math.floor(i / f.width) * mask.height) / f.height);
    if (mask.data[my * mask.width + mx]! >= 128) out.set([128, 128, 128], i * 3);
  }
  return { width: f.width, height: f.height, data: out };
}

/**
 * The sampler's result for one batch item: inside the noise mask the source pixels get a
 * seed-dependent shading (so batch items differ), outside they are kept exactly. With no
 * source (an empty latent) it paints a seeded gradient.
 */
export function sampleFrame(width: number, height: number, source: Frame | null, noiseMask: Plane | null, seed: number, denoise: number): Frame {
  const rnd = mulberry32(seed);
  const gain = 1 + (rnd() - 0.5) * 0.12 * denoise;
  const shift = (rnd() - 0.5) * 16 * denoise;
  const out = new Uint8Array(width * height * 3);
  if (source === null) {
    const [r, g, b] = [rnd() * 255, rnd() * 255, rnd() * 255];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const t = (x + y) / (width + height);
        out.set([r * (1 - t) + 40 * t, g * (1 - t) + 40 * t, b * t + 80 * (1 - t)], (y * width + x) * 3);
      }
    }
    return { width, height, data: out };
  }
  const mask = noiseMask;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const a = mask === null ? 1 : mask.data[Math.floor((y * mask.height) / height) * mask.width + Math.floor((x * mask.width) / width)]! / 255;
      for (let c = 0; c < 3; c++) {
        const v = source.data[i + c]!;
        out[i + c] = a === 0 ? v : Math.max(0, Math.min(255, Math.round(v * (1 - a) + (v * gain + shift) * a)));
      }
    }
  }
  return { width, height, data: out };
}

export function blackFrame(width: number, height: number): Frame {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

export async function encodePng(f: Frame): Promise<Buffer> {
  return sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } }).png({ compressionLevel: 4 }).toBuffer();
}
