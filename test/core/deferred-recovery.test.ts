/**
 * Deferred recovery's decisions as a table: a failed job's error and ledger × re-runs spent ×
 * time since it failed × its dependency's breaker and health check → leave or re-run; and
 * auto-recovery's own breaker: 5 consecutive failed re-runs pause it, a cooldown resumes it.
 */
import { describe, expect, it } from 'vitest';
import { fail, succeed, CLOSED_BREAKER, type Breaker, type BreakerProvider } from '../../core/breaker.ts';
import {
  DEFERRED_FN, autoRecoveryAdmits, decideDeferred, deferredSettings, dependencyOf, failureCause, isDeferrable, rerunOutcome,
  type DependencyHealth,
} from '../../core/deferred-recovery.ts';
import { newJobRecord, type JobRecord, type RecoveryEntry } from '../../core/job.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { summarize } from '../../core/statistics.ts';
import { watchdogSettings } from '../../core/watchdog.ts';

const W = watchdogSettings();
const S = deferredSettings(W);
const NOW = Date.parse('2026-03-01T12:00:00Z');
const MIN = 60_000;
const ago = (ms: number) => new Date(NOW - ms).toISOString();

const entry = (error: string, fn: string, over: Partial<RecoveryEntry> = {}): RecoveryEntry => ({
  at: ago(70 * MIN), error, strategy: 'RETRY_BACKOFF', fn, stage: null, attempt: 1, outcome: 'failed', ...over,
});

function failed(name: string, recoveries: RecoveryEntry[], over: Partial<JobRecord> = {}, failedAgo = 6 * MIN): JobRecord {
  return {
    ...newJobRecord({ packId: 'p', jobId: 'j', inpaint: 'comfyui', inputs: { person: 'a', garment: 'b' }, params: DEFAULT_PARAMS, now: ago(90 * MIN) }),
    status: 'failed', updatedAt: ago(failedAgo), error: { name, cause: 'c', at: ago(failedAgo) }, recoveries, ...over,
  };
}

const UP: DependencyHealth = { breaker: 'closed', probe: { ok: true } };
const healthy = (): DependencyHealth => UP;

interface Row {
  readonly name: string;
  readonly job: JobRecord;
  readonly health?: Partial<Record<BreakerProvider, DependencyHealth>>;
  readonly packRunning?: boolean;
  readonly expect: Record<string, unknown>;
  /** A fragment of the reason or the recovery-path line. */
  readonly says?: string;
}

const analyzer503 = [entry('Transient.ServiceUnavailable', 'QaCheck', { stage: 'qa' })];

