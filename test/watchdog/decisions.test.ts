/**
 * The watchdog's and reconciler's decisions as a table: job status × what its execution
 * did × restarts already spent × time → leave, restart, hold back, reconcile or fail.
 */
import { describe, expect, it } from 'vitest';
import { newJobRecord, type JobRecord } from '../../core/job.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { GPU_TASK, gpuTaskTimeoutSeconds } from '../../core/resources.ts';
import type { JobStatus } from '../../core/status.ts';
import {
  DEFAULT_DEADLINE_SECONDS, deadlineFor, decide, decidePack, isStuck, lastFinishedStage, needsLook, nextRestartAt, queryCutoff, settlement,
  watchdogSettings, type ExecutionView,
} from '../../core/watchdog.ts';

const S = watchdogSettings();
const NOW = Date.parse('2026-03-01T12:00:00Z');
const MIN = 60_000;
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function job(over: Partial<JobRecord> = {}): JobRecord {
  return {
    ...newJobRecord({ packId: 'p', jobId: 'j', inpaint: 'comfyui', inputs: { person: 'a', garment: 'b' }, params: DEFAULT_PARAMS, now: ago(60 * MIN) }),
    executionArn: 'arn:aws:states:us-east-1:000000000000:execution:job:j-1',
    runs: 1,
    ...over,
  };
}

const running = (lastEventAgoMs: number | null): ExecutionView => ({ status: 'RUNNING', lastEventAt: lastEventAgoMs === null ? null : NOW - lastEventAgoMs });
const ended = (status: 'FAILED' | 'TIMED_OUT' | 'ABORTED', error: string | null = null, cause: string | null = null): ExecutionView => ({ status, error, cause });
const MISSING: ExecutionView = { status: 'MISSING' };
const SUCCEEDED: ExecutionView = { status: 'SUCCEEDED' };

interface Row {
  readonly name: string;
  readonly status: JobStatus;
  readonly idle: number;
  readonly execution: ExecutionView;
  readonly trigger?: 'sweep' | 'event';
  readonly restarts?: number;
  readonly lastRestartAgo?: number;
  readonly over?: Partial<JobRecord>;
  readonly packRunActive?: boolean;
  readonly expect: Partial<Record<string, unknown>>;
}

