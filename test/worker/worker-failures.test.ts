import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuTaskOutputSchema } from '../../core/gpu-message.ts';
import { CircuitOpenError } from '../../core/errors.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { reduceParams } from '../../core/strategies.ts';
import type { GpuWorker } from '../../worker/worker.ts';
import { startHarness, SMALL_PARAMS, type Harness } from './support/harness.ts';
import { eventually } from '../support/eventually.ts';

let h: Harness;
let worker: GpuWorker;

beforeAll(async () => {
  h = await startHarness();
  worker = await h.startWorker();
});
afterAll(async () => {
  await h?.close();
});

const answerOf = (token: string) =>
  h.sfn.waitFor((c) => c.taskToken === token && (c.action === 'SendTaskSuccess' || c.action === 'SendTaskFailure'));

async function scrape(): Promise<string> {
  return (await fetch(worker.metricsUrl)).text();
}

const counter = (text: string, series: string) =>
  Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

const OOM_PARAMS = { ...DEFAULT_PARAMS, width: 1536, height: 1536, batch: 4 };

describe('the GPU worker names each failure with the taxonomy', () => {
  it.each([
    ['a checkpoint that is not installed (400 from /prompt)', { params: { model: 'not-installed.safetensors' } }, null, 'Gpu.ModelMissing'],
    ['a run that does not fit in VRAM (the simulator\'s physics)', { params: OOM_PARAMS }, null, 'Gpu.OutOfMemory'],
    ['a full disk when saving', {}, 'diskFull', 'Fatal.DiskFull'],
    ['a 503 from /prompt', {}, 'http503', 'Transient.ServiceUnavailable'],
  ] as const)('%s', async (_label, over, fault, expected) => {
    const task = h.task(over);
    if (fault !== null) h.sim.setFault(task.jobId, fault);
    const failuresBefore = counter(await scrape(), `orchestrator_task_failures_total{code="${expected}"}`);

    await h.send(task);
    const answer = await answerOf(task.taskToken);

    expect(answer.action).toBe('SendTaskFailure');
    expect(answer.error).toBe(expected);
    expect(JSON.parse(answer.cause ?? '')).toMatchObject({ jobId: task.jobId, attempt: 1, workerId: 'test-worker' });
    await eventually(() => h.queueCounts(), (c) => c.visible === 0 && c.inFlight === 0, 'the message to be deleted', { timeoutMs: 5000 });
    expect(counter(await scrape(), `orchestrator_task_failures_total{code="${expected}"}`)).toBe(failuresBefore + 1);
  });

  it('succeeds once the out-of-memory job is resent with reduced parameters', async () => {
    const first = h.task({ params: OOM_PARAMS });
    await h.send(first);
    expect((await answerOf(first.taskToken)).error).toBe('Gpu.OutOfMemory');
    const reduced = reduceParams(OOM_PARAMS);
    if (reduced === null) throw new Error('reduceParams changed nothing');

    const second = h.task({ jobId: first.jobId, attempt: 2, params: reduced });
    await h.send(second);
    const answer = await answerOf(second.taskToken);

    expect(answer.action).toBe('SendTaskSuccess');
    expect(gpuTaskOutputSchema.parse(JSON.parse(answer.output ?? '')).outputs).toHaveLength(reduced.batch);
  });

  it('interrupts a hung prompt at its deadline and fails with Gpu.Timeout', async () => {
    const task = h.task({ deadlineSeconds: 0.5 });
    h.sim.setFault(task.jobId, 'hang');
    const interruptedBefore = h.sim.stats().promptsInterrupted;

    await h.send(task);
    const answer = await answerOf(task.taskToken);

    expect(answer.error).toBe('Gpu.Timeout');
    await eventually(() => h.sim.stats().promptsInterrupted, (n) => n === interruptedBefore + 1, 'the simulator to see /interrupt', { timeoutMs: 5000 });
    expect(h.sim.stats().running).toBeNull();
  });

  it('completes a run whose WebSocket is dropped mid-run', async () => {
    const task = h.task({ params: { ...SMALL_PARAMS, steps: 40 } });
    h.sim.setFault(task.jobId, 'wsDrop');
    const retriesBefore = counter(await scrape(), 'orchestrator_task_retries_total');

    await h.send(task);
    const answer = await answerOf(task.taskToken);

    expect(answer.action).toBe('SendTaskSuccess');
    expect(h.sim.stats().faultsFired['wsDrop']).toBe(1);
    expect(counter(await scrape(), 'orchestrator_task_retries_total')).toBeGreaterThan(retriesBefore);
  });

  it('completes a run through /history alone when the WebSocket may not reconnect', async () => {
    const queueUrl = await h.newQueue();
    const pollingOnly = await h.startWorker({ queueUrl, wsReconnectAttempts: 0 });
    const task = h.task({ params: { ...SMALL_PARAMS, steps: 40 } });
    h.sim.setFault(task.jobId, 'wsDrop');

    await h.send(task, queueUrl);
    const answer = await answerOf(task.taskToken);
    await pollingOnly.stop();

    expect(answer.action).toBe('SendTaskSuccess');
    expect(h.logs.some((l) => l['jobId'] === task.jobId && String(l['msg']).startsWith('ComfyUI WebSocket gone'))).toBe(true);
  });

  it('fails fast with a transport error when ComfyUI dies mid-run, instead of waiting for the deadline', async () => {
    const task = h.task({ params: { ...SMALL_PARAMS, steps: 40 } });
    h.sim.setFault(task.jobId, 'crash');

    await h.send(task);
    const answer = await answerOf(task.taskToken);
    await h.sim.restart();

    expect(answer.error).toBe('Transient.Network');
    expect(JSON.parse(answer.cause ?? '')).toMatchObject({ message: expect.stringMatching(/fetch failed/) });
  });

  it('still runs tasks after ComfyUI came back', async () => {
    const task = h.task();

    await h.send(task);

    expect((await answerOf(task.taskToken)).action).toBe('SendTaskSuccess');
  });
});