const ROWS: Row[] = [
  // What qualifies.
  { name: 'Transient.ServiceUnavailable from the analyzer, 6 min ago, analyzer healthy: re-run 1',
    job: failed('Transient.ServiceUnavailable', analyzer503), expect: { kind: 'rerun', rerun: 1 },
    says: 'deferred re-run 1 of 3 after Transient.ServiceUnavailable — analyzer healthy again' },
  { name: 'Recovery.Exhausted whose failed faults were all temporary: re-run naming the newest stage fault',
    job: failed('Recovery.Exhausted', [entry('Transient.Network', 'SegmentationCall', { stage: 'segmentation' }), entry('Transient.RateLimited', 'SegmentationCall', { stage: 'segmentation' })]),
    expect: { kind: 'rerun' }, says: 'after Transient.RateLimited — segmentation healthy again' },
  { name: 'Transient.CircuitOpen from hosted inpaint', job: failed('Transient.CircuitOpen', [entry('Transient.CircuitOpen', 'HostedSubmit', { stage: 'inpaint' })], { inpaint: 'hosted' }),
    expect: { kind: 'rerun' }, says: 'hosted-inpaint healthy again' },
  { name: 'heartbeat timeouts exhausted on the GPU: waits for the ComfyUI fleet', job: failed('States.HeartbeatTimeout', [entry('States.HeartbeatTimeout', 'GPU', { stage: 'inpaint' })]),
    expect: { kind: 'rerun' }, says: 'comfyui healthy again' },
  { name: 'a Lambda failure in compositing names no dependency', job: failed('Lambda.ServiceException', [entry('Lambda.ServiceException', 'Compose', { stage: 'compositing' })]),
    expect: { kind: 'rerun' }, says: 'no external dependency named' },
  { name: "the watchdog's exhausted restarts of a job stuck in QA wait for the analyzer",
    job: failed('Recovery.Exhausted', [entry('States.Timeout', 'Watchdog', { stage: 'compositing' })], { checkpoints: { segmentation: 'm', inpaint: 'i', compositing: 'c' } }),
    health: { analyzer: { breaker: 'open', reopensAt: NOW + MIN, probe: { ok: true } } }, expect: { kind: 'leave' }, says: 'waiting for analyzer' },

  // Never for lasting causes.
  { name: 'a fatal failure', job: failed('Fatal.DiskFull', [entry('Fatal.DiskFull', 'GPU')]), expect: { kind: 'leave' }, says: 'not a temporary cause' },
  { name: 'an unclassified failure', job: failed('Unclassified', [entry('Unclassified', 'Compose')]), expect: { kind: 'leave' }, says: 'not a temporary cause' },
  { name: 'an unknown name reads as unclassified', job: failed('SomethingOdd', []), expect: { kind: 'leave' }, says: 'Unclassified is not a temporary cause' },
  { name: 'Recovery.Exhausted with a fatal fault in its ledger', job: failed('Recovery.Exhausted', [entry('Transient.Network', 'SegmentationCall'), entry('Fatal.InvalidInput', 'SegmentationCall')]),
    expect: { kind: 'leave' }, says: 'Fatal.InvalidInput' },
  { name: 'Recovery.Exhausted by quality rejects (a re-run meets them again)', job: failed('Recovery.Exhausted', [entry('Qa.Rejected', 'QaCheck')]), expect: { kind: 'leave' }, says: 'Qa.Rejected' },
  { name: 'Recovery.Exhausted with nothing failed in its ledger', job: failed('Recovery.Exhausted', []), expect: { kind: 'leave' }, says: 'without a failed fault' },
  { name: 'an operator stop', job: failed('Control.Stopped', []), expect: { kind: 'leave' } },
  { name: 'a complete job', job: { ...failed('Transient.Network', analyzer503), status: 'complete' }, expect: { kind: 'leave' }, says: 'the job is complete' },

  // The schedule: 5 → 15 → 45 min after each failure, at most 3.
  { name: 'failed 4 min ago: re-run 1 is due at 5', job: failed('Transient.ServiceUnavailable', analyzer503, {}, 4 * MIN), expect: { kind: 'leave', dueAt: NOW + MIN } },
  { name: 're-run 1 failed 14 min ago: re-run 2 is due at 15', job: failed('Transient.ServiceUnavailable', analyzer503, { deferredReruns: 1 }, 14 * MIN), expect: { kind: 'leave', dueAt: NOW + MIN } },
  { name: 're-run 1 failed 15 min ago: re-run 2', job: failed('Transient.ServiceUnavailable', analyzer503, { deferredReruns: 1 }, 15 * MIN), expect: { kind: 'rerun', rerun: 2 }, says: 're-run 2 of 3' },
  { name: 're-run 2 failed 44 min ago: re-run 3 waits', job: failed('Transient.ServiceUnavailable', analyzer503, { deferredReruns: 2 }, 44 * MIN), expect: { kind: 'leave' } },
  { name: 're-run 2 failed 45 min ago: re-run 3', job: failed('Transient.ServiceUnavailable', analyzer503, { deferredReruns: 2 }, 45 * MIN), expect: { kind: 'rerun', rerun: 3 } },
  { name: '3 re-runs spent', job: failed('Transient.ServiceUnavailable', analyzer503, { deferredReruns: 3 }, 200 * MIN), expect: { kind: 'leave' }, says: 'spent' },
  { name: 'failed more than a day ago', job: failed('Transient.ServiceUnavailable', analyzer503, {}, 25 * 60 * MIN), expect: { kind: 'leave' }, says: 'too long ago' },
  { name: "its pack's run still going", job: failed('Transient.ServiceUnavailable', analyzer503), packRunning: true, expect: { kind: 'leave' }, says: 'pack' },

  // The health gate.
  { name: "the analyzer's breaker open", job: failed('Transient.ServiceUnavailable', analyzer503),
    health: { analyzer: { breaker: 'open', reopensAt: NOW + MIN, probe: { ok: true } } }, expect: { kind: 'leave' }, says: 'circuit breaker is open' },
  { name: "the analyzer's breaker past its open time, health check passing: the re-run is its trial", job: failed('Transient.ServiceUnavailable', analyzer503),
    health: { analyzer: { breaker: 'open', reopensAt: NOW - 1, probe: { ok: true } } }, expect: { kind: 'rerun' }, says: 'admitting trial calls again' },
  { name: "the analyzer's health check failing, breaker closed", job: failed('Transient.ServiceUnavailable', analyzer503),
    health: { analyzer: { breaker: 'closed', probe: { ok: false, detail: 'GET /health answered 503' } } }, expect: { kind: 'leave' }, says: 'health check fails (GET /health answered 503)' },
  { name: 'another provider down does not hold it', job: failed('Transient.ServiceUnavailable', analyzer503),
    health: { segmentation: { breaker: 'open', reopensAt: NOW + MIN, probe: { ok: false } } }, expect: { kind: 'rerun' } },
  { name: 'the ComfyUI fleet with no health check and its breaker open', job: failed('Gpu.Timeout', [entry('Gpu.Timeout', 'GPU', { stage: 'inpaint' })]),
    health: { comfyui: { breaker: 'open', reopensAt: NOW + MIN, probe: null } }, expect: { kind: 'leave' }, says: 'waiting for comfyui' },
];

