import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { CompositingFailedError, InvalidInputError } from '../../core/errors.ts';
import { compositeThroughMask } from '../../core/images/composite.ts';
import { expandMask, type Mask } from '../../core/images/mask.ts';
import { DEFAULT_QA_THRESHOLDS, qaReport, qaReportSchema, type AnalyzerVerdict } from '../../core/images/qa.ts';
import { garmentImage, personImage, rectMask, solidImage, torsoRect } from '../support/images.ts';

const W = 128;
const H = 128;
const pass: AnalyzerVerdict = { verdict: 'pass', score: 0.92, reasons: [] };

describe('qaReport', () => {
  const mask = rectMask(W, H, torsoRect(W, H));
  let person: Buffer;
  let good: Buffer;
  const compositeWith = async (inpainted: Buffer, through: Mask = mask) => compositeThroughMask({ original: person, inpainted, mask: through });

  beforeAll(async () => {
    person = await personImage(W, H);
    good = await compositeWith(await garmentImage(W, H, [200, 30, 40]));
  });

  it('passes a good composite with a full score and clean metrics', async () => {
    // Act
    const report = await qaReport({ original: person, result: good, mask, analyzer: pass });

    // Assess
    expect(report).toMatchObject({ score: 100, passed: true, threshold: 70, reasons: [] });
    expect(report.metrics.changeOutsideMask).toBe(0);
    expect(report.metrics.changeInsideMask).toBeGreaterThan(DEFAULT_QA_THRESHOLDS.minChangeInside);
    const torso = torsoRect(W, H);
    expect(report.metrics.maskCoverage).toBeCloseTo((torso.width * torso.height) / (W * H), 6);
    expect(qaReportSchema.parse(report)).toEqual(report);
  });

  it.each([
    { what: 'black output', fill: [0, 0, 0] as const, code: 'black_output', score: 0 },
    { what: 'flat grey output', fill: [128, 128, 128] as const, code: 'blank_output', score: 20 },
  ])('fails $what as a hard failure', async ({ fill, code, score }) => {
    // Prepare: the inpaint produced a uniform image, composited into the garment area
    const result = await compositeWith(await solidImage(W, H, fill));

    // Act
    const report = await qaReport({ original: person, result, mask, analyzer: pass });

    // Assess
    expect(report.passed).toBe(false);
    expect(report.score).toBe(score);
    expect(report.reasons.map((r) => r.code)).toEqual([code]);
  });

  it('fails a result that changed pixels outside the mask', async () => {
    // Prepare: the inpaint was composited through a larger mask than the one on record
    const result = await compositeWith(await garmentImage(W, H, [200, 30, 40]), expandMask(mask, 12));

    // Act
    const report = await qaReport({ original: person, result, mask, analyzer: pass });

    // Assess
    expect(report.passed).toBe(false);
    expect(report.score).toBe(60);
    expect(report.reasons).toEqual([
      { code: 'change_outside_mask', message: expect.stringMatching(/^pixels outside the mask changed \(mean difference [\d.]+ > 0\.5\)$/), value: report.metrics.changeOutsideMask },
    ]);
    expect(report.metrics.changeOutsideMask).toBeGreaterThan(0.5);
  });

  it('fails a result in which the garment area did not change', async () => {
    // Act: the "result" is the original itself
    const report = await qaReport({ original: person, result: person, mask, analyzer: pass });

    // Assess
    expect(report).toMatchObject({ passed: false, score: 60 });
    expect(report.reasons.map((r) => r.code)).toEqual(['no_change_inside_mask']);
    expect(report.metrics.changeInsideMask).toBe(0);
  });

  it('fails a good-looking composite the analyzer rejects, naming its reasons', async () => {
    // Act
    const report = await qaReport({
      original: person, result: good, mask,
      analyzer: { verdict: 'fail', score: 0.31, reasons: ['sleeve merges with background', 'wrong collar'] },
    });

    // Assess
    expect(report).toMatchObject({ passed: false, score: 50 });
    expect(report.reasons).toEqual([{
      code: 'analyzer_fail',
      message: 'analyzer rejected the result (score 0.31): sleeve merges with background; wrong collar',
      value: 0.31,
    }]);
  });

  it('flags a tiny mask but still passes when nothing else is wrong', async () => {
    // Prepare: 8×8 of 128×128 is 0.39 % coverage
    const tiny = rectMask(W, H, { x: 60, y: 60, width: 8, height: 8 });
    const result = await compositeWith(await garmentImage(W, H, [20, 160, 60]), tiny);

    // Act
    const report = await qaReport({ original: person, result, mask: tiny });

    // Assess
    expect(report).toMatchObject({ passed: true, score: 80 });
    expect(report.reasons).toEqual([{ code: 'mask_coverage_low', message: 'mask covers 0.39 % of the frame (< 1.00 %)', value: 0.003906 }]);
  });

  it('flags a mask that covers nearly the whole frame', async () => {
    // Prepare
    const huge = rectMask(W, H, { x: 0, y: 0, width: W, height: H - 4 });
    const result = await compositeWith(await garmentImage(W, H, [20, 160, 60]), huge);

    // Act
    const report = await qaReport({ original: person, result, mask: huge });

    // Assess
    expect(report.reasons.map((r) => r.code)).toEqual(['mask_coverage_high']);
  });

  it('applies a stricter pass score from the thresholds', async () => {
    // Prepare
    const tiny = rectMask(W, H, { x: 60, y: 60, width: 8, height: 8 });
    const result = await compositeWith(await garmentImage(W, H, [20, 160, 60]), tiny);

    // Act
    const report = await qaReport({ original: person, result, mask: tiny }, { passScore: 90 });

    // Assess
    expect(report).toMatchObject({ passed: false, score: 80, threshold: 90 });
  });

  it('fails a result of another size than the original and still measures it', async () => {
    // Prepare
    const smaller = await sharp(good).resize(W / 2, H / 2).png().toBuffer();

    // Act
    const report = await qaReport({ original: person, result: smaller, mask, analyzer: pass });

    // Assess
    expect(report.passed).toBe(false);
    expect(report.reasons[0]).toEqual({ code: 'size_mismatch', message: `result is ${W / 2}×${H / 2} but the original is ${W}×${H}` });
    expect(report.metrics.changeInsideMask).toBeGreaterThan(DEFAULT_QA_THRESHOLDS.minChangeInside);
  });

  it('throws Compositing.Failed for an unreadable result', async () => {
    // Act
    const failure = qaReport({ original: person, result: Buffer.from('nope'), mask });

    // Assess
    await expect(failure).rejects.toBeInstanceOf(CompositingFailedError);
    await expect(failure).rejects.toMatchObject({ name: 'Compositing.Failed', message: expect.stringMatching(/^result image is not readable: /) });
  });

  it('throws Fatal.InvalidInput for an unreadable original', async () => {
    // Act
    const failure = qaReport({ original: Buffer.from('nope'), result: good, mask });

    // Assess
    await expect(failure).rejects.toBeInstanceOf(InvalidInputError);
    await expect(failure).rejects.toMatchObject({ name: 'Fatal.InvalidInput' });
  });

  it('throws Compositing.Failed when the mask is not the size of the original', async () => {
    await expect(qaReport({ original: person, result: good, mask: rectMask(64, 64, { x: 0, y: 0, width: 8, height: 8 }) }))
      .rejects.toMatchObject({ name: 'Compositing.Failed', message: `mask is 64×64 but the original is ${W}×${H}` });
  });
});

describe('qaReportSchema', () => {
  it('rejects a report with an unknown reason code or an out-of-range score', () => {
    // Prepare
    const metrics = { meanLuma: 100, lumaStdDev: 20, maskCoverage: 0.2, changeInsideMask: 30, changeOutsideMask: 0 };

    // Act
    const unknownCode = qaReportSchema.safeParse({ score: 90, passed: true, threshold: 70, reasons: [{ code: 'vibes', message: 'x' }], metrics });
    const badScore = qaReportSchema.safeParse({ score: 140, passed: true, threshold: 70, reasons: [], metrics });

    // Assess
    expect(unknownCode.success).toBe(false);
    expect(badScore.success).toBe(false);
  });
});
