/**
 * The taxonomy as a table (README "Add an error to the taxonomy"; core/taxonomy.ts): every name with its family, recoverability and
 * strategy, the retry policies behind RETRY_BACKOFF, and the error classes that carry the names.
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../../core/errors.ts';
import { PipelineError, pipelineError } from '../../core/errors.ts';
import {
  breakerVerdict,
  DEFAULT_STRATEGY_ATTEMPTS,
  ERROR_NAMES,
  FAMILIES,
  JOB_RECOVERY_BUDGET,
  STRATEGIES,
  TAXONOMY,
  entryFor,
  isErrorName,
  namesWithStrategy,
  type ErrorName,
  type Family,
  type Strategy,
  type TaxonomyEntry,
} from '../../core/taxonomy.ts';

/** The taxonomy written out once more by hand, as a second reading of the spec: the code must agree with it. */
const EXPECTED: readonly (readonly [ErrorName, Family, boolean, Strategy])[] = [
  ['Transient.Network', 'Transient', true, 'RETRY_BACKOFF'],
  ['Transient.ServiceUnavailable', 'Transient', true, 'RETRY_BACKOFF'],
  ['Transient.RateLimited', 'Transient', true, 'RETRY_BACKOFF'],
  ['Transient.Throttled', 'Transient', true, 'RETRY_BACKOFF'],
  ['Transient.CircuitOpen', 'Transient', true, 'RETRY_BACKOFF'],
  ['Lambda.ServiceException', 'Lambda', true, 'RETRY_BACKOFF'],
  ['Lambda.AWSLambdaException', 'Lambda', true, 'RETRY_BACKOFF'],
  ['Lambda.SdkClientException', 'Lambda', true, 'RETRY_BACKOFF'],
  ['Lambda.TooManyRequestsException', 'Lambda', true, 'RETRY_BACKOFF'],
  ['Lambda.ClientExecutionTimeoutException', 'Lambda', true, 'RETRY_BACKOFF'],
  ['Lambda.Unknown', 'Lambda', true, 'RETRY_BACKOFF'],
  ['Sandbox.Timedout', 'Sandbox', true, 'RETRY_BACKOFF'],
  ['Gpu.OutOfMemory', 'Gpu', true, 'REDUCE_PARAMS'],
  ['Gpu.ModelMissing', 'Gpu', true, 'SWITCH_MODEL'],
  ['Gpu.Timeout', 'Gpu', true, 'RESUME_CHECKPOINT'],
  ['States.HeartbeatTimeout', 'States', true, 'RESUME_CHECKPOINT'],
  ['States.Timeout', 'States', true, 'RESUME_CHECKPOINT'],
  ['Provider.MalformedResponse', 'Provider', true, 'RETRY_BACKOFF'],
  ['Segmentation.DegenerateMask', 'Segmentation', true, 'RESEGMENT'],
  ['Compositing.Failed', 'Compositing', true, 'RETRY_BACKOFF'],
  ['Qa.Rejected', 'Qa', true, 'FIX_AND_RETRY'],
  ['Fatal.DiskFull', 'Fatal', false, 'ABORT'],
  ['Fatal.WorkflowInvalid', 'Fatal', false, 'ABORT'],
  ['Fatal.InvalidInput', 'Fatal', false, 'ABORT'],
  ['Fatal.DataCorruption', 'Fatal', false, 'ABORT'],
  ['Recovery.Exhausted', 'Recovery', false, 'ABORT'],
  ['Control.Stopped', 'Control', false, 'STOP'],
  ['Unclassified', 'Unclassified', false, 'NEEDS_INTERVENTION'],
];

const entries: readonly TaxonomyEntry[] = ERROR_NAMES.map((n) => entryFor(n));

/** The failures that indict the dependency that answered, and those that say nothing of it; every other name proves it up. */
const INDICTING: readonly ErrorName[] = ['Transient.Network', 'Transient.ServiceUnavailable', 'Transient.RateLimited', 'Gpu.Timeout', 'Provider.MalformedResponse'];
const SILENT: readonly ErrorName[] = ['Transient.Throttled', 'Transient.CircuitOpen'];