const ROWS: Row[] = [
  // Within deadlines nothing is touched.
  { name: 'inpainting for 60 min (deadline 35 + a 30-min wait budget)', status: 'inpainting', idle: 60 * MIN, execution: MISSING, expect: { kind: 'leave' } },
  { name: 'segmenting for 9 min (deadline 10)', status: 'segmenting', idle: 9 * MIN, execution: MISSING, expect: { kind: 'leave' } },
  { name: 'a complete job', status: 'complete', idle: 600 * MIN, execution: ended('FAILED', 'Transient.Network'), expect: { kind: 'leave' } },
  { name: 'a failed job whose run failed for real', status: 'failed', idle: 1, execution: ended('FAILED', 'Fatal.InvalidInput'), trigger: 'event', expect: { kind: 'leave' } },
  // Dead executions: restart at once, the first time.
  { name: 'inpainting, execution gone', status: 'inpainting', idle: 70 * MIN, execution: MISSING, expect: { kind: 'restart', restart: 1, error: 'States.Timeout', stopFirst: false, recorded: false } },
  { name: 'segmenting, execution ABORTED', status: 'segmenting', idle: 11 * MIN, execution: ended('ABORTED'), expect: { kind: 'restart', restart: 1, error: 'States.Timeout' } },
  { name: 'inpainting, execution died on a heartbeat timeout (event)', status: 'inpainting', idle: 1, trigger: 'event', execution: ended('FAILED', 'States.HeartbeatTimeout'), expect: { kind: 'restart', restart: 1, error: 'States.HeartbeatTimeout' } },
  { name: 'qa, execution TIMED_OUT (event)', status: 'qa', idle: 1, trigger: 'event', execution: ended('TIMED_OUT', 'States.Timeout'), expect: { kind: 'restart', error: 'States.Timeout' } },
  { name: 'compositing, execution stopped by Control.Stopped outside an emergency stop', status: 'compositing', idle: 1, trigger: 'event', execution: ended('FAILED', 'Control.Stopped'), expect: { kind: 'restart', error: 'States.Timeout' } },
  { name: 'recovering, execution failed on a Lambda fault', status: 'recovering', idle: 16 * MIN, execution: ended('FAILED', 'Lambda.Unknown'), expect: { kind: 'restart', error: 'Lambda.Unknown' } },
  // A run that really failed on a non-recoverable error is never re-run: the item follows it.
  { name: 'inpainting, execution FAILED Fatal.DiskFull (item missed it)', status: 'inpainting', idle: 1, trigger: 'event', execution: ended('FAILED', 'Fatal.DiskFull', 'No space left on device'), expect: { kind: 'fail', error: 'Fatal.DiskFull' } },
  { name: 'qa, execution FAILED Recovery.Exhausted', status: 'qa', idle: 11 * MIN, execution: ended('FAILED', 'Recovery.Exhausted'), expect: { kind: 'fail', error: 'Recovery.Exhausted' } },
  { name: 'segmenting, execution FAILED with a runtime error nobody named', status: 'segmenting', idle: 11 * MIN, execution: ended('FAILED', 'States.Runtime'), expect: { kind: 'fail', error: 'Unclassified' } },
  // Running executions: left while they make progress; a silent one is stopped and re-run.
  { name: 'inpainting, execution running and active', status: 'inpainting', idle: 70 * MIN, execution: running(MIN), expect: { kind: 'leave' } },
  { name: 'inpainting, execution running but silent past the deadline and the wait budget', status: 'inpainting', idle: 70 * MIN, execution: running(70 * MIN), expect: { kind: 'restart', stopFirst: true } },
  // A GPU task waiting for a worker is silent: its pack's wait budget extends the deadline.
  { name: 'inpainting on a GPU, silent 60 min within the default 30-min wait budget', status: 'inpainting', idle: 60 * MIN, execution: running(60 * MIN), expect: { kind: 'leave' } },
  { name: 'inpainting on a GPU with a 120-min wait budget, silent 150 min', status: 'inpainting', idle: 150 * MIN, execution: running(150 * MIN), over: { gpuWaitMinutes: 120 }, expect: { kind: 'leave' } },
  { name: 'inpainting on a GPU with a 120-min wait budget, silent 160 min', status: 'inpainting', idle: 160 * MIN, execution: running(160 * MIN), over: { gpuWaitMinutes: 120 }, expect: { kind: 'restart', stopFirst: true } },
  { name: 'inpainting on the hosted API (no GPU queue), silent 40 min', status: 'inpainting', idle: 40 * MIN, execution: running(40 * MIN), over: { inpaint: 'hosted' }, expect: { kind: 'restart', stopFirst: true } },
  // The execution succeeded but the item missed the final write.
  { name: 'qa, execution SUCCEEDED with the QA checkpoint', status: 'qa', idle: 11 * MIN, execution: SUCCEEDED, over: { checkpoints: { segmentation: 'm', inpaint: 'i', compositing: 'c', qa: 'c' } }, expect: { kind: 'complete' } },
  { name: 'qa, execution SUCCEEDED without a QA result', status: 'qa', idle: 11 * MIN, execution: SUCCEEDED, expect: { kind: 'restart' } },
  // Pending jobs: waiting for their pack is fine; no run to take them is not.
  { name: 'pending, its pack is running', status: 'pending', idle: 20 * MIN, execution: MISSING, packRunActive: true, expect: { kind: 'leave' } },
  { name: 'pending, its pack has ended', status: 'pending', idle: 20 * MIN, execution: MISSING, packRunActive: false, expect: { kind: 'restart' } },
  { name: 'pending, its next run is starting', status: 'pending', idle: 20 * MIN, execution: running(null), expect: { kind: 'leave' } },
  { name: 'pending, its next run died before claiming it (event)', status: 'pending', idle: 1, trigger: 'event', execution: ended('ABORTED'), expect: { kind: 'restart' } },
  // Anti-loop: 3 re-runs at most, then 5 and 15 minutes between them.
  { name: 'second restart 4 min after the first', status: 'inpainting', idle: 1, trigger: 'event', execution: ended('ABORTED'), restarts: 1, lastRestartAgo: 4 * MIN, expect: { kind: 'defer', restart: 2 } },
  { name: 'second restart 5 min after the first', status: 'inpainting', idle: 1, trigger: 'event', execution: ended('ABORTED'), restarts: 1, lastRestartAgo: 5 * MIN, expect: { kind: 'restart', restart: 2 } },
  { name: 'third restart 14 min after the second', status: 'segmenting', idle: 11 * MIN, execution: MISSING, restarts: 2, lastRestartAgo: 14 * MIN, expect: { kind: 'defer', restart: 3 } },
  { name: 'third restart 15 min after the second', status: 'segmenting', idle: 11 * MIN, execution: MISSING, restarts: 2, lastRestartAgo: 15 * MIN, expect: { kind: 'restart', restart: 3 } },
  { name: 'stuck again after 3 restarts', status: 'inpainting', idle: 70 * MIN, execution: MISSING, restarts: 3, lastRestartAgo: 60 * MIN, expect: { kind: 'fail', error: 'Recovery.Exhausted' } },
  { name: 'dead again after 3 restarts (event, at once)', status: 'inpainting', idle: 1, trigger: 'event', execution: ended('ABORTED'), restarts: 3, lastRestartAgo: MIN, expect: { kind: 'fail', error: 'Recovery.Exhausted' } },
  // A held-back restart waits in recovering until due, then runs without a second ledger entry.
  { name: 'held back, not yet due', status: 'recovering', idle: 2 * MIN, execution: ended('ABORTED'), restarts: 1, lastRestartAgo: 4 * MIN, over: { watchdogDueAt: ago(-MIN), watchdogStuckIn: 'inpainting' }, expect: { kind: 'leave' } },
  { name: 'held back, late event while not due', status: 'recovering', idle: 1, trigger: 'event', execution: ended('ABORTED'), restarts: 1, lastRestartAgo: 4 * MIN, over: { watchdogDueAt: ago(-MIN), watchdogStuckIn: 'inpainting' }, expect: { kind: 'leave' } },
  { name: 'held back, now due', status: 'recovering', idle: 3 * MIN, execution: ended('ABORTED'), restarts: 1, lastRestartAgo: 6 * MIN, over: { watchdogDueAt: ago(MIN), watchdogStuckIn: 'inpainting' }, expect: { kind: 'restart', restart: 2, recorded: true } },
];

