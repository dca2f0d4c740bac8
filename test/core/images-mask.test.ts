import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DegenerateMaskError, InvalidInputError, PipelineError } from '../../core/errors.ts';
import {
  aggregateMasks,
  decodeMask,
  DEFAULT_DEGENERACY_LIMITS,
  degeneracy,
  encodeMask,
  expandMask,
  maskStats,
  type Mask,
} from '../../core/images/mask.ts';
import { blankMask, fragmentedMask, fullMask, noisyMask, prng, rectMask, torsoRect } from '../support/images.ts';

/** Components by plain flood fill, to check the run-based labelling against. */
function naiveComponents(mask: Mask): number {
  const { width, height, data } = mask;
  const seen = new Uint8Array(width * height);
  let count = 0;
  for (let start = 0; start < data.length; start++) {
    if (data[start] === 0 || seen[start] === 1) continue;
    count++;
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      const next = [x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1, y > 0 ? p - width : -1, y < height - 1 ? p + width : -1];
      for (const q of next) {
        if (q >= 0 && data[q] !== 0 && seen[q] === 0) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
  }
  return count;
}

/** Dilation by checking every pixel against every set pixel within the radius. */
function naiveDilate(mask: Mask, r: number): Uint8Array {
  const { width, height, data } = mask;
  const out = new Uint8Array(width * height);
  const ri = Math.floor(r);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] === 0) continue;
      for (let dy = -ri; dy <= ri; dy++) {
        for (let dx = -ri; dx <= ri; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (dx * dx + dy * dy <= r * r && nx >= 0 && ny >= 0 && nx < width && ny < height) out[ny * width + nx] = 255;
        }
      }
    }
  }
  return out;
}

function randomMask(width: number, height: number, density: number, seed: number): Mask {
  const rand = prng(seed);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = rand() < density ? 255 : 0;
  return { width, height, data };
}

function countSet(mask: Mask): number {
  return mask.data.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
}

/** Lattice points (i, j), i ≥ 1, j ≥ 1, with i² + j² ≤ r²: one rounded corner of a dilated rectangle. */
function quarterDiscPoints(r: number): number {
  let n = 0;
  for (let i = 1; i <= r; i++) for (let j = 1; j <= r; j++) if (i * i + j * j <= r * r) n++;
  return n;
}

describe('decodeMask and encodeMask', () => {
  it('round-trips a mask through PNG unchanged', async () => {
    // Prepare
    const mask = noisyMask(96, 64, { x: 10, y: 12, width: 40, height: 30 });

    // Act
    const decoded = await decodeMask(await encodeMask(mask));

    // Assess
    expect(decoded.width).toBe(96);
    expect(decoded.height).toBe(64);
    expect(Buffer.from(decoded.data).equals(Buffer.from(mask.data))).toBe(true);
  });

  it('thresholds grey levels at 128', async () => {
    // Prepare: a 4×1 greyscale strip 0, 127, 128, 255
    const png = await sharp(Uint8Array.from([0, 127, 128, 255]), { raw: { width: 4, height: 1, channels: 1 } }).png().toBuffer();

    // Act
    const mask = await decodeMask(png);

    // Assess
    expect([...mask.data]).toEqual([0, 0, 255, 255]);
  });

  it('reads colour images with alpha, treating transparent pixels as outside', async () => {
    // Prepare: white everywhere; left pixel opaque, right pixel transparent
    const rgba = Uint8Array.from([255, 255, 255, 255, 255, 255, 255, 0]);
    const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();

    // Act
    const mask = await decodeMask(png);

    // Assess
    expect([...mask.data]).toEqual([255, 0]);
  });

  it.each([
    { what: 'garbage bytes', bytes: Buffer.from('definitely not a png') },
    { what: 'an empty buffer', bytes: Buffer.alloc(0) },
  ])('rejects $what as Fatal.InvalidInput', async ({ bytes }) => {
    // Act
    const failure = decodeMask(bytes);

    // Assess
    await expect(failure).rejects.toBeInstanceOf(InvalidInputError);
    await expect(failure).rejects.toMatchObject({ name: 'Fatal.InvalidInput', message: expect.stringMatching(/^mask is not a readable image: /) });
  });

  it('rejects a truncated PNG as Fatal.InvalidInput', async () => {
    // Prepare
    const png = await encodeMask(rectMask(64, 64, { x: 8, y: 8, width: 32, height: 32 }));

    // Act / Assess
    await expect(decodeMask(png.subarray(0, png.length - 30))).rejects.toMatchObject({ name: 'Fatal.InvalidInput' });
  });
});