describe('the taxonomy table', () => {
  it('holds exactly the names of the table above, each once', () => {
    expect(ERROR_NAMES).toEqual(EXPECTED.map(([name]) => name));
    expect(new Set(ERROR_NAMES).size).toBe(ERROR_NAMES.length);
    expect(TAXONOMY.size).toBe(ERROR_NAMES.length);
  });

  it.each(EXPECTED)('%s is family %s, recoverable %s, strategy %s', (name, family, recoverable, strategy) => {
    const e = entryFor(name);
    expect(e.name).toBe(name);
    expect(e.family).toBe(family);
    expect(e.recoverable).toBe(recoverable);
    expect(e.strategy).toBe(strategy);
    expect(FAMILIES).toContain(e.family);
    expect(STRATEGIES).toContain(e.strategy);
    expect(e.description.length).toBeGreaterThan(10);
  });

  it.each(entries.map((e) => [e.name, e] as const))('%s is named after its family', (name, e) => {
    if (e.family === 'Unclassified') expect(name).toBe('Unclassified');
    else expect(name.startsWith(`${e.family}.`)).toBe(true);
  });

  it.each(ERROR_NAMES.map((n) => [n, INDICTING.includes(n) ? 'failure' : SILENT.includes(n) ? 'neither' : 'success'] as const))(
    '%s counts against its dependency\'s breaker as %s', (name, verdict) => {
      expect(breakerVerdict(name)).toBe(verdict);
    });

  it('reads a name outside the taxonomy as Unclassified for the breaker: the dependency answered', () => {
    expect(breakerVerdict('SomethingElse')).toBe('success');
  });

  it('reserves the States. prefix for the two Step Functions timeouts', () => {
    expect(ERROR_NAMES.filter((n) => n.startsWith('States.'))).toEqual(['States.HeartbeatTimeout', 'States.Timeout']);
  });

  it('gives a retry policy exactly to the RETRY_BACKOFF entries', () => {
    for (const e of entries) expect(e.retry !== null, e.name).toBe(e.strategy === 'RETRY_BACKOFF');
    expect(namesWithStrategy('RETRY_BACKOFF')).toEqual(entries.filter((e) => e.retry !== null).map((e) => e.name));
  });

  it.each(entries.filter((e) => e.retry !== null).map((e) => [e.name, e] as const))('%s has a sane retry policy', (name, e) => {
    const r = e.retry;
    if (r === null) throw new Error(`${name} lost its policy`);
    expect(r.IntervalSeconds).toBeGreaterThan(0);
    expect(r.BackoffRate).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(r.MaxAttempts) && r.MaxAttempts >= 1).toBe(true);
    expect(r.MaxDelaySeconds).toBeGreaterThanOrEqual(r.IntervalSeconds);
    expect(['FULL', 'NONE']).toContain(r.JitterStrategy);
    // The strategy's bound and the ASL retrier's bound are one number.
    expect(e.maxStrategyAttempts).toBe(r.MaxAttempts);
  });

  it.each(entries.filter((e) => e.family === 'Transient').map((e) => [e.name, e] as const))(
    '%s retries with full jitter (synchronized clients must spread out)',
    (_name, e) => {
      expect(e.retry?.JitterStrategy).toBe('FULL');
    },
  );

  it('backs transient network failures off 2 s, 4 s, 8 s … up to 30 s', () => {
    expect(entryFor('Transient.Network').retry).toMatchObject({ IntervalSeconds: 2, BackoffRate: 2, MaxDelaySeconds: 30, JitterStrategy: 'FULL' });
  });

  it('makes rate limits and open breakers wait longer than a network hiccup', () => {
    const network = entryFor('Transient.Network').retry;
    for (const name of ['Transient.RateLimited', 'Transient.CircuitOpen'] as const) {
      const r = entryFor(name).retry;
      expect(r?.IntervalSeconds, name).toBeGreaterThan(network?.IntervalSeconds ?? Infinity);
      expect(r?.MaxDelaySeconds, name).toBeGreaterThan(network?.MaxDelaySeconds ?? Infinity);
    }
  });

  it.each(entries.filter((e) => !e.recoverable).map((e) => [e.name, e] as const))('%s is never retried', (_name, e) => {
    expect(e.retry).toBeNull();
    expect(['ABORT', 'NEEDS_INTERVENTION', 'STOP']).toContain(e.strategy);
    expect(e.maxStrategyAttempts).toBe(0);
  });

  it.each(entries.filter((e) => e.recoverable).map((e) => [e.name, e] as const))('%s has a bounded, non-zero number of attempts', (_name, e) => {
    expect(Number.isInteger(e.maxStrategyAttempts)).toBe(true);
    expect(e.maxStrategyAttempts).toBeGreaterThanOrEqual(1);
    expect(e.maxStrategyAttempts).toBeLessThanOrEqual(JOB_RECOVERY_BUDGET);
    expect(['ABORT', 'NEEDS_INTERVENTION', 'STOP']).not.toContain(e.strategy);
  });

  it('bounds each strategy at 3 attempts by default, within a larger job budget', () => {
    expect(DEFAULT_STRATEGY_ATTEMPTS).toBe(3);
    expect(entryFor('Gpu.OutOfMemory').maxStrategyAttempts).toBe(DEFAULT_STRATEGY_ATTEMPTS);
    expect(JOB_RECOVERY_BUDGET).toBeGreaterThan(DEFAULT_STRATEGY_ATTEMPTS);
  });

  it('reads unknown names as Unclassified, which is never recoverable', () => {
    expect(isErrorName('Gpu.OutOfMemory')).toBe(true);
    for (const x of ['nope', 'gpu.outofmemory', '', null, 42, undefined]) expect(isErrorName(x)).toBe(false);
    expect(entryFor('nope')).toBe(entryFor('Unclassified'));
    expect(entryFor('nope').recoverable).toBe(false);
  });
});

