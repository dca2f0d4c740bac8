import { describe, expect, it } from 'vitest';
import { deriveSeed, planFix } from '../../core/fixer.ts';
import { QA_CODES, type QaCode, type QaReport } from '../../core/images/qa.ts';
import { DEFAULT_PARAMS, inpaintParamsSchema, PARAM_BOUNDS, type InpaintParams } from '../../core/params.ts';

/** A failed report holding the given codes; the fixer reads only the codes. */
function reportWith(...codes: QaCode[]): QaReport {
  return {
    score: 40,
    passed: false,
    threshold: 70,
    reasons: codes.map((code) => ({ code, message: code })),
    metrics: { meanLuma: 90, lumaStdDev: 12, maskCoverage: 0.2, changeInsideMask: 20, changeOutsideMask: 0 },
  };
}

const base: InpaintParams = { ...DEFAULT_PARAMS }; // steps 30, denoise 0.85, maskExpandPx 16, seed 42
const newSeed = deriveSeed(base.seed, 1);

describe('planFix', () => {
  it.each([
    { code: 'black_output', changed: { seed: newSeed, steps: 38 } },
    { code: 'blank_output', changed: { seed: newSeed, steps: 38 } },
    { code: 'analyzer_fail', changed: { seed: newSeed } },
    { code: 'size_mismatch', changed: { seed: newSeed } },
    { code: 'no_change_inside_mask', changed: { denoise: 0.95 } },
    { code: 'mask_coverage_low', changed: { maskExpandPx: 24 } },
    { code: 'mask_coverage_high', changed: { maskExpandPx: 8 } },
    { code: 'change_outside_mask', changed: { maskExpandPx: 8 } },
  ] satisfies { code: QaCode; changed: Partial<InpaintParams> }[])('answers $code by changing $changed', ({ code, changed }) => {
    // Act
    const plan = planFix(reportWith(code), base, 1);

    // Assess: exactly these knobs moved, each with a line naming the reason
    expect(plan.params).toEqual({ ...base, ...changed });
    expect(plan.changes).toHaveLength(Object.keys(changed).length);
    for (const line of plan.changes) expect(line).toContain(`(${code})`);
  });

  it('covers every QA code with a plan that differs from the input', () => {
    for (const code of QA_CODES) expect(planFix(reportWith(code), base, 1).params).not.toEqual(base);
  });

  it('describes each change as knob, old value, new value and reason', () => {
    // Act
    const { changes } = planFix(reportWith('no_change_inside_mask', 'mask_coverage_low'), base, 1);

    // Assess
    expect(changes).toEqual(['denoise 0.85 → 0.95 (no_change_inside_mask)', 'maskExpandPx 16 → 24 (mask_coverage_low)']);
  });

  it('raises steps instead when denoise is already at its ceiling', () => {
    // Act
    const plan = planFix(reportWith('no_change_inside_mask'), { ...base, denoise: 1 }, 1);

    // Assess
    expect(plan.params).toEqual({ ...base, denoise: 1, steps: 38 });
    expect(plan.changes).toEqual(['steps 30 → 38 (no_change_inside_mask)']);
  });

  it('changes the seed when every knob a reason asks for is at its bound', () => {
    // Prepare
    const atBounds = { ...base, maskExpandPx: PARAM_BOUNDS.maskExpandPx.max };

    // Act
    const plan = planFix(reportWith('mask_coverage_low'), atBounds, 2);

    // Assess
    expect(plan.params).toEqual({ ...atBounds, seed: deriveSeed(base.seed, 2) });
    expect(plan.changes).toEqual([
      `seed 42 → ${deriveSeed(base.seed, 2)} (no knob left to move for mask_coverage_low; a new seed makes the retry differ)`,
    ]);
  });

  it('keeps the mask margin when reasons pull it both ways, and changes the seed', () => {
    // Act
    const plan = planFix(reportWith('mask_coverage_low', 'change_outside_mask'), base, 1);

    // Assess
    expect(plan.params).toEqual({ ...base, seed: newSeed });
    expect(plan.changes[0]).toBe('maskExpandPx kept at 16 (mask_coverage_low and change_outside_mask pull both ways)');
  });

  it('changes the seed for a report without reasons', () => {
    expect(planFix(reportWith(), base, 1).params).toEqual({ ...base, seed: newSeed });
  });

  it('combines the answers to several reasons', () => {
    // Act
    const plan = planFix(reportWith('black_output', 'analyzer_fail', 'no_change_inside_mask'), base, 1);

    // Assess
    expect(plan.params).toEqual({ ...base, seed: newSeed, steps: 38, denoise: 0.95 });
    expect(plan.changes).toContain(`seed 42 → ${newSeed} (black_output, analyzer_fail)`);
  });

  it('is deterministic, and different fix attempts draw different seeds', () => {
    // Act
    const first = planFix(reportWith('analyzer_fail'), base, 1);
    const again = planFix(reportWith('analyzer_fail'), base, 1);
    const second = planFix(reportWith('analyzer_fail'), base, 2);

    // Assess
    expect(again).toEqual(first);
    expect(second.params.seed).not.toBe(first.params.seed);
  });

  it.each([
    { what: 'minimum', params: { ...base, steps: 20, denoise: 0.1, maskExpandPx: 0, seed: 0, batch: 1, width: 512, height: 512 } },
    { what: 'maximum', params: { ...base, steps: 150, denoise: 1, maskExpandPx: 128, seed: 2 ** 32 - 1, batch: 8, width: 2048, height: 2048 } },
  ])('keeps every knob within PARAM_BOUNDS from the $what bounds', ({ params }) => {
    for (const code of QA_CODES) {
      for (let attempt = 0; attempt < 4; attempt++) {
        // Act
        const plan = planFix(reportWith(code), params, attempt);

        // Assess
        expect(inpaintParamsSchema.safeParse(plan.params).success).toBe(true);
        expect(plan.params).not.toEqual(params);
      }
    }
  });

  it.each([-1, 1.5, Number.NaN])('refuses fix attempt %s', (attempt) => {
    expect(() => planFix(reportWith('analyzer_fail'), base, attempt)).toThrow(RangeError);
  });
});

describe('deriveSeed', () => {
  it('returns a 32-bit seed different from the old one', () => {
    for (const seed of [0, 1, 42, 2 ** 31, 2 ** 32 - 1]) {
      for (let attempt = 0; attempt < 20; attempt++) {
        const next = deriveSeed(seed, attempt);
        expect(Number.isInteger(next) && next >= 0 && next <= 2 ** 32 - 1).toBe(true);
        expect(next).not.toBe(seed);
      }
    }
  });
});
