/**
 * Leases: a worker holds a task only with a short lease (SQS visibility + attempt claim in
 * the control table, DynamoDB Local). A dead worker's attempt runs again on another worker
 * within lease + 10 s; a live holder keeps its attempt; two workers never run one attempt.
 * Also the per-host circuit breaker: an open host takes nothing, the others run the work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttemptClaims } from '../../adapters/attempt-claims.ts';
import { BreakerStore } from '../../adapters/breaker-store.ts';
import { startComfySim, type ComfySim } from '../../local/comfyui/server.ts';
import { hostBreaker } from '../../worker/host-breaker.ts';
import { createLogger } from '../../worker/logger.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { eventually } from '../support/eventually.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LEASE_SECONDS = 3;

let h: Harness;
let simB: ComfySim;
let table: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  // 20 ms a step at 1024²: jobs long enough to kill a worker in the middle of one. Host B
  // only reruns, watches or takes over work, so it runs at the harness's usual 2 ms a step:
  // a rerun as long as the killed prompt only widens the window a loaded machine can miss.
  h = await startHarness({ stepMs: 20 });
  simB = await startComfySim({ stepMs: 2 });
  table = process.env['CONTROL_TABLE']!;
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await h?.close();
  await simB?.stop();
});

const claimsFor = (workerId: string) => new AttemptClaims({ table, workerId, ttlMs: LEASE_SECONDS * 1000 });
const answers = (token: string) => h.sfn.callsFor(token).filter((c) => c.action !== 'SendTaskHeartbeat');
const promptsOf = (sim: ComfySim, jobId: string) => sim.promptLog().filter((p) => p.jobId === jobId);
const LONG = { width: 1024, height: 1024, steps: 300 };
/**
 * How long a worker of the harness may take to answer a task whose prompt is on ComfyUI: its
 * generation deadline, then one request timeout each to read the outputs, store them and
 * answer. Past it the worker broke its own deadline; before it, a slow answer is only load.
 */
const answeredWithinMs = () => {
  const c = h.config();
  return c.generationTimeoutMs + 3 * c.requestTimeoutMs;
};

/** An SQS client whose ChangeMessageVisibility calls are lost: the holder's lease on the message lapses while it lives. */
function sqsLosingVisibilityChanges(): SQSClient {
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false, maxAttempts: 1 });
  sqs.middlewareStack.add(
    (next, context) => async (args) => (context.commandName === 'ChangeMessageVisibilityCommand' ? { output: { $metadata: {} }, response: {} } : next(args)),
    { step: 'initialize', name: 'loseVisibilityChanges' },
  );
  return sqs;
}