describe('the circuit breaker hook', () => {
  it('asks before each run, reports ComfyUI\'s health, and gives a refused task back unanswered until it admits it', async () => {
    const seen: string[] = [];
    let open = false;
    const breaker = {
      beforeCall: async () => {
        seen.push(open ? 'refused' : 'before');
        if (open) throw new CircuitOpenError('this host\'s breaker is open');
      },
      onSuccess: async () => void seen.push('success'),
      onFailure: async () => void seen.push('failure'),
    };
    const queueUrl = await h.newQueue();
    const guarded = await h.startWorker({ queueUrl }, { breaker });
    const healthy = h.task();
    const unavailable = h.task();
    h.sim.setFault(unavailable.jobId, 'http503');
    const refused = h.task();

    await h.send(healthy, queueUrl);
    await answerOf(healthy.taskToken);
    await h.send(unavailable, queueUrl);
    await answerOf(unavailable.taskToken);
    open = true;
    const accepted = h.sim.stats().promptsAccepted;
    await h.send(refused, queueUrl);
    await eventually(() => seen.filter((s) => s === 'refused').length, (n) => n >= 2, 'the refused task to come back and be refused again', { timeoutMs: 10_000 });
    const whileOpen = h.sim.stats().promptsAccepted;
    open = false;
    const answer = await answerOf(refused.taskToken);
    await guarded.stop();

    expect(seen.slice(0, 5)).toEqual(['before', 'success', 'before', 'failure', 'refused']);
    expect(whileOpen).toBe(accepted);
    expect(h.sfn.callsFor(refused.taskToken).filter((c) => c.action !== 'SendTaskHeartbeat')).toEqual([answer]);
    expect(answer.action).toBe('SendTaskSuccess');
  });
});