describe('maskStats', () => {
  it('measures coverage, bounding box and components of a rectangle', () => {
    // Prepare
    const mask = rectMask(200, 100, { x: 20, y: 10, width: 50, height: 40 });

    // Act
    const stats = maskStats(mask);

    // Assess
    expect(stats).toEqual({
      width: 200, height: 100, area: 2000, coverage: 0.1,
      bbox: { x: 20, y: 10, width: 50, height: 40 }, components: 1, significantComponents: 1,
    });
  });

  it('reports no bounding box and no components for an empty mask', () => {
    expect(maskStats(blankMask(32, 32))).toMatchObject({ area: 0, coverage: 0, bbox: null, components: 0 });
  });

  it('joins a U shape whose arms meet only at the bottom into one component', () => {
    // Prepare: two bars, joined by a base in the last rows
    const left = rectMask(40, 40, { x: 5, y: 0, width: 5, height: 40 });
    const right = rectMask(40, 40, { x: 30, y: 0, width: 5, height: 40 });
    const base = rectMask(40, 40, { x: 5, y: 35, width: 30, height: 5 });
    const data = left.data.map((v, i) => v | right.data[i]! | base.data[i]!);

    // Act
    const stats = maskStats({ width: 40, height: 40, data });

    // Assess
    expect(stats.components).toBe(1);
  });

  it('counts diagonal neighbours as separate components (4-connectivity)', () => {
    // Prepare: a 3×3 checkerboard has 5 set pixels, none sharing an edge
    const data = Uint8Array.from([255, 0, 255, 0, 255, 0, 255, 0, 255]);

    // Act / Assess
    expect(maskStats({ width: 3, height: 3, data }).components).toBe(5);
  });

  it('ignores specks when counting significant components', () => {
    // Prepare: one garment plus single-pixel speckle
    const mask = noisyMask(128, 128, torsoRect(128, 128), { flipFraction: 0.003, seed: 3 });

    // Act
    const stats = maskStats(mask);

    // Assess
    expect(stats.components).toBeGreaterThan(10);
    expect(stats.significantComponents).toBe(1);
  });

  it.each([0.1, 0.3, 0.5, 0.6, 0.8])('agrees with a flood fill on random masks of density %s', (density) => {
    // Prepare
    const mask = randomMask(61, 47, density, Math.round(density * 1000));

    // Act / Assess
    expect(maskStats(mask).components).toBe(naiveComponents(mask));
  });

  it('labels a 2048² mask of many components', () => {
    // Prepare
    const mask = fragmentedMask(2048, 2048, 500);

    // Act / Assess
    expect(maskStats(mask).components).toBe(500);
  });
});

