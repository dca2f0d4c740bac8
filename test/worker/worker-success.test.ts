import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { gpuTaskOutputSchema } from '../../core/gpu-message.ts';
import type { GpuWorker } from '../../worker/worker.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { eventually } from '../support/eventually.ts';

let h: Harness;
let worker: GpuWorker;

beforeAll(async () => {
  h = await startHarness();
  worker = await h.startWorker({ prefetch: 1 });
});
afterAll(async () => {
  await h?.close();
});

describe('the GPU worker on a healthy ComfyUI', () => {
  it('runs a task: outputs in S3, SendTaskSuccess with a valid output, message deleted', async () => {
    const task = h.task();

    await h.send(task);
    const call = await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.action === 'SendTaskSuccess');

    const output = gpuTaskOutputSchema.parse(JSON.parse(call.output ?? ''));
    expect(output.workerId).toBe('test-worker');
    expect(output.outputs.length).toBeGreaterThan(0);
    for (const key of output.outputs) {
      expect(key.startsWith(task.outputPrefix)).toBe(true);
      const meta = await sharp(await h.object(key)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 512, 512]);
    }
    expect(h.sfn.callsFor(task.taskToken, 'SendTaskHeartbeat').length).toBeGreaterThan(0);
    await eventually(() => h.queueCounts(), (c) => c.visible === 0 && c.inFlight === 0, 'the message to be deleted', { timeoutMs: 5000 });
  });

  it('runs a duplicate delivery of the same attempt once', async () => {
    const task = h.task();
    const before = h.sim.stats().promptsAccepted;

    await h.send(task);
    await h.send(task);
    await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.action === 'SendTaskSuccess');
    await eventually(() => h.queueCounts(), (c) => c.visible === 0 && c.inFlight === 0, 'both messages to be deleted', { timeoutMs: 5000 });

    expect(h.sim.stats().promptsAccepted - before).toBe(1);
    expect(h.sfn.callsFor(task.taskToken).filter((c) => c.action !== 'SendTaskHeartbeat')).toHaveLength(1);
  });

  it('serves its metrics with every series, moving after jobs', async () => {
    const res = await fetch(worker.metricsUrl);
    const text = await res.text();

    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('orchestrator_pool_workers_total')).toBe(2);
    expect(value('orchestrator_pool_workers_busy')).toBe(0);
    expect(value('orchestrator_pool_queue_size')).toBe(0);
    expect(value('orchestrator_task_duration_seconds_count{action="inpaint"}')).toBe(2);
    expect(value('orchestrator_task_queue_duration_seconds_count{action="inpaint"}')).toBe(2);
    expect(text).toMatch(/^# TYPE orchestrator_worker_heartbeat_missed_total counter$/m);
    expect(text).toMatch(/^# TYPE orchestrator_task_retries_total counter$/m);
    expect(text).toMatch(/^# TYPE orchestrator_task_failures_total counter$/m);
  });

  it('answers /healthz with its status, load and pool size', async () => {
    const res = await fetch(worker.metricsUrl.replace(/\/metrics$/, '/healthz'));

    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', busy: 0, slots: 2, uptime: expect.any(Number) });
  });

  it('shows the queue waiting and the slot busy while a job runs, and both back to zero after', async () => {
    const queueUrl = await h.newQueue();
    const single = await h.startWorker({ queueUrl, prefetch: 0 });
    const long = h.task({ deadlineSeconds: 30 });
    h.sim.setFault(long.jobId, 'hang');
    const waiting = h.task();
    const gauges = async () => {
      const text = await (await fetch(single.metricsUrl)).text();
      const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      return { busy: read('orchestrator_pool_workers_busy'), queue: read('orchestrator_pool_queue_size') };
    };

    await h.send(long, queueUrl);
    await eventually(() => h.sim.stats().running, (r) => r !== null, 'the long prompt to run', { timeoutMs: 5000 });
    await h.send(waiting, queueUrl);
    const during = await eventually(gauges, (g) => g.busy === 1 && g.queue === 1, 'busy 1 and queue 1', { timeoutMs: 5000 });
    h.sfn.close(long.taskToken);
    await h.sfn.waitFor((c) => c.taskToken === waiting.taskToken && c.action === 'SendTaskSuccess');
    const after = await eventually(gauges, (g) => g.busy === 0 && g.queue === 0, 'busy 0 and queue 0', { timeoutMs: 5000 });
    await single.stop();

    expect([during, after]).toEqual([{ busy: 1, queue: 1 }, { busy: 0, queue: 0 }]);
  });

  it('runs a new task of an attempt number it already answered (a forced retry counts attempts from 1 again)', async () => {
    const first = h.task();
    await h.send(first);
    await h.sfn.waitFor((c) => c.taskToken === first.taskToken && c.action === 'SendTaskSuccess');
    const before = h.sim.stats().promptsAccepted;

    // Same job, same attempt number, a new task token: a new run, not a copy of the old message.
    const again = h.task({ jobId: first.jobId, attempt: first.attempt });
    await h.send(again);
    await h.sfn.waitFor((c) => c.taskToken === again.taskToken && c.action === 'SendTaskSuccess');

    await eventually(() => h.queueCounts(), (c) => c.visible === 0 && c.inFlight === 0, 'both messages to be deleted', { timeoutMs: 5000 });

    expect(again.taskToken).not.toBe(first.taskToken);
    expect(h.sim.stats().promptsAccepted - before).toBe(1);
  });

});
