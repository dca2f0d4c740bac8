/**
 * GPU time the worker gives back: a stalled prompt is interrupted and failed at once (its
 * bound drawn from its own step times), a closed task's queued prompt leaves ComfyUI's
 * queue unrun, and an out-of-memory error is followed by POST /free.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { ComfyClient } from '../../worker/comfy-client.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { eventually } from '../support/eventually.ts';

let h: Harness;

beforeAll(async () => {
  // 20 ms a step at 1024²: slow enough to see a prompt waiting behind another.
  h = await startHarness({ stepMs: 20 });
});
afterAll(async () => {
  await h?.close();
});

const answerOf = (token: string, timeoutMs = 10_000) =>
  h.sfn.waitFor((c) => c.taskToken === token && (c.action === 'SendTaskSuccess' || c.action === 'SendTaskFailure'), timeoutMs);
const promptsOf = (jobId: string) => h.sim.promptLog().filter((p) => p.jobId === jobId);
const drained = (queueUrl: string) =>
  eventually(() => h.queueCounts(queueUrl), (c) => c.visible === 0 && c.inFlight === 0, 'the queue to be empty', { timeoutMs: 10_000 });
/** Stall bounds far below the 60 s generation deadline the tests give. */
const STALL = { stallFactor: 3, stallFloorMs: 400, stallFirstProgressMs: 3000, generationTimeoutMs: 60_000 };

describe('stall detection', () => {
  it('interrupts a prompt whose progress stops and fails it as Gpu.Timeout long before its deadline', async () => {
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl, ...STALL });
    const task = h.task();
    h.sim.setFault(task.jobId, 'hang');
    const interrupted = h.sim.stats().promptsInterrupted;

    await h.send(task, queueUrl);
    const answer = await answerOf(task.taskToken, 20_000);

    expect(answer.error).toBe('Gpu.Timeout');
    expect(String(answer.cause)).toMatch(/stalled: no progress for \d+ ms, more than \d+ ms/);
    await eventually(() => h.sim.stats().promptsInterrupted, (n) => n === interrupted + 1, 'the prompt to be interrupted', { timeoutMs: 5000 });
    await drained(queueUrl);
  });

  it('lets a prompt that keeps progressing run past the stall floor', async () => {
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl, ...STALL });
    // 150 steps of 20 ms: three seconds in all, far above the 400 ms floor, steps far below it.
    const task = h.task({ params: { width: 1024, height: 1024, steps: 150 } });

    await h.send(task, queueUrl);
    const answer = await answerOf(task.taskToken, 30_000);

    expect(answer.action).toBe('SendTaskSuccess');
    const [run] = promptsOf(task.jobId);
    expect(run!.endedAt! - run!.startedAt!).toBeGreaterThan(STALL.stallFloorMs);
  });
});

describe('a closed task and ComfyUI', () => {
  it('removes the prefetched prompt of a closed task from ComfyUI\'s queue, unrun, and deletes its message', async () => {
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl, prefetch: 1, ...STALL, stallFloorMs: 60_000, stallFirstProgressMs: 60_000 });
    const running = h.task();
    h.sim.setFault(running.jobId, 'hang');
    const waiting = h.task();
    await h.send(running, queueUrl);
    await eventually(() => promptsOf(running.jobId).some((p) => p.startedAt !== null), Boolean, 'the first prompt to run', { timeoutMs: 10_000 });
    await h.send(waiting, queueUrl);
    await eventually(() => promptsOf(waiting.jobId), (p) => p.length === 1, 'the second prompt to be queued in ComfyUI', { timeoutMs: 10_000 });

    // Act: the execution of the waiting task is stopped (Step Functions closes its token).
    h.sfn.close(waiting.taskToken, 'TaskTimedOut');
    await eventually(() => h.sim.stats().queueRemaining, (n) => n === 1, 'the waiting prompt to leave ComfyUI\'s queue', { timeoutMs: 5000 });
    h.sfn.close(running.taskToken, 'TaskTimedOut');
    await drained(queueUrl);

    // Assess: the waiting prompt never ran; nothing was answered for either.
    expect(promptsOf(waiting.jobId)[0]!.startedAt).toBeNull();
    expect([...h.sfn.callsFor(waiting.taskToken), ...h.sfn.callsFor(running.taskToken)].filter((c) => c.action !== 'SendTaskHeartbeat')).toEqual([]);
  });
});

describe('a worker starting beside a ComfyUI', () => {
  it('stops the prompts a dead worker left there', async () => {
    const comfy = new ComfyClient({ baseUrl: h.sim.url, requestTimeoutMs: 5000 });
    const orphan = h.task();
    h.sim.setFault(orphan.jobId, 'hang');
    const upload = await comfy.uploadImage({ bytes: await h.object(h.inputs['person']!), filename: 'orphan.png', contentType: 'image/png' });
    const graph = h.task({ inputs: {} }).workflow;
    for (const node of Object.values(graph)) if (node.class_type === 'LoadImage' || node.class_type === 'LoadImageMask') node.inputs['image'] = upload.filename;
    const orphanId = randomUUID();
    await comfy.queuePrompt({ prompt: graph, clientId: 'dead-worker', promptId: orphanId, extraData: { vto: { jobId: orphan.jobId, attempt: 1 } } });
    await eventually(() => h.sim.stats().running, (r) => r === orphanId, 'the orphan to run', { timeoutMs: 5000 });
    const interrupted = h.sim.stats().promptsInterrupted;

    await h.startWorker({ queueUrl: await h.newQueue() });

    await eventually(() => h.sim.stats().promptsInterrupted, (n) => n === interrupted + 1, 'the orphan to be interrupted', { timeoutMs: 5000 });
    expect(h.sim.stats().running).toBeNull();
  });
});

describe('after an out-of-memory error', () => {
  it('asks ComfyUI to unload its models and free its memory', async () => {
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl });
    const task = h.task({ params: { ...DEFAULT_PARAMS, width: 1536, height: 1536, batch: 4 } });
    const frees = h.sim.stats().freeRequests;

    await h.send(task, queueUrl);
    const answer = await answerOf(task.taskToken);

    expect(answer.error).toBe('Gpu.OutOfMemory');
    await eventually(() => h.sim.stats().freeRequests, (n) => n === frees + 1, 'POST /free', { timeoutMs: 5000 });
  });

  it('does not free memory after other failures', async () => {
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl });
    const task = h.task();
    h.sim.setFault(task.jobId, 'diskFull');
    const frees = h.sim.stats().freeRequests;

    await h.send(task, queueUrl);
    expect((await answerOf(task.taskToken)).error).toBe('Fatal.DiskFull');
    await drained(queueUrl);

    expect(h.sim.stats().freeRequests).toBe(frees);
  });
});
