/**
 * Compositing: the inpainted image is pasted back onto the original through the mask, so
 * every pixel outside the garment area is the original's, byte for byte.
 */
import { CompositingFailedError, InvalidInputError } from '../errors.ts';
import type { Mask } from './mask.ts';
import { decodeRgb, encodePng, messageOf, type RawImage } from './raw.ts';

export interface CompositeInput {
  /** The person image as uploaded (any format sharp reads). */
  original: Buffer;
  /** The inpaint output; may be smaller than the original (recovery reduces width/height). */
  inpainted: Buffer;
  /** The mask the inpaint used, at the original's (display) size. */
  mask: Mask;
}

/**
 * Returns a PNG of the original's size: the original where the mask is 0, the inpainted
 * image (resampled to the original's size) where it is set. An alpha channel of the
 * original is kept as is.
 *
 * @throws InvalidInputError when the original is not a readable image.
 * @throws CompositingFailedError when the inpainted image is unreadable or the mask is not
 *   the original's size.
 */
export async function compositeThroughMask(input: CompositeInput): Promise<Buffer> {
  const { mask } = input;
  let original: RawImage;
  try {
    original = await decodeRgb(input.original, { keepAlpha: true });
  } catch (e) {
    throw new InvalidInputError(`original image is not readable: ${messageOf(e)}`, { cause: e });
  }
  const { width, height, channels } = original;
  if (mask.width !== width || mask.height !== height || mask.data.length !== width * height) {
    throw new CompositingFailedError(`mask is ${mask.width}×${mask.height} but the original is ${width}×${height}`);
  }
  let inpainted: RawImage;
  try {
    inpainted = await decodeRgb(input.inpainted, { resizeTo: { width, height } });
  } catch (e) {
    throw new CompositingFailedError(`inpainted image is not readable: ${messageOf(e)}`, { cause: e });
  }

  const out = original.data; // ours to overwrite: decoded for this call only
  const src = inpainted.data;
  const m = mask.data;
  for (let i = 0, o = 0, s = 0; i < m.length; i++, o += channels, s += 3) {
    if (m[i] === 0) continue;
    // Colour only: the original's alpha (if any) still decides transparency.
    out[o] = src[s]!;
    out[o + 1] = src[s + 1]!;
    out[o + 2] = src[s + 2]!;
  }
  try {
    return await encodePng(out, width, height, channels);
  } catch (e) {
    throw new CompositingFailedError(`could not encode the composite: ${messageOf(e)}`, { cause: e });
  }
}