describe('degeneracy', () => {
  it('exports documented default limits', () => {
    expect(DEFAULT_DEGENERACY_LIMITS).toEqual({ minCoverage: 0.005, maxCoverage: 0.95, maxComponents: 12, minComponentPx: 16 });
  });

  it.each([
    { what: 'a blank mask', mask: blankMask(100, 100), expected: { reason: 'empty', value: 0, limit: 0.005 } },
    { what: 'a 4-pixel mask', mask: rectMask(100, 100, { x: 0, y: 0, width: 2, height: 2 }), expected: { reason: 'empty', value: 0.0004, limit: 0.005 } },
    { what: 'a full mask', mask: fullMask(100, 100), expected: { reason: 'full_frame', value: 1, limit: 0.95 } },
    { what: 'a scatter of 40 blobs', mask: fragmentedMask(240, 240, 40), expected: { reason: 'fragmented', value: 40, limit: 12 } },
  ])('rejects $what', ({ mask, expected }) => {
    expect(degeneracy(mask)).toEqual(expected);
  });

  it.each([
    { what: 'a rectangle', mask: rectMask(100, 100, { x: 10, y: 10, width: 30, height: 60 }) },
    { what: 'a speckled rectangle', mask: noisyMask(100, 100, { x: 10, y: 10, width: 30, height: 60 }, { flipFraction: 0.01 }) },
    { what: '12 blobs, the limit', mask: fragmentedMask(240, 240, 12) },
  ])('accepts $what', ({ mask }) => {
    expect(degeneracy(mask)).toBeNull();
  });

  it('applies custom limits over the defaults', () => {
    // Prepare
    const mask = fragmentedMask(240, 240, 12);

    // Act / Assess
    expect(degeneracy(mask, { maxComponents: 5 })).toEqual({ reason: 'fragmented', value: 12, limit: 5 });
  });
});

describe('aggregateMasks', () => {
  const W = 64;
  const H = 64;
  const a = rectMask(W, H, { x: 10, y: 10, width: 20, height: 20 });
  const b = rectMask(W, H, { x: 20, y: 10, width: 20, height: 20 });
  const c = rectMask(W, H, { x: 15, y: 15, width: 20, height: 20 });

  it('drops an empty mask and votes with the two usable ones', () => {
    // Act
    const result = aggregateMasks([a, b, blankMask(W, H)]);

    // Assess: quorum 0.5 of 2 usable masks is one vote, so the result is their union
    expect(result.usable).toBe(2);
    expect(result.rejected).toEqual([{ index: 2, reason: 'empty' }]);
    expect(countSet(result.mask)).toBe(600);
    expect(result.mask.data[15 * W + 12]).toBe(255); // a only
    expect(result.mask.data[15 * W + 35]).toBe(255); // b only
  });

  it('keeps only the pixels a majority sets when three masks vote', () => {
    // Act
    const { mask, usable, rejected } = aggregateMasks([a, b, c]);

    // Assess: need ceil(0.5 × 3) = 2 votes
    expect(usable).toBe(3);
    expect(rejected).toEqual([]);
    expect(mask.data[12 * W + 12]).toBe(0); // a only
    expect(mask.data[12 * W + 25]).toBe(255); // a and b
    expect(mask.data[25 * W + 32]).toBe(255); // b and c
    expect(mask.data[20 * W + 16]).toBe(255); // a and c
    expect(mask.data[32 * W + 20]).toBe(0); // c only
  });

  it('needs every vote with quorum 1', () => {
    // Act
    const { mask } = aggregateMasks([a, b, c], { quorum: 1 });

    // Assess: the intersection is x 20..29, y 15..29
    expect(countSet(mask)).toBe(10 * 15);
  });

  it('rejects masks of another size than the first usable one', () => {
    // Act
    const result = aggregateMasks([blankMask(W, H), a, rectMask(32, 32, { x: 0, y: 0, width: 16, height: 16 }), b]);

    // Assess
    expect(result.usable).toBe(2);
    expect(result.rejected).toEqual([{ index: 0, reason: 'empty' }, { index: 2, reason: 'size_mismatch' }]);
  });

  it.each([
    {
      what: 'one usable mask of three',
      masks: [a, blankMask(W, H), fullMask(W, H)],
      opts: {},
      message: 'quorum not reached: 1 usable mask of 3 (empty, full_frame)',
    },
    {
      what: 'no usable mask',
      masks: [blankMask(W, H), fragmentedMask(W, H, 20)],
      opts: {},
      message: 'quorum not reached: 0 usable masks of 2 (empty, fragmented)',
    },
    {
      what: 'fewer masks than minUsable and none rejected',
      masks: [a, b],
      opts: { minUsable: 3 },
      message: 'quorum not reached: 2 usable masks of 2 (need 3)',
    },
    {
      what: 'an empty intersection',
      masks: [rectMask(W, H, { x: 0, y: 0, width: 20, height: 20 }), rectMask(W, H, { x: 40, y: 40, width: 20, height: 20 })],
      opts: { quorum: 1 },
      message: 'aggregated mask of 2 usable masks is empty (coverage 0.00 % < 0.50 %)',
    },
  ])('throws Segmentation.DegenerateMask for $what', ({ masks, opts, message }) => {
    // Act
    let thrown: unknown;
    try {
      aggregateMasks(masks, opts);
    } catch (e) {
      thrown = e;
    }

    // Assess
    expect(thrown).toBeInstanceOf(DegenerateMaskError);
    expect(thrown).toBeInstanceOf(PipelineError);
    expect(thrown).toMatchObject({ name: 'Segmentation.DegenerateMask', message });
  });

  it.each([0, -0.5, 1.5, Number.NaN])('refuses quorum %s', (quorum) => {
    expect(() => aggregateMasks([a, b], { quorum })).toThrow(RangeError);
  });
});