describe('deferred recovery: which failed jobs are re-run, and when', () => {
  it.each(ROWS)('$name', (row) => {
    const d = decideDeferred({ job: row.job, now: NOW, packRunning: row.packRunning ?? false, health: (p) => row.health?.[p] ?? healthy() }, S);
    expect(d).toMatchObject(row.expect);
    if (row.says !== undefined) expect(d.kind === 'rerun' ? d.line : d.reason).toContain(row.says);
  });

  it('takes its schedule and bound from the watchdog settings, scaled offline', () => {
    const scaled = deferredSettings(watchdogSettings({ timeScale: 0.01, maxRestarts: 2, restartGapMinutes: [1, 2] }));
    expect(scaled).toMatchObject({ maxReruns: 2, gapsMs: [600, 1200] });
    expect(scaled.breaker).toMatchObject({ failureThreshold: 5, openMs: 9000, halfOpenMaxCalls: 1 });
    expect(S.gapsMs).toEqual([5 * MIN, 15 * MIN, 45 * MIN]);
  });

  it('names temporary causes only', () => {
    expect(['Transient.Network', 'Transient.CircuitOpen', 'States.HeartbeatTimeout', 'Gpu.OutOfMemory', 'Lambda.Unknown'].every(isDeferrable)).toBe(true);
    expect(['Fatal.DiskFull', 'Unclassified', 'Recovery.Exhausted', 'Qa.Rejected', 'Gpu.ModelMissing', 'Control.Stopped', 'nope'].some(isDeferrable)).toBe(false);
  });

  it('maps a ledger entry to the dependency its stage or provider names', () => {
    const comfy = { inpaint: 'comfyui' as const, checkpoints: {} };
    expect(dependencyOf({ fn: 'SegmentationCall', stage: 'segmentation' }, comfy)).toBe('segmentation');
    expect(dependencyOf({ fn: 'GPU', stage: 'inpaint' }, { ...comfy, inpaint: 'hosted' })).toBe('hosted-inpaint');
    expect(dependencyOf({ fn: 'Watchdog', stage: 'segmentation' }, { ...comfy, checkpoints: { segmentation: 'm' } })).toBe('comfyui');
    expect(dependencyOf({ fn: 'Compose', stage: 'compositing' }, comfy)).toBeNull();
    expect(failureCause(failed('Transient.Network', [entry('Transient.Network', 'HostedPoll')]))).toMatchObject({ ok: true, cause: { dependency: 'hosted-inpaint' } });
  });

  it("reads a re-run's outcome from its ledger entry, else from the job's status", () => {
    const rerunEntry = (outcome: RecoveryEntry['outcome']) => entry('Transient.Network', DEFERRED_FN, { attempt: 2, outcome });
    expect(rerunOutcome({ status: 'qa', recoveries: [rerunEntry('recovered')] }, 2)).toBe('recovered');
    expect(rerunOutcome({ status: 'failed', recoveries: [rerunEntry('failed')] }, 2)).toBe('failed');
    expect(rerunOutcome({ status: 'inpainting', recoveries: [rerunEntry('pending')] }, 2)).toBe('pending');
    expect(rerunOutcome({ status: 'complete', recoveries: [rerunEntry('pending')] }, 2)).toBe('recovered');
    expect(rerunOutcome({ status: 'failed', recoveries: [] }, 1)).toBe('failed');
  });
});

