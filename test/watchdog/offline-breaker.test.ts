/**
 * Circuit breakers on the offline stack: the segmentation provider failing five times opens
 * its breaker, the stage calls meet Transient.CircuitOpen while it is open, it half-opens
 * after its (scaled) timeout and closes on a success, and the job completes. The GPU worker
 * processes share the ComfyUI fleet's breaker through the same table (its refusals are
 * tested with an injected clock in worker-breaker.test.ts).
 */
import { hostname } from 'node:os';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, it } from 'vitest';
import { comfyHostBreaker } from '../../core/breaker.ts';
import { jobExecutionName, type JobRecord } from '../../core/job.ts';
import { BreakerStore } from '../../adapters/breaker-store.ts';
import { getJob } from '../../adapters/job-store.ts';
import { eventually } from '../support/eventually.ts';
import { seedOneJobPack, useOfflineWatchdogStack } from '../support/offline-watchdog.ts';

/** Real seconds the breakers stay open, before the stack's time scale (0.05): 1 s offline. */
const OPEN_SECONDS = 20;
const OPEN_MS = OPEN_SECONDS * 1000 * 0.05;

const world = useOfflineWatchdogStack('br', { watchdog: false }, { VTO_BREAKER_OPEN_SECONDS: String(OPEN_SECONDS) });
let breakers: BreakerStore;

beforeAll(() => {
  breakers = new BreakerStore({ table: world.stack.resources.tables.control, settings: { failureThreshold: 5, openMs: OPEN_MS, halfOpenMaxCalls: 3 } });
});

/** One job run on its own (its pack has ended), as POST /jobs/{id}/retry runs it. */
async function runJob(prepare: (jobId: string) => void | Promise<void>): Promise<JobRecord> {
  const { pack, job } = await seedOneJobPack('breakers', { pack: { status: 'stopped' } });
  const { packId } = pack;
  await prepare(job.jobId);
  await world.sfn.send(new StartExecutionCommand({ stateMachineArn: world.stack.endpoints.stateMachines.job, name: jobExecutionName(job), input: JSON.stringify({ packId, jobId: job.jobId }) }));
  return eventually(() => getJob(job.jobId), (j) => j.status === 'complete' || j.status === 'failed', 'the job to end', { timeoutMs: 60_000, everyMs: 200 });
}

const transitions = async (provider: 'segmentation') => (await breakers.read(provider)).recent;

describe('the segmentation breaker', () => {
  it('opens after 5 failures, refuses calls while open, half-opens after its timeout and closes on a success', async () => {
    // Act: the provider answers 503 to the job's first five calls.
    const job = await runJob((jobId) => world.stack.providers.setFault('segmentation', jobId, 'http503', 5));

    // Assess
    expect(job.status).toBe('complete');
    const recent = await transitions('segmentation');
    expect(recent.map((t) => `${t.from}→${t.to}`)).toEqual(['closed→open', 'open→half_open', 'half_open→closed']);
    const [opened, halfOpened] = recent;
    expect(Date.parse(halfOpened!.at) - Date.parse(opened!.at)).toBeGreaterThanOrEqual(OPEN_MS);
    const errors = job.recoveries.filter((r) => r.fn === 'SegmentationCall').map((r) => r.error);
    expect(errors.filter((e) => e === 'Transient.ServiceUnavailable')).toHaveLength(5);
    expect(errors).toContain('Transient.CircuitOpen');
    expect(job.recoveries.every((r) => r.outcome === 'recovered')).toBe(true);
    expect((await breakers.read('segmentation')).breaker).toMatchObject({ state: 'closed', failures: 0 });
  }, 90_000);
});

describe('the ComfyUI host breakers in the GPU worker processes', () => {
  it('counts ComfyUI failures in the breaker item of the host that ran the prompt, and a success starts the count again', async () => {
    // Prepare: each worker drives its own ComfyUI, so each has a breaker of its own.
    const hostBreakers = () => Promise.all(world.stack.workers.map((w) => breakers.read(comfyHostBreaker(w.comfy.url, hostname()))));
    const before = await hostBreakers();

    // Act: ComfyUI answers the job's first prompt with 503.
    const job = await runJob((jobId) => {
      for (const w of world.stack.workers) w.comfy.setFault(jobId, 'http503', 1);
    });

    // Assess: one failure written, then reset by the retried prompt's success; never opened.
    expect(job.status).toBe('complete');
    expect(job.recoveries).toContainEqual(expect.objectContaining({ fn: 'GPU', error: 'Transient.ServiceUnavailable', outcome: 'recovered' }));
    const after = await hostBreakers();
    // One host counted the failure and reset it; no other host's breaker moved.
    expect(after.map((b, i) => b.version - before[i]!.version).sort()).toEqual([...Array(after.length - 1).fill(0), 2]);
    for (const b of after) expect(b).toMatchObject({ breaker: { state: 'closed', failures: 0 }, recent: [] });
  }, 90_000);
});

describe('IAM as synthesized', () => {
  it('refused none of the breaker writes of the stage functions and the GPU worker', () => {
    expect(world.stack.iamDenials()?.map((d) => d.message)).toEqual([]);
  });
});
