import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { CompositingFailedError, InvalidInputError } from '../../core/errors.ts';
import { compositeThroughMask } from '../../core/images/composite.ts';
import type { Mask } from '../../core/images/mask.ts';
import { garmentImage, personImage, rectMask, rgbPixels, torsoRect } from '../support/images.ts';

const W = 160;
const H = 120;

/** Pixel indices where the mask is clear / set, with how many differ between two RGB buffers. */
function diffByRegion(a: Uint8Array, b: Uint8Array, mask: Mask): { outsideDiffering: number; insideDiffering: number } {
  let outsideDiffering = 0;
  let insideDiffering = 0;
  for (let i = 0; i < mask.data.length; i++) {
    const same = a[3 * i] === b[3 * i] && a[3 * i + 1] === b[3 * i + 1] && a[3 * i + 2] === b[3 * i + 2];
    if (same) continue;
    if (mask.data[i] === 0) outsideDiffering++;
    else insideDiffering++;
  }
  return { outsideDiffering, insideDiffering };
}

describe('compositeThroughMask', () => {
  let person: Buffer;
  let garment: Buffer;
  const mask = rectMask(W, H, torsoRect(W, H));
  const insidePixels = mask.data.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);

  beforeAll(async () => {
    person = await personImage(W, H);
    garment = await garmentImage(W, H, [200, 30, 40]);
  });

  it('keeps every pixel outside the mask identical and takes the inpainted ones inside', async () => {
    // Act
    const out = await compositeThroughMask({ original: person, inpainted: garment, mask });

    // Assess
    const [result, original, inpainted] = await Promise.all([rgbPixels(out), rgbPixels(person), rgbPixels(garment)]);
    expect([result.width, result.height]).toEqual([W, H]);
    expect(diffByRegion(result.data, original.data, mask)).toMatchObject({ outsideDiffering: 0 });
    expect(diffByRegion(result.data, original.data, mask).insideDiffering).toBeGreaterThan(insidePixels * 0.9);
    expect(diffByRegion(result.data, inpainted.data, mask)).toEqual({ outsideDiffering: expect.any(Number), insideDiffering: 0 });
  });

  it('resizes a smaller inpainted image to the original size before compositing', async () => {
    // Prepare: recovery reduced the inpaint to half size
    const small = await garmentImage(W / 2, H / 2, [20, 160, 60]);

    // Act
    const out = await compositeThroughMask({ original: person, inpainted: small, mask });

    // Assess
    const [result, original] = await Promise.all([rgbPixels(out), rgbPixels(person)]);
    const upscaled = await rgbPixels(await sharp(small).resize(W, H, { fit: 'fill' }).png().toBuffer());
    expect([result.width, result.height]).toEqual([W, H]);
    expect(diffByRegion(result.data, original.data, mask).outsideDiffering).toBe(0);
    expect(diffByRegion(result.data, upscaled.data, mask).insideDiffering).toBe(0);
  });

  it('keeps the alpha channel of an RGBA original', async () => {
    // Prepare: a half-transparent original
    const rgba = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) rgba.set([90, 90, 90, 128], i * 4);
    const original = await sharp(rgba, { raw: { width: W, height: H, channels: 4 } }).png().toBuffer();

    // Act
    const out = await compositeThroughMask({ original, inpainted: garment, mask });

    // Assess
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(4);
    expect(data.filter((_, i) => i % 4 === 3).every((a) => a === 128)).toBe(true);
  });

  it('works in display orientation for a JPEG with an EXIF rotation', async () => {
    // Prepare: stored W×H, displayed H×W (EXIF orientation 6 = rotate 90°)
    const rotated = await sharp(person).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const uprightMask = rectMask(H, W, { x: 20, y: 30, width: 60, height: 80 });

    // Act
    const out = await compositeThroughMask({ original: rotated, inpainted: garment, mask: uprightMask });

    // Assess
    const result = await rgbPixels(out);
    const upright = await rgbPixels(await sharp(rotated).autoOrient().png().toBuffer());
    expect([result.width, result.height]).toEqual([H, W]);
    expect(diffByRegion(result.data, upright.data, uprightMask).outsideDiffering).toBe(0);
  });

  it('throws Compositing.Failed when the inpainted image is garbage', async () => {
    // Act
    const failure = compositeThroughMask({ original: person, inpainted: Buffer.from('<html>502 Bad Gateway</html>'), mask });

    // Assess
    await expect(failure).rejects.toBeInstanceOf(CompositingFailedError);
    await expect(failure).rejects.toMatchObject({
      name: 'Compositing.Failed',
      message: expect.stringMatching(/^inpainted image is not readable: /),
    });
  });

  it('throws Compositing.Failed when the mask is not the size of the original', async () => {
    // Act
    const failure = compositeThroughMask({ original: person, inpainted: garment, mask: rectMask(100, 100, { x: 0, y: 0, width: 50, height: 50 }) });

    // Assess
    await expect(failure).rejects.toBeInstanceOf(CompositingFailedError);
    await expect(failure).rejects.toMatchObject({ name: 'Compositing.Failed', message: `mask is 100×100 but the original is ${W}×${H}` });
  });

  it('throws Fatal.InvalidInput when the original is unreadable', async () => {
    // Act
    const failure = compositeThroughMask({ original: Buffer.from('not an image'), inpainted: garment, mask });

    // Assess
    await expect(failure).rejects.toBeInstanceOf(InvalidInputError);
    await expect(failure).rejects.toMatchObject({ name: 'Fatal.InvalidInput', message: expect.stringMatching(/^original image is not readable: /) });
  });
});
