import { describe, expect, it } from 'vitest';
import { createClassifier } from '../../core/classifier.ts';
import type { RecoveryEntry } from '../../core/job.ts';
import { dryRunTaught, type RecordedFailure } from '../../core/taught-dry-run.ts';
import {
  EMPTY_TAUGHT_SET, MAX_TAUGHT_PATTERN_CHARS, MAX_TAUGHT_PATTERNS, TaughtPatternError, addTaught, removeTaught, taughtPatternInputSchema,
  type TaughtPatternInput,
} from '../../core/taught-patterns.ts';

const issuesOf = (input: unknown) => {
  const r = taughtPatternInputSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('taught pattern validation', () => {
  it.each([
    ['an unknown taxonomy name', { name: 'Transient.Nope', pattern: 'x' }, /^name: must be a taxonomy error name/],
    ['an empty pattern', { name: 'Transient.Network', pattern: '   ' }, /^pattern: must not be empty/],
    ['a pattern too long', { name: 'Transient.Network', pattern: 'x'.repeat(MAX_TAUGHT_PATTERN_CHARS + 1) }, /^pattern: must be at most 300 characters/],
    ['a regex that does not compile', { name: 'Transient.Network', match: 'regex', pattern: 'foo(' }, /^pattern: is not a valid regular expression \(/],
    ['a nested quantifier', { name: 'Transient.Network', match: 'regex', pattern: '(a+)+$' }, /^pattern: may backtrack catastrophically/],
    ['a star of a starred group', { name: 'Transient.Network', match: 'regex', pattern: '(x+x+)+y' }, /^pattern: may backtrack catastrophically/],
    ['a bounded repeat of a repeat', { name: 'Transient.Network', match: 'regex', pattern: '(\\w{1,9}){2,}z' }, /^pattern: may backtrack catastrophically/],
    ['an unknown stage', { name: 'Transient.Network', pattern: 'x', stage: 'printing' }, /^stage: /],
    ['an unknown field', { name: 'Transient.Network', pattern: 'x', flags: 'g' }, /unrecognized key/i],
  ])('refuses %s, naming the field and the reason', (_what, input, expected) => {
    const issues = issuesOf(input);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.join('\n')).toMatch(expected);
  });

  it.each([
    { name: 'Transient.Network', pattern: 'server not reachable after' },
    { name: 'Transient.Network', match: 'regex', pattern: 'not reachable after \\d{1,6} (?:retries|attempts)' },
    { name: 'Fatal.InvalidInput', match: 'regex', pattern: '^OSError: cannot decode', ignoreCase: false, stage: 'inpaint' },
    // A substring is never compiled: parentheses are just characters.
    { name: 'Transient.ServiceUnavailable', pattern: '(a+)+ (' },
  ])('accepts %j', (input) => {
    expect(issuesOf(input)).toEqual([]);
  });

  it('substring matching is the default and ignores case by default', () => {
    expect(taughtPatternInputSchema.parse({ name: 'Transient.Network', pattern: 'x' })).toMatchObject({ match: 'substring', ignoreCase: true });
  });
});

describe('precedence: taught patterns first, newest first', () => {
  const teach = (...inputs: TaughtPatternInput[]) => inputs.reduce((s, input, i) => addTaught(s, input, 'op', `2026-01-0${i + 1}T00:00:00Z`).set, EMPTY_TAUGHT_SET);

  it('names what the built-in rules leave Unclassified', () => {
    const text = 'llama worker: backend went to lunch';
    expect(createClassifier().classify(text).name).toBe('Unclassified');
    const c = createClassifier({ taught: teach({ name: 'Transient.ServiceUnavailable', pattern: 'went to lunch' }).patterns });
    expect(c.classify(text)).toMatchObject({ name: 'Transient.ServiceUnavailable', recoverable: true, matched: 'taught tp-1:went to lunch' });
  });

  it('corrects a built-in rule\'s name and a name the failure carries', () => {
    const text = 'Invalid image file: upstream cache was cold';
    expect(createClassifier().classify(text).name).toBe('Fatal.InvalidInput');
    const c = createClassifier({ taught: teach({ name: 'Transient.Network', pattern: 'upstream cache was cold' }).patterns });
    expect(c.classify(text).name).toBe('Transient.Network');
    expect(c.classify({ name: 'Fatal.InvalidInput', message: text }).name).toBe('Transient.Network');
  });

  it('the newest of two matching patterns wins; the configured and built-in ones come after', () => {
    const set = teach({ name: 'Transient.Network', pattern: 'flaky thing' }, { name: 'Transient.ServiceUnavailable', pattern: 'flaky' });
    const c = createClassifier({ taught: set.patterns, patterns: [{ name: 'Gpu.Timeout', pattern: 'flaky' }] });
    expect(c.classify('the flaky thing broke').matched).toBe('taught tp-2:flaky');
    expect(createClassifier({ patterns: [{ name: 'Gpu.Timeout', pattern: 'flaky' }] }).classify('the flaky thing broke').name).toBe('Gpu.Timeout');
  });

  it('a pattern limited to a stage names failures met in that stage only', () => {
    const c = createClassifier({ taught: teach({ name: 'Gpu.Timeout', pattern: 'stalled', stage: 'inpaint' }).patterns });
    expect(c.classify('sampler stalled', { stage: 'inpaint' }).name).toBe('Gpu.Timeout');
    expect(c.classify('sampler stalled', { stage: 'qa' }).name).toBe('Unclassified');
    expect(c.classify('sampler stalled').name).toBe('Unclassified');
  });

  it('case: ignoreCase false matches the exact case only', () => {
    const c = createClassifier({ taught: teach({ name: 'Transient.Network', match: 'regex', pattern: 'Backend Gone', ignoreCase: false }).patterns });
    expect(c.classify('Backend Gone').name).toBe('Transient.Network');
    expect(c.classify('backend gone').name).toBe('Unclassified');
  });
});

describe('versioned changes', () => {
  it('each add and remove makes the next version and records who and when', () => {
    const a = addTaught(EMPTY_TAUGHT_SET, { name: 'Transient.Network', pattern: 'a' }, 'arn:alice', 't1');
    const b = addTaught(a.set, { name: 'Gpu.Timeout', pattern: 'b' }, 'arn:bob', 't2');
    const c = removeTaught(b.set, 'tp-1', 'arn:carol', 't3');
    expect([a.added.id, b.added.id]).toEqual(['tp-1', 'tp-2']);
    expect(c.set).toMatchObject({ version: 3, updatedBy: 'arn:carol', updatedAt: 't3' });
    expect(c.set.patterns.map((p) => [p.id, p.createdBy, p.createdAt])).toEqual([['tp-2', 'arn:bob', 't2']]);
    expect(c.set.history.map((h) => `${h.version} ${h.action} ${h.id} ${h.by}`)).toEqual(['1 add tp-1 arn:alice', '2 add tp-2 arn:bob', '3 remove tp-1 arn:carol']);
    // Ids are never reused: the next add after a remove is tp-4.
    expect(addTaught(c.set, { name: 'Transient.Network', pattern: 'c' }, 'x', 't4').added.id).toBe('tp-4');
  });

  it('refuses to remove an unknown id and to hold more than the bound', () => {
    expect(() => removeTaught(EMPTY_TAUGHT_SET, 'tp-9', 'x', 't')).toThrow(TaughtPatternError);
    let set = EMPTY_TAUGHT_SET;
    for (let i = 0; i < MAX_TAUGHT_PATTERNS; i++) set = addTaught(set, { name: 'Transient.Network', pattern: `p${i}` }, 'x', 't').set;
    expect(() => addTaught(set, { name: 'Transient.Network', pattern: 'one more' }, 'x', 't')).toThrow(/At most 100 patterns/);
  });
});

describe('dry run over recorded failures', () => {
  const failed = (jobId: string, name: string, cause: string, o: Partial<RecordedFailure> = {}): RecordedFailure => ({
    jobId, packId: 'p1', status: 'failed', error: { name, cause, at: '2026-01-01T00:00:00Z' }, recoveries: [], ...o,
  });
  const entry = (stage: RecoveryEntry['stage']): RecoveryEntry => ({ at: 't', error: 'Unclassified', strategy: 'NEEDS_INTERVENTION', fn: 'QaCheck', stage, attempt: 1, outcome: 'failed' });

  it('lists the failures matched with old and new names and whether deferred recovery could re-run them', () => {
    const jobs = [
      failed('j1', 'Unclassified', '{"errorType":"Unclassified","errorMessage":"analyzer said: brb, rebooting"}', { recoveries: [entry('qa')] }),
      failed('j2', 'Unclassified', 'KeyError: foo'),
      failed('j3', 'Unclassified', 'brb, rebooting again', { deferredReruns: 3 }),
      { ...failed('j4', 'Unclassified', 'brb, rebooting'), status: 'complete' as const },
    ];
    const spec = taughtPatternInputSchema.parse({ name: 'Transient.ServiceUnavailable', pattern: 'BRB, REBOOTING' });
    const out = dryRunTaught(jobs, spec, 3);
    expect(out.map((m) => [m.jobId, m.before.name, m.before.recoverable, m.after.name, m.after.recoverable, m.rerunnable, m.stage])).toEqual([
      ['j1', 'Unclassified', false, 'Transient.ServiceUnavailable', true, true, 'qa'],
      ['j3', 'Unclassified', false, 'Transient.ServiceUnavailable', true, false, null],
    ]);
    expect(out[0]?.matched).toBe('BRB, REBOOTING');
  });

  it('a fatal name is never re-runnable, and a stage limit applies to the recorded stage', () => {
    const jobs = [failed('j1', 'Unclassified', 'odd bytes', { recoveries: [entry('inpaint')] }), failed('j2', 'Unclassified', 'odd bytes', { recoveries: [entry('qa')] })];
    const out = dryRunTaught(jobs, taughtPatternInputSchema.parse({ name: 'Fatal.InvalidInput', pattern: 'odd bytes', stage: 'inpaint' }), 3);
    expect(out.map((m) => [m.jobId, m.after.recoverable, m.rerunnable])).toEqual([['j1', false, false]]);
  });
});