describe('GPU task leases', () => {
  it('runs the attempt of a SIGKILLed worker on another worker within lease + 10 s, with the same token', async () => {
    // Prepare: the doomed worker is a real child process (bin/worker.ts) with claims.
    const queueUrl = await h.newQueue();
    const child = spawn(process.execPath, ['bin/worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env, AWS_ENDPOINT_URL_SFN: h.sfn.url, GPU_QUEUE_URL: queueUrl, ARTIFACTS_BUCKET: h.bucket, COMFYUI_URL: h.sim.url,
        CONTROL_TABLE: table, VTO_CIRCUIT_BREAKER: 'off', VTO_VISIBILITY_TIMEOUT_SECONDS: String(LEASE_SECONDS), VTO_METRICS_PORT: '0',
        VTO_POLL_WAIT_SECONDS: '1', VTO_HEARTBEAT_INTERVAL_MS: '200', VTO_HISTORY_POLL_MS: '100', VTO_WORKER_ID: 'doomed', VTO_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    children.add(child);
    const task = h.task({ params: LONG });
    await h.send(task, queueUrl);
    await eventually(() => promptsOf(h.sim, task.jobId).some((p) => p.startedAt !== null), Boolean, 'the prompt to run on the first worker', { timeoutMs: 30_000 });
    await h.startWorker({ queueUrl, comfyUrl: simB.url, workerId: 'rescuer', visibilityTimeoutSeconds: LEASE_SECONDS }, { claims: claimsFor('rescuer') });

    // Act
    child.kill('SIGKILL');
    const killedAt = Date.now();
    const [rerun] = await eventually(() => promptsOf(simB, task.jobId), (p) => p.length > 0, 'the attempt to run again', { timeoutMs: (LEASE_SECONDS + 15) * 1000 });
    const answer = await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.action !== 'SendTaskHeartbeat', answeredWithinMs());

    // Assess
    expect(rerun!.queuedAt - killedAt).toBeLessThanOrEqual((LEASE_SECONDS + 10) * 1000);
    expect([answer.action, answer.error, answer.answer]).toEqual(['SendTaskSuccess', undefined, 'ok']);
    expect(answers(task.taskToken)).toHaveLength(1);
  });

  it('leaves a redelivered message to the live holder of its claim: one worker runs the attempt, once', async () => {
    // Prepare: the holder's visibility extensions are lost, so SQS hands its message to the
    // other worker while the holder runs it and renews its claim.
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl, workerId: 'holder', prefetch: 0, visibilityTimeoutSeconds: 2 },
      { claims: new AttemptClaims({ table, workerId: 'holder', ttlMs: 2000 }), clients: { sqs: sqsLosingVisibilityChanges() } });
    const task = h.task({ params: LONG });
    await h.send(task, queueUrl);
    await eventually(() => promptsOf(h.sim, task.jobId).some((p) => p.startedAt !== null), Boolean, 'the holder to run the prompt', { timeoutMs: 20_000 });
    await h.startWorker({ queueUrl, comfyUrl: simB.url, workerId: 'bystander', visibilityTimeoutSeconds: 2 },
      { claims: new AttemptClaims({ table, workerId: 'bystander', ttlMs: 2000 }) });

    // Act
    const answer = await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.action !== 'SendTaskHeartbeat', answeredWithinMs());
    await eventually(() => h.queueCounts(queueUrl), (c) => c.visible === 0 && c.inFlight === 0, 'the message to be gone', { timeoutMs: 15_000 });

    // Assess
    expect([answer.action, answer.error, answer.answer]).toEqual(['SendTaskSuccess', undefined, 'ok']);
    expect(h.logs.some((l) => l['jobId'] === task.jobId && l['msg'] === 'another worker holds this attempt; leaving the message to it' && l['holder'] === 'holder')).toBe(true);
    expect(promptsOf(simB, task.jobId)).toEqual([]);
    expect(promptsOf(h.sim, task.jobId)).toHaveLength(1);
    expect(answers(task.taskToken)).toHaveLength(1);
  });

  it('takes nothing on a host whose breaker is open; the other host runs the work', async () => {
    // Prepare: host A's breaker opened by one failure; host B's closed.
    const queueUrl = await h.newQueue();
    const store = new BreakerStore({ table, settings: { failureThreshold: 1, openMs: 60_000, halfOpenMaxCalls: 1 } });
    const log = createLogger({ level: 'silent' });
    const hostA = hostBreaker(store, { comfyUrl: h.sim.url, hostId: 'host-a', log, pollMs: 50 });
    const hostB = hostBreaker(store, { comfyUrl: simB.url, hostId: 'host-b', log, pollMs: 50 });
    await hostA.onFailure();
    await h.startWorker({ queueUrl, workerId: 'on-a', prefetch: 1 }, { breaker: hostA });
    await h.startWorker({ queueUrl, comfyUrl: simB.url, workerId: 'on-b', prefetch: 1 }, { breaker: hostB });
    const tasks = [h.task(), h.task(), h.task()];

    // Act
    for (const t of tasks) await h.send(t, queueUrl);
    for (const t of tasks) await h.sfn.waitFor((c) => c.taskToken === t.taskToken && c.action === 'SendTaskSuccess', 20_000);

    // Assess
    expect(hostA.key).toBe(`comfyui#host-a:${h.sim.port}`);
    expect((await store.read(hostA.key)).breaker.state).toBe('open');
    expect(tasks.flatMap((t) => promptsOf(h.sim, t.jobId))).toEqual([]);
    expect(tasks.map((t) => promptsOf(simB, t.jobId).length)).toEqual([1, 1, 1]);
  });
});