describe('expandMask', () => {
  it.each([
    { r: 1 },
    { r: 4 },
    { r: 10 },
  ])('grows a rectangle by the band and rounded corners of a disc of radius $r', ({ r }) => {
    // Prepare: a 30×20 rectangle well inside the frame
    const mask = rectMask(100, 100, { x: 35, y: 40, width: 30, height: 20 });

    // Act
    const grown = expandMask(mask, r);

    // Assess: area + perimeter band + four quarter discs
    expect(countSet(grown)).toBe(30 * 20 + 2 * r * (30 + 20) + 4 * quarterDiscPoints(r));
    expect(maskStats(grown).bbox).toEqual({ x: 35 - r, y: 40 - r, width: 30 + 2 * r, height: 20 + 2 * r });
  });

  it('grows the torso of a 1024² mask by radius 32 as the disc formula says', () => {
    // Prepare
    const rect = torsoRect(1024, 1024);
    const mask = rectMask(1024, 1024, rect);

    // Act
    const grown = expandMask(mask, 32);

    // Assess
    const expected = rect.width * rect.height + 2 * 32 * (rect.width + rect.height) + 4 * quarterDiscPoints(32);
    expect(countSet(grown)).toBe(expected);
  });

  it('clips the growth at the frame edge', () => {
    // Prepare: a rectangle touching the top-left corner
    const mask = rectMask(50, 50, { x: 0, y: 0, width: 10, height: 10 });

    // Act
    const grown = expandMask(mask, 5);

    // Assess: only the right and bottom bands and one corner fit
    expect(countSet(grown)).toBe(100 + 2 * 5 * 10 + quarterDiscPoints(5));
  });

  it.each([
    { density: 0.01, r: 3 },
    { density: 0.05, r: 5.5 },
    { density: 0.002, r: 9 },
  ])('matches a brute-force disc dilation on random masks (density $density, radius $r)', ({ density, r }) => {
    // Prepare
    const mask = randomMask(57, 43, density, 11);

    // Act
    const grown = expandMask(mask, r);

    // Assess
    expect(Buffer.from(grown.data).equals(Buffer.from(naiveDilate(mask, r)))).toBe(true);
  });

  it('returns a copy for radius 0', () => {
    // Prepare
    const mask = rectMask(20, 20, { x: 5, y: 5, width: 5, height: 5 });

    // Act
    const copy = expandMask(mask, 0);

    // Assess
    expect(copy.data).not.toBe(mask.data);
    expect(Buffer.from(copy.data).equals(Buffer.from(mask.data))).toBe(true);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses radius %s', (r) => {
    expect(() => expandMask(blankMask(4, 4), r)).toThrow(RangeError);
  });
});
