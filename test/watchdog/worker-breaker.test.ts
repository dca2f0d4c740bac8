/**
 * The GPU worker with the DynamoDB-backed ComfyUI fleet breaker (as bin/worker.ts plugs it
 * in), on DynamoDB Local, fauxqs and the simulated ComfyUI, with the breaker's clock
 * injected: ComfyUI's failures open it, an open breaker gives tasks back unanswered
 * without calling ComfyUI (or holds them while it waits for the breaker),
 * and after its timeout a trial task runs and closes it. Also the worker settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BreakerStore, type BreakerHook } from '../../adapters/breaker-store.ts';
import { loadWorkerConfig } from '../../worker/config.ts';
import { startHarness, type Harness } from '../worker/support/harness.ts';
import { eventually } from '../support/eventually.ts';

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

describe('the ComfyUI host breaker in a GPU worker', () => {
  it('opens after 5 ComfyUI failures, gives tasks back unanswered without calling ComfyUI while open, and closes after a trial succeeds', async () => {
    // Prepare: five tasks whose prompts ComfyUI answers with 503.
    const inner = store.hook('comfyui');
    let refusals = 0;
    hook = {
      beforeCall: async (signal) => {
        try {
          await inner.beforeCall(signal);
        } catch (e) {
          refusals++;
          throw e;
        }
      },
      onSuccess: () => inner.onSuccess(),
      onFailure: () => inner.onFailure(),
    };
    for (let i = 0; i < 5; i++) {
      const task = h.task();
      h.sim.setFault(task.jobId, 'http503', 1);
      await h.send(task);
      expect((await answerOf(task.taskToken)).error).toBe('Transient.ServiceUnavailable');
    }
    const opened = await store.read('comfyui');

    // Act: a task arrives while the breaker is open; it comes back and is refused again until the open period passes.
    const held = h.task();
    await h.send(held);
    await eventually(() => refusals, (n) => n >= 2, 'the held task to be refused twice', { timeoutMs: 10_000 });
    const answeredWhileOpen = h.sfn.callsFor(held.taskToken).filter((c) => c.action !== 'SendTaskHeartbeat');
    const promptsWhileOpen = h.sim.promptLog().filter((p) => p.jobId === held.jobId).length;
    now += OPEN_MS;
    const success = await answerOf(held.taskToken);

    // Assess
    expect(opened.breaker).toMatchObject({ state: 'open', failures: 5 });
    expect(answeredWhileOpen).toEqual([]);
    expect(promptsWhileOpen).toBe(0);
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
    await eventually(() => waits.length, (n) => n === 1, 'the task to wait', { timeoutMs: 10_000 });
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