/** Every class exported from core/errors.ts that builds a PipelineError of one name. */
const errorClasses = Object.entries(errors).filter(
  (entry): entry is [string, new (message: string, options?: ErrorOptions) => PipelineError] =>
    typeof entry[1] === 'function' && entry[1].prototype instanceof PipelineError,
);

describe('the error classes', () => {
  it('exist for every name our code throws (all but the AWS-raised Lambda.*, Sandbox.* and States.*)', () => {
    const thrown = errorClasses.map(([, Ctor]) => new Ctor('m').name).sort();
    const ours = ERROR_NAMES.filter((n) => !['Lambda', 'Sandbox', 'States'].includes(entryFor(n).family)).slice().sort();
    expect(thrown).toEqual(ours);
  });

  it.each(errorClasses)('%s carries a taxonomy name and is a PipelineError', (_exportName, Ctor) => {
    const cause = new Error('root');
    const e = new Ctor('m', { cause });
    expect(isErrorName(e.name)).toBe(true);
    expect(e).toBeInstanceOf(PipelineError);
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe('m');
    expect(e.cause).toBe(cause);
    expect(e.recoverable).toBe(entryFor(e.name).recoverable);
    expect(e.entry).toBe(entryFor(e.name));
  });

  it('builds a named error for a name known only at run time', () => {
    const e = pipelineError('Gpu.OutOfMemory', 'VRAM', { context: { jobId: 'j1', attempt: 2 } });
    expect(e.name).toBe('Gpu.OutOfMemory');
    expect(e.recoverable).toBe(true);
    expect(e.context).toEqual({ jobId: 'j1', attempt: 2 });
  });

  it('turns a name outside the taxonomy into Unclassified', () => {
    const e = pipelineError('nope', 'm');
    expect(e.name).toBe('Unclassified');
    expect(e.recoverable).toBe(false);
    expect(e).toBeInstanceOf(PipelineError);
  });
});
