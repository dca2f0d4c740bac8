import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/ports.ts';
import { startHarness, SMALL_PARAMS, type Harness } from './support/harness.ts';
import { eventually } from '../support/eventually.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let h: Harness;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  // 1024² at 20 ms a step: a job long enough to be in flight when SIGTERM arrives.
  h = await startHarness({ stepMs: 20 });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await h?.close();
});

interface Run {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly exit: Promise<number | null>;
}

/** bin/worker.ts as a child process on this Node (24), as a parent process would run it. */
function runWorker(env: Record<string, string>, args: string[] = []): Run {
  const child = spawn(process.execPath, ['bin/worker.ts', ...args], {
    cwd: ROOT,
    env: {
      ...process.env, AWS_ENDPOINT_URL_SFN: h.sfn.url, GPU_QUEUE_URL: h.queueUrl, ARTIFACTS_BUCKET: h.bucket, COMFYUI_URL: h.sim.url,
      VTO_METRICS_PORT: '0', VTO_POLL_WAIT_SECONDS: '1', VTO_HEARTBEAT_INTERVAL_MS: '200', VTO_HISTORY_POLL_MS: '100',
      VTO_WORKER_ID: 'child-worker', VTO_LOG_LEVEL: 'info', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => stdout.push(...d.split('\n').filter(Boolean)));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => stderr.push(...d.split('\n').filter(Boolean)));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout, stderr, exit };
}

describe('the worker process (bin/worker.ts)', () => {
  it('drains on SIGTERM: the running job finishes within the grace, the held one is released at once, exit 0', async () => {
    const queueUrl = await h.newQueue();
    const run = runWorker({ GPU_QUEUE_URL: queueUrl, VTO_PREFETCH: '1', VTO_SHUTDOWN_GRACE_MS: '3000', VTO_VISIBILITY_TIMEOUT_SECONDS: '30' });
    const first = h.task({ params: { ...SMALL_PARAMS, width: 1024, height: 1024, steps: 40 } });
    const second = h.task();
    h.sim.setFault(second.jobId, 'hang');
    const interruptedBefore = h.sim.stats().promptsInterrupted;
    const acceptedBefore = h.sim.stats().promptsAccepted;

    await h.send(first, queueUrl);
    await eventually(() => h.sim.stats().running, (r) => r !== null, 'the first prompt to run', { timeoutMs: 10_000 });
    await h.send(second, queueUrl);
    await eventually(() => h.sim.stats().promptsAccepted, (n) => n === acceptedBefore + 2, 'the second prompt to be queued', { timeoutMs: 10_000 });
    run.child.kill('SIGTERM');
    const code = await run.exit;

    expect(code).toBe(0);
    expect(h.sfn.callsFor(first.taskToken, 'SendTaskSuccess')).toHaveLength(1);
    expect(h.sfn.callsFor(second.taskToken).filter((c) => c.action !== 'SendTaskHeartbeat')).toEqual([]);
    expect(await h.queueCounts(queueUrl)).toEqual({ visible: 1, inFlight: 0 });
    expect(h.sim.stats().promptsInterrupted).toBe(interruptedBefore + 1);
    expect(JSON.parse(run.stdout[0] ?? '')).toMatchObject({ metricsUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/), workerId: 'child-worker' });
  });

  it('exits 0 after autoShutdownMs with nothing to do', async () => {
    const run = runWorker({ VTO_AUTO_SHUTDOWN_MS: '300' });

    expect(await run.exit).toBe(0);
    expect(run.stderr.some((l) => l.includes('idle for autoShutdownMs'))).toBe(true);
  });

  it('exits 1 with a clear error when ComfyUI never comes up', async () => {
    const deadPort = await freePort();
    const run = runWorker({ COMFYUI_URL: `http://127.0.0.1:${deadPort}`, VTO_WORKER_START_TIMEOUT_MS: '300' });

    expect(await run.exit).toBe(1);
    const error = run.stderr.map((l) => JSON.parse(l) as { level: string; msg: string }).find((l) => l.level === 'error');
    expect(error?.msg).toMatch(new RegExp(`^ComfyUI at http://127\\.0\\.0\\.1:${deadPort} did not answer GET /system_stats within 300 ms .*ECONNREFUSED`));
  });

  it('exits 1 naming the bad setting', async () => {
    const run = runWorker({ VTO_PREFETCH: '-1' }, ['--auto-shutdown-ms', 'soon']);

    expect(await run.exit).toBe(1);
    const text = run.stderr.join('\n');
    expect(text).toContain('prefetch: must be ≥ 0 (got \\"-1\\" from env VTO_PREFETCH)');
    expect(text).toContain('autoShutdownMs: must be a number of milliseconds');
  });
});
