/**
 * Faults the offline stack injects do what they say, and the pipeline recovers from them.
 * A ComfyUI that dies mid-run comes back, as ECS brings back a GPU task's essential
 * container: the stack restarts the crashed simulator after its model loads again, and the
 * job it was running fails once, backs off and completes on the same host (before, the dead
 * ComfyUI stayed dead and its worker failed every retry on the closed port until the job's
 * retries ran out). A 'slow' provider answers after the client's timeout (before, scaled
 * with time, it answered within it and injected nothing).
 */
import { randomUUID } from 'node:crypto';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packExecutionName } from '../../core/job.ts';
import { isTerminalJob } from '../../core/status.ts';
import { getJob } from '../../adapters/job-store.ts';
import { startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import { eventually } from '../support/eventually.ts';
import { seedPack } from '../support/jobs.ts';

let stack: OfflineStack;
let sfn: SFNClient;

beforeAll(async () => {
  // One worker, so the retry can only run on the host whose ComfyUI died.
  stack = await startOfflineStack({ timeScale: 0.1, workers: 1, profile: 'none', prefix: `cr${randomUUID().slice(0, 6)}` });
  sfn = new SFNClient({});
}, 120_000);

afterAll(async () => {
  sfn?.destroy();
  await stack?.stop();
}, 60_000);

/** Runs a one-job pack, `inject` setting its faults first; returns the job once it ended. */
async function runJob(inject: (jobId: string) => void) {
  const { pack, jobs: [job] } = await seedPack({ size: 320, mutate: (j) => inject(j.jobId) });
  await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.endpoints.stateMachines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId: pack.packId }) }));
  return eventually(() => getJob(job!.jobId), (j) => isTerminalJob(j.status), 'the job to end', { timeoutMs: 120_000, everyMs: 250 });
}

describe('a ComfyUI that crashes mid-run', () => {
  it('is restarted, and the job it was running recovers on the same host', async () => {
    // Prepare
    const comfy = stack.workers[0]!.comfy;
    // Act
    const done = await runJob((jobId) => comfy.setFault(jobId, 'crash', 1));
    // Assess
    expect(done.status, JSON.stringify(done.recoveries)).toBe('complete');
    // A transient failure: which one depends on where the crash caught the worker (refused connection, reset socket).
    expect(done.recoveries.map((r) => r.strategy)).toEqual(['RETRY_BACKOFF']);
    expect(done.recoveries[0]!.error).toMatch(/^Transient\./);
    expect(comfy.stats()).toMatchObject({ crashed: false });
    expect(comfy.promptLog().length).toBeGreaterThanOrEqual(2);
  });
});

describe('a provider that answers after the client has given up', () => {
  it('fails the call as Transient.Network, and the job recovers', async () => {
    // Act
    const done = await runJob((jobId) => stack.providers.setFault('segmentation', jobId, 'slow', 1));
    // Assess
    expect(done.status, JSON.stringify(done.recoveries)).toBe('complete');
    expect(done.recoveries.map((r) => [r.error, r.strategy])).toEqual([['Transient.Network', 'RETRY_BACKOFF']]);
  });
});
