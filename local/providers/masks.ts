/**
 * The simulated segmenter's masks, derived deterministically from the image: the subject
 * is what differs from the corners' background colour, and the garment area an ellipse
 * over the subject's torso. Each (prompt, model) shifts and sizes the ellipse a little, so
 * N segmentations disagree at the edges and a quorum vote means something.
 */
import sharp from 'sharp';
import { unitHash } from '../faults.ts';

export interface MaskImage {
  readonly width: number;
  readonly height: number;
  /** One byte per pixel: 255 garment, 0 keep. */
  readonly data: Uint8Array;
}

interface Box { x0: number; y0: number; x1: number; y1: number }

/** Bounding box of the pixels that differ from the mean corner colour; the frame when none do. */
function subjectBox(rgb: Uint8Array, width: number, height: number): Box {
  const corners = [0, width - 1, (height - 1) * width, height * width - 1];
  const bg = [0, 1, 2].map((c) => corners.reduce((s, i) => s + rgb[i * 3 + c]!, 0) / 4);
  let box: Box | null = null;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const d = Math.abs(rgb[i]! - bg[0]!) + Math.abs(rgb[i + 1]! - bg[1]!) + Math.abs(rgb[i + 2]! - bg[2]!);
      if (d <= 60) continue;
      if (box === null) box = { x0: x, y0: y, x1: x, y1: y };
      else {
        box.x0 = Math.min(box.x0, x);
        box.x1 = Math.max(box.x1, x);
        box.y0 = Math.min(box.y0, y);
        box.y1 = Math.max(box.y1, y);
      }
    }
  }
  const full = { x0: 0, y0: 0, x1: width - 1, y1: height - 1 };
  if (box === null || (box.x1 - box.x0) * (box.y1 - box.y0) < width * height * 0.02) return full;
  return box;
}

/** The garment mask of `image` for one (prompt, model). Throws sharp's error when the image is unreadable. */
export async function garmentMask(image: Buffer, prompt: string, model: string): Promise<MaskImage> {
  // Segment a downscaled copy: the box is what matters and this keeps big images cheap.
  const data = await sharp(image).autoOrient().toColourspace('srgb').removeAlpha()
    .resize(128, 128, { fit: 'fill' }).raw().toBuffer();
  const { width, height } = (await sharp(image).metadata()).autoOrient;
  const b = subjectBox(new Uint8Array(data.buffer, data.byteOffset, data.length), 128, 128);
  const sx = width / 128;
  const sy = height / 128;
  const bw = (b.x1 - b.x0 + 1) * sx;
  const bh = (b.y1 - b.y0 + 1) * sy;
  const jitter = (name: string) => (unitHash(prompt, model, name) - 0.5) * 2;
  const cx = b.x0 * sx + bw * (0.5 + 0.02 * jitter('cx'));
  const cy = b.y0 * sy + bh * (0.45 + 0.02 * jitter('cy'));
  const rx = bw * 0.3 * (1 + 0.05 * jitter('rx'));
  const ry = bh * 0.2 * (1 + 0.05 * jitter('ry'));
  const out = new Uint8Array(width * height);
  const y0 = Math.max(0, Math.floor(cy - ry));
  const y1 = Math.min(height - 1, Math.ceil(cy + ry));
  for (let y = y0; y <= y1; y++) {
    const dy = (y + 0.5 - cy) / ry;
    const half = rx * Math.sqrt(Math.max(0, 1 - dy * dy));
    const x0 = Math.max(0, Math.ceil(cx - half - 0.5));
    const x1 = Math.min(width - 1, Math.floor(cx + half - 0.5));
    if (x1 >= x0) out.fill(255, y * width + x0, y * width + x1 + 1);
  }
  return { width, height, data: out };
}

export function filledMask(width: number, height: number, value: 0 | 255): MaskImage {
  return { width, height, data: new Uint8Array(width * height).fill(value) };
}

export async function encodeMaskPng(m: MaskImage): Promise<Buffer> {
  return sharp(m.data, { raw: { width: m.width, height: m.height, channels: 1 } }).png().toBuffer();
}
