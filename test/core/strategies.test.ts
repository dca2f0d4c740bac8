/**
 * The recovery strategies as pure functions: what REDUCE_PARAMS, SWITCH_MODEL,
 * RESUME_CHECKPOINT and the ASL retriers' backoff compute.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS, inpaintParamsSchema, type InpaintParams } from '../../core/params.ts';
import { nextBackoff, reduceParams, resumeFrom, switchModel, type Checkpoints } from '../../core/strategies.ts';
import { ERROR_NAMES, entryFor, type RetryPolicy } from '../../core/taxonomy.ts';

const params = (over: Partial<InpaintParams>): InpaintParams => ({ ...DEFAULT_PARAMS, ...over });
const knobs = (p: InpaintParams | null) => (p === null ? null : { batch: p.batch, width: p.width, height: p.height, steps: p.steps });

describe('reduceParams (REDUCE_PARAMS)', () => {
  it.each([
    // batch ÷2 (min 1); width/height ×0.8 to a multiple of 8 (min 512); steps ×0.8 (min 20)
    [{ batch: 4, width: 1536, height: 1536, steps: 50 }, { batch: 2, width: 1232, height: 1232, steps: 40 }],
    [{ batch: 1, width: 1024, height: 768, steps: 30 }, { batch: 1, width: 816, height: 616, steps: 24 }],
    [{ batch: 3, width: 2048, height: 1024, steps: 150 }, { batch: 1, width: 1640, height: 816, steps: 120 }],
    [{ batch: 8, width: 520, height: 512, steps: 21 }, { batch: 4, width: 512, height: 512, steps: 20 }],
    [{ batch: 1, width: 512, height: 512, steps: 25 }, { batch: 1, width: 512, height: 512, steps: 20 }],
    [{ batch: 2, width: 512, height: 512, steps: 20 }, { batch: 1, width: 512, height: 512, steps: 20 }],
  ])('reduces %o to %o', (from, to) => {
    const next = reduceParams(params(from));
    expect(knobs(next)).toEqual(to);
  });

  it('returns null when every knob is at its floor', () => {
    expect(reduceParams(params({ batch: 1, width: 512, height: 512, steps: 20 }))).toBeNull();
  });

  it('keeps everything it does not reduce', () => {
    const from = params({ model: 'alt.safetensors', seed: 7, denoise: 0.6, maskExpandPx: 24 });
    const next = reduceParams(from);
    expect(next).toMatchObject({ model: 'alt.safetensors', seed: 7, denoise: 0.6, maskExpandPx: 24 });
  });

  it('walks 1536×1536, batch 4, 50 steps down to the floor, each step valid and smaller', () => {
    const seen: ReturnType<typeof knobs>[] = [];
    let p: InpaintParams | null = params({ batch: 4, width: 1536, height: 1536, steps: 50 });
    while (p !== null && seen.length < 20) {
      seen.push(knobs(p));
      const next: InpaintParams | null = reduceParams(p);
      if (next !== null) {
        // The result is valid input for ComfyUI and never asks for more than before.
        expect(() => inpaintParamsSchema.parse(next)).not.toThrow();
        expect(next.width % 8 + next.height % 8).toBe(0);
        expect(next.batch * next.width * next.height * next.steps).toBeLessThan(p.batch * p.width * p.height * p.steps);
      }
      p = next;
    }
    expect(seen).toEqual([
      { batch: 4, width: 1536, height: 1536, steps: 50 },
      { batch: 2, width: 1232, height: 1232, steps: 40 },
      { batch: 1, width: 984, height: 984, steps: 32 },
      { batch: 1, width: 784, height: 784, steps: 26 },
      { batch: 1, width: 624, height: 624, steps: 21 },
      { batch: 1, width: 512, height: 512, steps: 20 },
    ]);
  });
});

describe('switchModel (SWITCH_MODEL)', () => {
  const chain = ['a.safetensors', 'b.safetensors', 'c.safetensors', 'd.safetensors'];

  it.each([
    ['a.safetensors', [], 'b.safetensors'],
    ['b.safetensors', [], 'c.safetensors'],
    ['d.safetensors', [], 'a.safetensors'],
    ['b.safetensors', ['c.safetensors'], 'd.safetensors'],
    ['c.safetensors', ['d.safetensors', 'a.safetensors'], 'b.safetensors'],
    ['elsewhere.safetensors', [], 'a.safetensors'],
    ['elsewhere.safetensors', ['a.safetensors', 'b.safetensors'], 'c.safetensors'],
  ] as const)('from %s having tried %o goes to %s', (current, tried, next) => {
    expect(switchModel(current, chain, tried)).toBe(next);
  });

  it('returns null when the chain is spent', () => {
    expect(switchModel('b.safetensors', chain, ['a.safetensors', 'c.safetensors', 'd.safetensors'])).toBeNull();
    expect(switchModel('a.safetensors', ['a.safetensors'])).toBeNull();
    expect(switchModel('a.safetensors', [])).toBeNull();
  });

  it('visits every model once along the chain, then stops', () => {
    const visited = ['b.safetensors'];
    for (let next = switchModel('b.safetensors', chain, []); next !== null; next = switchModel(next, chain, visited)) visited.push(next);
    expect(visited).toEqual(['b.safetensors', 'c.safetensors', 'd.safetensors', 'a.safetensors']);
  });
});

describe('resumeFrom (RESUME_CHECKPOINT)', () => {
  it.each([
    [{}, 'segmentation'],
    [{ segmentation: 's3://m' }, 'inpaint'],
    [{ segmentation: 's3://m', inpaint: 's3://i' }, 'compositing'],
    [{ segmentation: 's3://m', inpaint: 's3://i', compositing: 's3://c' }, 'qa'],
    [{ segmentation: 's3://m', compositing: 's3://c' }, 'inpaint'],
    [{ segmentation: 's3://m', inpaint: 's3://i', compositing: 's3://c', qa: 's3://q' }, 'qa'],
  ] as [Checkpoints, string][])('resumes %o at %s', (checkpoints, stage) => {
    expect(resumeFrom(checkpoints)).toBe(stage);
  });
});

describe('nextBackoff (the ASL retrier delay)', () => {
  const policy: RetryPolicy = { IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 5, MaxDelaySeconds: 30, JitterStrategy: 'FULL' };
  const noJitter: RetryPolicy = { ...policy, JitterStrategy: 'NONE' };

  it.each([
    [1, 2], [2, 4], [3, 8], [4, 16], [5, 30], [6, 30], [12, 30],
  ])('waits at most interval × rate^(n-1), capped: attempt %i → %i s', (attempt, seconds) => {
    expect(nextBackoff(attempt, noJitter)).toBe(seconds);
    expect(nextBackoff(attempt, policy, () => 1)).toBe(seconds);
    expect(nextBackoff(attempt, policy, () => 0)).toBe(0);
    expect(nextBackoff(attempt, policy, () => 0.5)).toBe(seconds / 2);
  });

  it('keeps FULL jitter within [0, cap] for any random draw', () => {
    // A seeded generator (mulberry32) so a failure replays.
    let state = 0x2f6b1c3d;
    const random = () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let i = 0; i < 500; i++) {
      const attempt = 1 + (i % 10);
      const cap = Math.min(2 * 2 ** (attempt - 1), 30);
      const d = nextBackoff(attempt, policy, random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(cap);
    }
  });

  it.each(ERROR_NAMES.filter((n) => entryFor(n).retry !== null))('never waits past MaxDelaySeconds under the %s policy', (name) => {
    const p = entryFor(name).retry as RetryPolicy;
    for (let attempt = 1; attempt <= p.MaxAttempts + 3; attempt++) expect(nextBackoff(attempt, p, () => 1)).toBeLessThanOrEqual(p.MaxDelaySeconds);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses attempt %s with a RangeError', (attempt) => {
    let thrown: unknown;
    try {
      nextBackoff(attempt, policy);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(RangeError);
    expect((thrown as RangeError).message).toBe(`attempt must be an integer ≥ 1, got ${attempt}`);
  });
});
