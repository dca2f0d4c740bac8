import { describe, expect, it } from 'vitest';
import { createClassifier } from '../../core/classifier.ts';
import { InvalidInputError, UnclassifiedError } from '../../core/errors.ts';
import { EMPTY_TAUGHT_SET, addTaught, type TaughtSet } from '../../core/taught-patterns.ts';
import { toPipelineError } from '../../lambdas/state/state-handler.ts';
import { toTaskFailure } from '../../worker/failure.ts';
import { TAUGHT_TTL_MS, parseTaughtSet, taughtCache } from '../../adapters/taught-patterns.ts';

/** A store read by the cache: counts reads, serves whatever set the test put there. */
function fakeRead(initial: TaughtSet) {
  const state = { set: initial, reads: 0, fail: false };
  return {
    state,
    read: async () => {
      state.reads++;
      if (state.fail) throw new Error('table unavailable');
      return state.set;
    },
  };
}

const text = 'the backend went to lunch';
const taught = addTaught(EMPTY_TAUGHT_SET, { name: 'Transient.ServiceUnavailable', pattern: 'went to lunch' }, 'op', 't1').set;

describe('the taught patterns cache', () => {
  it('reads at most once per TTL, and a change is in use after the TTL (≤ 60 s)', async () => {
    expect(TAUGHT_TTL_MS).toBeLessThanOrEqual(60_000);
    let now = 1_000_000;
    const store = fakeRead(EMPTY_TAUGHT_SET);
    const cache = taughtCache({ read: store.read, ttlMs: 30_000, now: () => now });
    expect((await cache.classifier()).classify(text).name).toBe('Unclassified');
    store.state.set = taught;
    now += 29_999;
    expect((await cache.classifier()).classify(text).name).toBe('Unclassified');
    expect(store.state.reads).toBe(1);
    now += 1;
    expect((await cache.classifier()).classify(text).name).toBe('Transient.ServiceUnavailable');
    expect([store.state.reads, cache.version()]).toEqual([2, 1]);
  });

  it('concurrent callers share one read', async () => {
    const store = fakeRead(taught);
    const cache = taughtCache({ read: store.read, now: () => 0 });
    const all = await Promise.all([cache.classifier(), cache.classifier(), cache.classifier()]);
    expect(store.state.reads).toBe(1);
    expect(all.every((c) => c.classify(text).name === 'Transient.ServiceUnavailable')).toBe(true);
  });

  it('a failed read keeps the last copy and is not retried before the TTL', async () => {
    let now = 0;
    const errors: unknown[] = [];
    const store = fakeRead(taught);
    const cache = taughtCache({ read: store.read, ttlMs: 10_000, now: () => now, onError: (e) => errors.push(e) });
    await cache.classifier();
    store.state.fail = true;
    now += 10_000;
    expect((await cache.classifier()).classify(text).name).toBe('Transient.ServiceUnavailable');
    now += 5_000;
    await cache.classifier();
    expect([store.state.reads, errors.length]).toEqual([2, 1]);
  });

  it('keeps the configured patterns beside the taught ones', async () => {
    const cache = taughtCache({ read: async () => taught, base: { patterns: [{ name: 'Gpu.Timeout', pattern: 'sampler stalled' }] } });
    const c = await cache.classifier();
    expect([c.classify('sampler stalled').name, c.classify(text).name]).toEqual(['Gpu.Timeout', 'Transient.ServiceUnavailable']);
  });
});

describe('the stored item', () => {
  it('leaves out a stored pattern that no longer validates, keeping the rest', () => {
    const item = JSON.parse(JSON.stringify({ id: 'classifier#patterns', ...taught })) as Record<string, unknown>;
    (item['patterns'] as unknown[]).push({ id: 'tp-9', createdBy: 'x', createdAt: 't', name: 'Gone.Name', match: 'substring', pattern: 'y', ignoreCase: true });
    const set = parseTaughtSet(item);
    expect(set.patterns.map((p) => p.id)).toEqual(['tp-1']);
    expect(parseTaughtSet(undefined)).toEqual(EMPTY_TAUGHT_SET);
  });
});

describe('where failures are named', () => {
  const c = createClassifier({ taught: taught.patterns });
  const plain = createClassifier();

  it('a stage function: raw errors and Unclassified ones take a taught name; a name the code chose stands', () => {
    expect(toPipelineError(new Error(text), c, 'qa').name).toBe('Transient.ServiceUnavailable');
    expect(toPipelineError(new UnclassifiedError(text), c, 'qa')).toMatchObject({ name: 'Transient.ServiceUnavailable', context: { matched: 'taught tp-1:went to lunch' } });
    expect(toPipelineError(new InvalidInputError(text), c, 'qa').name).toBe('Fatal.InvalidInput');
    // Without a taught pattern, an Unclassified error is not renamed by the built-in rules after the fact.
    expect(toPipelineError(new UnclassifiedError('read ECONNRESET'), c, 'qa').name).toBe('Unclassified');
    expect(toPipelineError(new UnclassifiedError(text), plain, 'qa').name).toBe('Unclassified');
  });

  it('a GPU worker: the same rule, in the inpaint stage', () => {
    const inpaintOnly = createClassifier({ taught: addTaught(EMPTY_TAUGHT_SET, { name: 'Gpu.Timeout', pattern: 'went to lunch', stage: 'inpaint' }, 'op', 't').set.patterns });
    expect(toTaskFailure(new Error(text), inpaintOnly).error).toBe('Gpu.Timeout');
    expect(toTaskFailure(new UnclassifiedError(text), inpaintOnly)).toMatchObject({ error: 'Gpu.Timeout', matched: 'taught tp-1:went to lunch' });
    expect(toTaskFailure(new InvalidInputError(text), inpaintOnly).error).toBe('Fatal.InvalidInput');
    expect(toTaskFailure(new UnclassifiedError('read ECONNRESET'), plain).error).toBe('Unclassified');
  });
});
