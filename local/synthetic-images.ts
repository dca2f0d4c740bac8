/**
 * Deterministic test images built from raw pixels with sharp. Images come back as PNG
 * Buffers; masks as `Mask` objects (encode them with `maskPng`). The same arguments give
 * the same bytes on every run.
 */
import sharp from 'sharp';
import { encodeMask, type Mask } from '../core/images/mask.ts';
import { mulberry32 } from './faults.ts';

export type Rgb = readonly [number, number, number];

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A small seeded PRNG, so "random" pixels are the same on every run. */
export const prng = mulberry32;

/** Where personImage draws the torso: the region a garment mask should cover. */
export function torsoRect(width: number, height: number): Rect {
  const x = Math.round(width * 0.3);
  const y = Math.round(height * 0.3);
  return { x, y, width: Math.round(width * 0.7) - x, height: Math.round(height * 0.7) - y };
}

/**
 * PNG (RGB): a figure on a graded background: head, torso in a blue shirt (torsoRect),
 * legs, with light sensor noise so no region is flat.
 */
export async function personImage(width: number, height: number, seed = 1): Promise<Buffer> {
  const rand = prng(seed);
  const px = new Uint8Array(width * height * 3);
  const torso = torsoRect(width, height);
  const headX = width / 2;
  const headY = height * 0.18;
  const headR = Math.min(width, height) * 0.1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c: Rgb = [200 - Math.round((y / height) * 60), 210 - Math.round((y / height) * 50), 225];
      if ((x - headX) ** 2 + (y - headY) ** 2 <= headR ** 2) c = [224, 172, 140];
      else if (inRect(x, y, torso)) c = [40, 70, 160 + Math.round(40 * Math.sin(x / 6))];
      else if (y >= torso.y + torso.height && (Math.abs(x - width * 0.42) < width * 0.06 || Math.abs(x - width * 0.58) < width * 0.06)) {
        c = [50, 50, 60];
      }
      const n = Math.round((rand() - 0.5) * 16);
      const o = (y * width + x) * 3;
      px[o] = clamp(c[0] + n);
      px[o + 1] = clamp(c[1] + n);
      px[o + 2] = clamp(c[2] + n);
    }
  }
  return rgbPng(px, width, height);
}

/** PNG (RGB): a T-shirt shape in `color` with diagonal shading stripes on white. */
export async function garmentImage(width: number, height: number, color: Rgb): Promise<Buffer> {
  const px = new Uint8Array(width * height * 3).fill(255);
  for (let y = 0; y < height; y++) {
    const v = y / height;
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const body = u > 0.25 && u < 0.75 && v > 0.15 && v < 0.95;
      const sleeves = v > 0.15 && v < 0.4 && u > 0.05 && u < 0.95;
      if (!body && !sleeves) continue;
      const shade = ((x + y) >> 3) % 2 === 0 ? 1 : 0.8;
      const o = (y * width + x) * 3;
      px[o] = clamp(color[0] * shade);
      px[o + 1] = clamp(color[1] * shade);
      px[o + 2] = clamp(color[2] * shade);
    }
  }
  return rgbPng(px, width, height);
}

/** PNG (RGB): every pixel `color`. */
export async function solidImage(width: number, height: number, color: Rgb): Promise<Buffer> {
  const px = new Uint8Array(width * height * 3);
  for (let i = 0; i < px.length; i += 3) {
    px[i] = color[0];
    px[i + 1] = color[1];
    px[i + 2] = color[2];
  }
  return rgbPng(px, width, height);
}

/** Mask: `rect` set (clipped to the frame), the rest clear. */
export function rectMask(width: number, height: number, rect: Rect): Mask {
  const data = new Uint8Array(width * height);
  const x0 = Math.max(0, rect.x);
  const x1 = Math.min(width, rect.x + rect.width);
  for (let y = Math.max(0, rect.y); y < Math.min(height, rect.y + rect.height); y++) data.fill(255, y * width + x0, y * width + x1);
  return { width, height, data };
}

/**
 * Mask: `rect` with segmentation speckle: a `flipFraction` of pixels, chosen by `seed`,
 * flipped one by one (holes inside, single-pixel specks outside). Still one garment.
 */
export function noisyMask(width: number, height: number, rect: Rect, { flipFraction = 0.002, seed = 7 } = {}): Mask {
  const mask = rectMask(width, height, rect);
  const rand = prng(seed);
  const flips = Math.round(width * height * flipFraction);
  for (let i = 0; i < flips; i++) {
    const p = Math.floor(rand() * width * height);
    mask.data[p] = mask.data[p] === 0 ? 255 : 0;
  }
  return mask;
}

/** Mask: nothing set. */
export function blankMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height) };
}

/** Mask: everything set. */
export function fullMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height).fill(255) };
}

/**
 * Mask: `pieces` separate square blobs on a grid, each large enough to count as a real
 * component (side ≥ 5 px, up to 1/24 of the frame), a blob's width apart.
 */
export function fragmentedMask(width: number, height: number, pieces = 40): Mask {
  // The largest blob side (up to 1/24 of the frame) at which all pieces fit the grid.
  const fits = (side: number) => Math.floor(width / (2 * side)) * Math.floor((height + side) / (2 * side)) >= pieces;
  let side = Math.max(5, Math.floor(Math.min(width, height) / 24));
  while (side > 5 && !fits(side)) side--;
  if (!fits(side)) throw new RangeError(`${pieces} pieces of ${side} px do not fit in ${width}×${height}`);
  const perRow = Math.floor(width / (2 * side));
  const data = new Uint8Array(width * height);
  for (let k = 0; k < pieces; k++) {
    const gx = (k % perRow) * 2 * side;
    const gy = Math.floor(k / perRow) * 2 * side;
    for (let y = gy; y < gy + side; y++) data.fill(255, y * width + gx, y * width + gx + side);
  }
  return { width, height, data };
}

/** PNG of a mask. */
export function maskPng(mask: Mask): Promise<Buffer> {
  return encodeMask(mask);
}

/** Decoded RGB pixels of any image, for assertions. */
export async function rgbPixels(image: Buffer): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(image).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

function rgbPng(px: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(px, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

function inRect(x: number, y: number, r: Rect): boolean {
  return x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