describe('the watchdog decision table', () => {
  it.each(ROWS)('$name → $expect.kind', (row) => {
    // Prepare
    const j = job({
      status: row.status, updatedAt: ago(row.idle),
      ...(row.restarts !== undefined && { watchdogRestarts: row.restarts }),
      ...(row.lastRestartAgo !== undefined && { watchdogRestartedAt: ago(row.lastRestartAgo) }),
      ...row.over,
    });

    // Act
    const action = decide({
      job: j, execution: row.execution, now: NOW, trigger: row.trigger ?? 'sweep',
      ...(row.packRunActive !== undefined && { packRunActive: row.packRunActive }),
    }, S);

    // Assess
    expect(action).toMatchObject(row.expect);
  });

  it('gives the exhausted job its reason: how many restarts, and where it is stuck', () => {
    // Prepare
    const j = job({ status: 'inpainting', updatedAt: ago(70 * MIN), watchdogRestarts: 3, watchdogRestartedAt: ago(60 * MIN) });

    // Act
    const action = decide({ job: j, execution: MISSING, now: NOW, trigger: 'sweep' }, S);

    // Assess
    expect(action.kind === 'fail' && action.cause).toMatch(/^watchdog: restarted 3 times, still stuck in inpainting; /);
  });

  it('names where a held-back job was stuck, not the recovering it waits in', () => {
    // Prepare
    const j = job({ status: 'recovering', updatedAt: ago(MIN), watchdogRestarts: 3, watchdogRestartedAt: ago(60 * MIN), watchdogDueAt: ago(1), watchdogStuckIn: 'qa' });

    // Act
    const action = decide({ job: j, execution: ended('ABORTED'), now: NOW, trigger: 'sweep' }, S);

    // Assess
    expect(action.kind === 'fail' && action.cause).toMatch(/still stuck in qa/);
  });

  it('holds a restart back until exactly the end of its gap', () => {
    // Prepare
    const j = job({ watchdogRestarts: 1, watchdogRestartedAt: ago(0) });

    // Act
    const due = nextRestartAt(j, S);

    // Assess
    expect(due - NOW).toBe(5 * MIN);
    expect(nextRestartAt(job({ watchdogRestarts: 0 }), S)).toBe(Number.NEGATIVE_INFINITY);
    expect(nextRestartAt({ watchdogRestarts: 5, watchdogRestartedAt: ago(0) }, S) - NOW).toBe(45 * MIN);
  });
});

