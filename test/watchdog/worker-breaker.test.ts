/**
 * The GPU worker with the DynamoDB-backed ComfyUI breaker (as bin/worker.ts plugs it in),
 * on DynamoDB Local, fauxqs and the simulated ComfyUI, each test with a worker, breaker item
 * and injected clock of its own: ComfyUI's failures open it, an open breaker gives tasks
 * back unanswered without calling ComfyUI (or holds them while it waits for the breaker),
 * and after its timeout a trial task runs and closes it; a host whose breaker refuses takes
 * no tasks. Also the worker settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BreakerStore, type BreakerHook, type StoredBreaker } from '../../adapters/breaker-store.ts';
import { comfyHostBreaker, type BreakerKey } from '../../core/breaker.ts';
import { loadWorkerConfig } from '../../worker/config.ts';
import { hostBreaker } from '../../worker/host-breaker.ts';
import { createLogger } from '../../worker/logger.ts';
import { startHarness, type Harness } from '../worker/support/harness.ts';
import { eventually } from '../support/eventually.ts';

let h: Harness;
const OPEN_MS = 60_000;
const SETTINGS = { failureThreshold: 5, openMs: OPEN_MS, halfOpenMaxCalls: 3 };

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

/** A breaker store that counts its reads of the stored breakers. */
class AskedStore extends BreakerStore {
  asked = 0;

  override read(key: BreakerKey): Promise<StoredBreaker> {
    this.asked++;
    return super.read(key);
  }
}

/** A breaker store on a clock only the test moves. */
function clockedStore(): { clock: { now: number }; store: AskedStore } {
  const clock = { now: Date.parse('2026-04-01T00:00:00Z') };
  return { clock, store: new AskedStore({ table: process.env['CONTROL_TABLE']!, settings: SETTINGS, clock: () => clock.now }) };
}

async function openTheBreaker(store: BreakerStore, key: BreakerKey): Promise<void> {
  for (let i = 0; i < SETTINGS.failureThreshold; i++) await store.onFailure(key);
  expect((await store.read(key)).breaker.state).toBe('open');
}

const answerOf = (token: string) =>
  h.sfn.waitFor((c) => c.taskToken === token && (c.action === 'SendTaskSuccess' || c.action === 'SendTaskFailure'));

/** The ApproximateReceiveCount of each delivery of a job's message the workers took. */
const receiveCounts = (jobId: string) => h.logs.filter((l) => l['jobId'] === jobId && l['msg'] === 'task received').map((l) => l['receiveCount']);

/** Resolves with `p`, or rejects with the signal's reason once it aborts. */
const unlessAborted = (p: Promise<void>, signal: AbortSignal | undefined) =>
  Promise.race([p, new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true }))]);

describe('the ComfyUI host breaker in a GPU worker', () => {
  it('opens after 5 ComfyUI failures, gives tasks back unanswered without calling ComfyUI while open, and closes after a trial succeeds', async () => {
    // Prepare: a worker on the GPU queue (which dead-letters a message after 10 receives)
    // whose breaker counts its refusals; five tasks whose prompts ComfyUI answers with 503.
    const { clock, store } = clockedStore();
    const inner = store.hook('comfyui');
    let refusals = 0;
    let endOpenPeriod!: () => void;
    const openPeriodEnded = new Promise<void>((r) => (endOpenPeriod = r));
    const breaker: BreakerHook = {
      beforeCall: async (signal) => {
        // A refused task is given back and taken again at once, each time spending one of
        // its message's receives. After two refusals the next call waits for the test to end
        // the open period, however late the test gets to run: without this, a loaded machine
        // let the worker spend all 10 and the held task went to the dead-letter queue.
        if (refusals >= 2) await unlessAborted(openPeriodEnded, signal);
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
    await h.startWorker({ workerId: 'refusing' }, { breaker });
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
    clock.now += OPEN_MS;
    endOpenPeriod();
    const success = await answerOf(held.taskToken);

    // Assess
    expect(opened.breaker).toMatchObject({ state: 'open', failures: 5 });
    expect(answeredWhileOpen).toEqual([]);
    expect(promptsWhileOpen).toBe(0);
    expect(success.action).toBe('SendTaskSuccess');
    expect(receiveCounts(held.jobId)).toEqual([1, 2, 3]);
    expect((await store.read('comfyui')).recent.map((t) => t.to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('holds a task while the breaker is open, heartbeating, and runs it once the breaker lets it through', async () => {
    // Prepare: a worker, queue and breaker of its own, whatever the test before left in its own.
    const { clock, store } = clockedStore();
    const key = comfyHostBreaker(h.sim.url, 'holding-host');
    const waits: (number | null)[] = [];
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl, workerId: 'holding' }, { breaker: store.hook(key, { waitWhileOpenMs: 60_000, pollMs: 20, onWait: (at) => waits.push(at) }) });
    await openTheBreaker(store, key);
    const task = h.task();

    // Act: the open period passes only once the task is waiting.
    await h.send(task, queueUrl);
    await eventually(() => waits.length, (n) => n === 1, 'the task to wait', { timeoutMs: 10_000 });
    clock.now += OPEN_MS;
    const answer = await answerOf(task.taskToken);

    // Assess
    expect(answer.action).toBe('SendTaskSuccess');
    expect(h.sfn.callsFor(task.taskToken, 'SendTaskHeartbeat').length).toBeGreaterThan(0);
    expect((await store.read(key)).recent.map((t) => t.to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('takes no task while its host\'s half-open breaker has every trial out, and takes it once a trial succeeds', async () => {
    // Prepare: the host's breaker half-open with its three trials out (not reported yet), before the worker polls.
    const { clock, store } = clockedStore();
    const said: unknown[] = [];
    const host = hostBreaker(store, {
      comfyUrl: h.sim.url, hostId: 'trials-out', pollMs: 20,
      log: createLogger({ level: 'warn', write: (line) => void said.push((JSON.parse(line) as { msg: unknown }).msg) }),
    });
    await openTheBreaker(store, host.key);
    clock.now += OPEN_MS;
    for (let i = 0; i < SETTINGS.halfOpenMaxCalls; i++) await store.beforeCall(host.key);
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl, workerId: 'trials-out' }, { breaker: host });
    await eventually(() => said, (s) => s.includes('this host\'s circuit breaker refuses calls; taking no tasks'), 'the worker to stop taking tasks', { timeoutMs: 10_000 });
    const task = h.task();

    // Act: a task arrives while the trials are out; the worker keeps asking its breaker; then a trial succeeds.
    await h.send(task, queueUrl);
    const asked = store.asked;
    await eventually(() => store.asked, (n) => n >= asked + 2, 'the worker to ask its breaker twice more', { timeoutMs: 10_000 });
    const whileTrialsOut = await h.queueCounts(queueUrl);
    await store.onSuccess(host.key);
    const answer = await answerOf(task.taskToken);

    // Assess
    expect(whileTrialsOut).toEqual({ visible: 1, inFlight: 0 });
    expect(answer.action).toBe('SendTaskSuccess');
    expect(receiveCounts(task.jobId)).toEqual([1]);
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