describe("auto-recovery's own breaker", () => {
  const failures = (n: number, from: Breaker = CLOSED_BREAKER) => {
    let b = from;
    for (let i = 0; i < n; i++) b = fail(b, NOW, S.breaker).breaker;
    return b;
  };

  it('stays on through 4 consecutive failed re-runs, and a success clears the count', () => {
    expect(autoRecoveryAdmits(failures(4), NOW, S).allowed).toBe(true);
    const cleared = succeed(failures(4), NOW, S.breaker).breaker;
    expect(autoRecoveryAdmits(failures(4, cleared), NOW, S).allowed).toBe(true);
  });

  it('pauses after 5 consecutive failed re-runs, until its cooldown has passed', () => {
    const open = failures(5);
    const paused = autoRecoveryAdmits(open, NOW + S.breaker.openMs - 1, S);
    expect(paused.allowed).toBe(false);
    expect(paused.reason).toContain('paused after 5 consecutive failed re-runs');
  });

  it('resumes by itself after the cooldown with one trial re-run: its success closes it, its failure pauses it again', () => {
    const after = NOW + S.breaker.openMs;
    const trial = autoRecoveryAdmits(failures(5), after, S);
    expect(trial).toMatchObject({ allowed: true, breaker: { state: 'half_open' } });
    expect(autoRecoveryAdmits(trial.breaker, after, S).allowed).toBe(false);
    expect(succeed(trial.breaker, after, S.breaker).breaker.state).toBe('closed');
    const reopened = fail(trial.breaker, after, S.breaker).breaker;
    expect(autoRecoveryAdmits(reopened, after + 1, S).allowed).toBe(false);
  });
});

describe('deferred re-runs in the statistics', () => {
  it('counts re-runs started and ended apart from the failures and recoveries of the ledger', () => {
    const at = ago(10 * MIN);
    const s = summarize([
      { kind: 'error', at, error: 'Transient.ServiceUnavailable', strategy: 'RETRY_BACKOFF' },
      { kind: 'failed', at, error: 'Transient.ServiceUnavailable', strategy: 'RETRY_BACKOFF' },
      { kind: 'rerun', at, error: 'Transient.ServiceUnavailable', strategy: 'RESUME_CHECKPOINT', outcome: 'started' },
      { kind: 'rerun', at, error: 'Transient.ServiceUnavailable', strategy: 'RESUME_CHECKPOINT', outcome: 'started' },
      { kind: 'rerun', at, error: 'none', strategy: 'RESUME_CHECKPOINT', outcome: 'recovered' },
      { kind: 'rerun', at, error: 'Transient.Network', strategy: 'RESUME_CHECKPOINT', outcome: 'failed' },
    ], new Date(NOW - 60 * MIN), new Date(NOW));
    expect(s.deferredReruns).toEqual({ started: 2, recovered: 1, failed: 1 });
    expect(s).toMatchObject({ errors: 1, recoveries: 0, failures: 1, recoveryRate: 0 });
    expect(s.byStrategy.map((b) => b.strategy)).toEqual(['RETRY_BACKOFF']);
  });
});