describe('watchdog settings', () => {
  it('sets the inpainting deadline above the GPU task timeout', () => {
    expect(DEFAULT_DEADLINE_SECONDS.inpainting).toBeGreaterThan(GPU_TASK.timeoutSeconds);
  });

  it("gives a GPU job at least its task's whole TimeoutSeconds (wait budget and run), scaled", () => {
    // Prepare
    const s = watchdogSettings({ timeScale: 0.05 });
    const waiting = (gpuWaitMinutes?: number) => job({ status: 'inpainting', ...(gpuWaitMinutes !== undefined && { gpuWaitMinutes }) });

    // Assess
    for (const minutes of [undefined, GPU_TASK.waitMinutes.min, GPU_TASK.waitMinutes.max]) {
      expect(deadlineFor(waiting(minutes), s)).toBeGreaterThan(gpuTaskTimeoutSeconds(minutes) * 1000 * 0.05);
    }
    expect(deadlineFor(job({ status: 'inpainting', inpaint: 'hosted' }), s)).toBe(s.deadlinesMs.inpainting);
  });

  it('scales every deadline and gap by the time factor', () => {
    // Act
    const s = watchdogSettings({ timeScale: 0.05, deadlineSeconds: { qa: 100 } });

    // Assess
    expect(s.deadlinesMs.qa).toBe(5000);
    expect(s.deadlinesMs.segmenting).toBe(30_000);
    expect(s.restartGapsMs).toEqual([15_000, 45_000, 135_000]);
    expect(s.sweepPeriodMs).toBe(3000);
  });

  it.each([
    { timeScale: 0 }, { deadlineSeconds: { qa: 0 } }, { maxRestarts: -1 }, { restartGapMinutes: [] }, { sweepPeriodSeconds: 0 },
  ])('refuses %o', (input) => {
    expect(() => watchdogSettings(input)).toThrow(RangeError);
  });

  it('reads recovering jobs close to now, other statuses at their deadline', () => {
    expect(NOW - queryCutoff('recovering', NOW, S)).toBe(60_000);
    expect(NOW - queryCutoff('qa', NOW, S)).toBe(600_000);
  });

  it('counts a job as stuck at its deadline, and looks at a held-back one when it falls due', () => {
    // Prepare
    const held = job({ status: 'recovering', updatedAt: ago(MIN), watchdogDueAt: ago(0) });

    // Assess
    expect(isStuck(job({ status: 'qa', updatedAt: ago(10 * MIN) }), NOW, S)).toBe(true);
    expect(isStuck(job({ status: 'qa', updatedAt: ago(10 * MIN - 1) }), NOW, S)).toBe(false);
    expect([isStuck(held, NOW, S), needsLook(held, NOW, S)]).toEqual([false, true]);
  });
});

describe('what the ledger entry of a restart names', () => {
  it.each([
    { checkpoints: {}, stage: null },
    { checkpoints: { segmentation: 'm' }, stage: 'segmentation' },
    { checkpoints: { segmentation: 'm', inpaint: 'i' }, stage: 'inpaint' },
    { checkpoints: { segmentation: 'm', inpaint: 'i', compositing: 'c' }, stage: 'compositing' },
  ])('the last finished stage of $checkpoints is $stage', ({ checkpoints, stage }) => {
    expect(lastFinishedStage({ checkpoints })).toBe(stage);
  });
});

describe('packs', () => {
  it.each([
    { status: 'running' as const, alive: true, restarts: 0, kind: 'leave' },
    { status: 'running' as const, alive: false, restarts: 0, kind: 'restart' },
    { status: 'pending' as const, alive: false, restarts: 2, kind: 'restart' },
    { status: 'running' as const, alive: false, restarts: 3, kind: 'fail' },
    { status: 'complete' as const, alive: false, restarts: 0, kind: 'leave' },
    { status: 'stopped' as const, alive: false, restarts: 0, kind: 'leave' },
  ])('a $status pack whose run is alive: $alive, restarted $restarts times → $kind', ({ status, alive, restarts, kind }) => {
    expect(decidePack({ status, watchdogRestarts: restarts }, alive, S).kind).toBe(kind);
  });

  it.each([
    { pack: 'stopped' as const, jobs: ['complete', 'complete'] as JobStatus[], outcome: 'complete' },
    { pack: 'stopped' as const, jobs: ['complete', 'failed'] as JobStatus[], outcome: 'completed_with_failures' },
    { pack: 'completed_with_failures' as const, jobs: ['complete', 'complete'] as JobStatus[], outcome: 'complete' },
    { pack: 'stopped' as const, jobs: ['complete', 'inpainting'] as JobStatus[], outcome: null },
    { pack: 'running' as const, jobs: ['complete'] as JobStatus[], outcome: null },
  ])('a $pack pack with jobs $jobs settles as $outcome', ({ pack, jobs, outcome }) => {
    expect(settlement({ status: pack }, jobs)?.status ?? null).toBe(outcome);
  });
});
