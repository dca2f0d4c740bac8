import type { SQSClient } from '@aws-sdk/client-sqs';
import { SQSClient as Client } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const answers = (token: string) => h.sfn.callsFor(token).filter((c) => c.action !== 'SendTaskHeartbeat');
const counter = async (w: GpuWorker, series: string) =>
  Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(await (await fetch(w.metricsUrl)).text())?.[1] ?? 0);
const drained = (queueUrl?: string) =>
  eventually(() => h.queueCounts(queueUrl), (c) => c.visible === 0 && c.inFlight === 0, 'the queue to be empty', { timeoutMs: 8000 });

/** An SQS client whose ChangeMessageVisibility calls are lost: the worker's extensions never land. */
function sqsLosingVisibilityChanges(): SQSClient {
  const sqs = new Client({ useQueueUrlAsEndpoint: false, maxAttempts: 1 });
  sqs.middlewareStack.add(
    (next, context) => async (args) => (context.commandName === 'ChangeMessageVisibilityCommand' ? { output: { $metadata: {} }, response: {} } : next(args)),
    { step: 'initialize', name: 'loseVisibilityChanges' },
  );
  return sqs;
}

describe('the GPU worker and its task token', () => {
  it('stops the work and drops the message when a heartbeat answers TaskTimedOut', async () => {
    const task = h.task();
    h.sim.setFault(task.jobId, 'hang');
    const interruptedBefore = h.sim.stats().promptsInterrupted;

    await h.send(task);
    await eventually(() => h.sim.stats().running, (r) => r !== null, 'the prompt to run', { timeoutMs: 5000 });
    h.sfn.close(task.taskToken, 'TaskTimedOut');
    await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.answer === 'TaskTimedOut');

    await eventually(() => h.sim.stats().promptsInterrupted, (n) => n === interruptedBefore + 1, 'the prompt to be interrupted', { timeoutMs: 5000 });
    await drained();
    expect(answers(task.taskToken).filter((c) => c.answer === 'ok')).toEqual([]);
  });

  it('drops a task whose token is already closed without running it', async () => {
    const task = h.task();
    h.sfn.close(task.taskToken, 'InvalidToken');
    const accepted = h.sim.stats().promptsAccepted;

    await h.send(task);
    await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.answer === 'InvalidToken');
    await drained();

    expect(h.sim.stats().promptsAccepted).toBe(accepted);
  });

  it('drops the message when the final answer is refused, without running the task again', async () => {
    const queueUrl = await h.newQueue();
    const slow = await h.startWorker({ queueUrl, heartbeatIntervalMs: 60_000 });
    const task = h.task({ params: { ...SMALL_PARAMS, steps: 60 } });
    const accepted = h.sim.stats().promptsAccepted;

    await h.send(task, queueUrl);
    await eventually(() => h.sim.stats().promptsAccepted, (n) => n === accepted + 1, 'the prompt to be queued', { timeoutMs: 5000 });
    h.sfn.close(task.taskToken, 'TaskTimedOut');
    await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.action === 'SendTaskSuccess');
    await drained(queueUrl);
    await slow.stop();

    expect(h.sim.stats().promptsAccepted).toBe(accepted + 1);
  });

  it('counts a heartbeat that fails for another reason as missed and carries on', async () => {
    const task = h.task();
    h.sim.setFault(task.jobId, 'hang');
    h.sfn.failHeartbeats(task.taskToken, 3);
    const missedBefore = await counter(worker, 'orchestrator_worker_heartbeat_missed_total');

    await h.send(task);
    const failed = (c: { taskToken: string; answer: string }) => c.taskToken === task.taskToken && c.answer === 'InternalFailure';
    await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.answer === 'ok' && h.sfn.calls.filter(failed).length === 3);
    const missed = await counter(worker, 'orchestrator_worker_heartbeat_missed_total');
    h.sfn.close(task.taskToken);
    await drained();

    expect(missed).toBe(missedBefore + 3);
  });

  it('answers Fatal.WorkflowInvalid for a message that breaks the contract but carries a token', async () => {
    const token = 'token-invalid-1';

    await h.send({ taskToken: token, jobId: 'j-invalid', workflow: 'not a graph' });
    const answer = await h.sfn.waitFor((c) => c.taskToken === token);
    await drained();

    expect([answer.action, answer.error]).toEqual(['SendTaskFailure', 'Fatal.WorkflowInvalid']);
    expect(JSON.parse(answer.cause ?? '')).toMatchObject({ problems: expect.arrayContaining([expect.stringMatching(/^packId: /)]) });
  });

  it('deletes a message that is not a task at all, telling nobody', async () => {
    const callsBefore = h.sfn.calls.length;

    await h.send('{"hello":');
    await drained();

    expect(h.sfn.calls.length).toBe(callsBefore);
    expect(h.logs.some((l) => l['msg'] === 'GPU task message does not match the contract' && l['hasToken'] === false)).toBe(true);
  });

  it('runs an attempt once when its visibility lapses mid-run and SQS delivers it again', async () => {
    const queueUrl = await h.newQueue();
    const lapsing = await h.startWorker(
      { queueUrl, prefetch: 1, visibilityTimeoutSeconds: 2, workerId: 'lapsing-worker' },
      { clients: { sqs: sqsLosingVisibilityChanges() } },
    );
    const task = h.task({ deadlineSeconds: 3.5 });
    h.sim.setFault(task.jobId, 'hang');
    const accepted = h.sim.stats().promptsAccepted;
    const retriesBefore = await counter(lapsing, 'orchestrator_task_retries_total');

    await h.send(task, queueUrl);
    const answer = await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.action === 'SendTaskFailure');
    await drained(queueUrl);
    const retries = await counter(lapsing, 'orchestrator_task_retries_total');
    await lapsing.stop();

    expect(answer.error).toBe('Gpu.Timeout');
    expect(h.sim.stats().promptsAccepted).toBe(accepted + 1);
    expect(answers(task.taskToken)).toHaveLength(1);
    expect(retries).toBeGreaterThan(retriesBefore);
    expect(h.logs.some((l) => l['jobId'] === task.jobId && String(l['msg']).startsWith('the running attempt was redelivered'))).toBe(true);
  });

  it('keeps a job longer than the visibility timeout invisible by extending it', async () => {
    const queueUrl = await h.newQueue();
    const extending = await h.startWorker({ queueUrl, prefetch: 1, visibilityTimeoutSeconds: 2, workerId: 'extending-worker' });
    const task = h.task({ deadlineSeconds: 3.5 });
    h.sim.setFault(task.jobId, 'hang');

    await h.send(task, queueUrl);
    const answer = await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.action === 'SendTaskFailure');
    await drained(queueUrl);
    const retries = await counter(extending, 'orchestrator_task_retries_total');
    await extending.stop();

    expect(answer.error).toBe('Gpu.Timeout');
    expect(retries).toBe(0);
    expect(h.logs.some((l) => l['jobId'] === task.jobId && String(l['msg']).includes('redelivered'))).toBe(false);
  });
});
