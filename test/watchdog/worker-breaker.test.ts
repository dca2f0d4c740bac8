/**
 * The GPU worker with the DynamoDB-backed ComfyUI fleet breaker (as bin/worker.ts plugs it
 * in), on DynamoDB Local, fauxqs and the simulated ComfyUI, with the breaker's clock
 * injected: ComfyUI's failures open it, an open breaker refuses tasks with
 * Transient.CircuitOpen without calling ComfyUI (or holds them, as bin/worker.ts sets it up),
 * and after its timeout a trial task runs and closes it. Also the worker settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BreakerStore, type BreakerHook } from '../../lambdas/adapters/breaker-store.ts';
import { loadWorkerConfig } from '../../worker/config.ts';
import { eventually, startHarness, type Harness } from '../worker/support/harness.ts';

let h: Harness;
let store: BreakerStore;
let now = Date.parse('2026-04-01T00:00:00Z');
const OPEN_MS = 60_000;
/** The hook the worker calls through; each test picks how it waits. */
let hook: BreakerHook;
const waits: (number | null)[] = [];

beforeAll(async () => {
  h = await startHarness();
  store = new BreakerStore({ table: process.env['CONTROL_TABLE']!, settings: { failureThreshold: 5, openMs: OPEN_MS, halfOpenMaxCalls: 3 }, clock: () => now });
  hook = store.hook('comfyui');
  await h.startWorker({}, {
    breaker: { beforeCall: (signal) => hook.beforeCall(signal), onSuccess: () => hook.onSuccess(), onFailure: () => hook.onFailure() },
  });
});

async function openTheBreaker(): Promise<void> {
  for (let i = 0; i < 5; i++) await store.onFailure('comfyui');
  expect((await store.read('comfyui')).breaker.state).toBe('open');
}

afterAll(async () => {
  await h?.close();
});

const answerOf = (token: string) =>
  h.sfn.waitFor((c) => c.taskToken === token && (c.action === 'SendTaskSuccess' || c.action === 'SendTaskFailure'));

describe('the ComfyUI fleet breaker in a GPU worker', () => {
  it('opens after 5 ComfyUI failures, refuses tasks without calling ComfyUI, and closes after a trial succeeds', async () => {
    // Prepare: five tasks whose prompts ComfyUI answers with 503; this worker refuses at once while open.
    hook = store.hook('comfyui');
    for (let i = 0; i < 5; i++) {
      const task = h.task();
      h.sim.setFault(task.jobId, 'http503', 1);
      await h.send(task);
      expect((await answerOf(task.taskToken)).error).toBe('Transient.ServiceUnavailable');
    }
    const opened = await store.read('comfyui');

    // Act
    const refused = h.task();
    await h.send(refused);
    const refusal = await answerOf(refused.taskToken);
    now += OPEN_MS;
    const trial = h.task({ jobId: refused.jobId, attempt: 2 });
    await h.send(trial);
    const success = await answerOf(trial.taskToken);

    // Assess
    expect(opened.breaker).toMatchObject({ state: 'open', failures: 5 });
    expect(refusal).toMatchObject({ action: 'SendTaskFailure', error: 'Transient.CircuitOpen' });
    expect(h.sim.promptLog().filter((p) => p.jobId === refused.jobId).map((p) => p.attempt)).toEqual([2]);
    expect(success.action).toBe('SendTaskSuccess');
    expect((await store.read('comfyui')).recent.map((t) => t.to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('holds a task while the breaker is open, heartbeating, and runs it once the breaker lets it through', async () => {
    // Prepare
    hook = store.hook('comfyui', { waitWhileOpenMs: 60_000, pollMs: 20, onWait: (at) => waits.push(at) });
    await openTheBreaker();
    const task = h.task();

    // Act: the open period passes only once the task is waiting.
    await h.send(task);
    await eventually(() => waits.length, (n) => n === 1, 10_000, 'the task to wait');
    now += OPEN_MS;
    const answer = await answerOf(task.taskToken);

    // Assess
    expect(answer.action).toBe('SendTaskSuccess');
    expect(h.sfn.calls.filter((c) => c.taskToken === task.taskToken && c.action === 'SendTaskHeartbeat').length).toBeGreaterThan(0);
    expect((await store.read('comfyui')).recent.slice(-3).map((t) => t.to)).toEqual(['open', 'half_open', 'closed']);
  });
});

describe('the worker settings of the breaker', () => {
  const REQUIRED = { GPU_QUEUE_URL: 'http://127.0.0.1:4566/000000000000/gpu', ARTIFACTS_BUCKET: 'vto-artifacts' };

  it('has the breaker on by default, and needs the control table to use it', () => {
    const c = loadWorkerConfig({ env: REQUIRED });
    expect([c.circuitBreaker, c.controlTable]).toEqual([true, undefined]);
    expect(loadWorkerConfig({ env: { ...REQUIRED, CONTROL_TABLE: 'vto-control' } }).controlTable).toBe('vto-control');
  });

  it.each([['off', false], ['on', true], ['false', false], ['1', true]] as const)('VTO_CIRCUIT_BREAKER=%s → %s', (value, on) => {
    expect(loadWorkerConfig({ env: { ...REQUIRED, VTO_CIRCUIT_BREAKER: value } }).circuitBreaker).toBe(on);
  });

  it('names a bad switch value', () => {
    expect(() => loadWorkerConfig({ env: { ...REQUIRED, VTO_CIRCUIT_BREAKER: 'maybe' } })).toThrow(/circuitBreaker: must be on or off/);
  });
});
