/**
 * Decoding images to raw 8-bit pixels with sharp. Every image stage reads pixels through
 * here so they agree on orientation and channel layout; callers turn a failure into the
 * taxonomy error that fits their stage.
 */
import sharp from 'sharp';

export interface RawImage {
  readonly width: number;
  readonly height: number;
  /** 3 (RGB) or 4 (RGBA), interleaved, row-major. */
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

export interface DecodeOptions {
  /** Keep an alpha channel when the image has one (4 channels); otherwise drop it (3). @default false */
  readonly keepAlpha?: boolean;
  /** Resample to exactly this size, ignoring the aspect ratio. */
  readonly resizeTo?: { readonly width: number; readonly height: number };
}

/**
 * Decodes any image sharp reads to sRGB 8-bit pixels. EXIF orientation is applied, because
 * segmentation and inpaint providers see the image upright, so their masks and outputs are
 * in display orientation. Truncated files fail (sharp's `failOn: 'warning'`).
 * Throws whatever sharp throws; callers wrap it.
 */
export async function decodeRgb(image: Buffer, options: DecodeOptions = {}): Promise<RawImage> {
  let pipeline = sharp(image, { failOn: 'warning' }).autoOrient();
  if (options.resizeTo !== undefined) {
    pipeline = pipeline.resize(options.resizeTo.width, options.resizeTo.height, { fit: 'fill' });
  }
  pipeline = pipeline.toColourspace('srgb');
  if (options.keepAlpha !== true) pipeline = pipeline.removeAlpha();
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 && info.channels !== 4) {
    throw new Error(`expected 3 or 4 channels after sRGB conversion, got ${info.channels}`);
  }
  return { width: info.width, height: info.height, channels: info.channels, data };
}

/** Encodes raw interleaved pixels as PNG. */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Promise<Buffer> {
  return sharp(data, { raw: { width, height, channels } }).png().toBuffer();
}

/** The message of an unknown thrown value, for wrapping errors. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
