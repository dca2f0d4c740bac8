/**
 * The whole pipeline on the offline stack: DynamoDB Local, fauxqs, the local Step
 * Functions service running the committed ASL with the real handlers, simulated ComfyUI
 * and providers, and GPU worker processes. One pack carries a job per recovery path, so
 * every family is exercised in one run; the job's ledger and its execution history (read
 * through @aws-sdk/client-sfn) must tell the same story.
 */
import { randomUUID } from 'node:crypto';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient, StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newJobRecord, newPackRecord, packExecutionName, type JobRecord } from '../../core/job.ts';
import { resolveParams, type PartialParams } from '../../core/params.ts';
import { s3Keys } from '../../core/resources.ts';
import { getJob, jobsOfPack, putPackWithJobs } from '../../adapters/job-store.ts';
import { putObject } from '../../adapters/artifacts.ts';
import { JOB_STATES } from '../../statemachines/job.ts';
import { MISSING_MODEL } from '../../local/demo.ts';
import { followPack } from '../../cli/offline-run.ts';
import { startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import { garmentImage, personImage } from '../support/images.ts';
import { eventually } from '../support/eventually.ts';

let stack: OfflineStack;
let sfn: SFNClient;
let s3: S3Client;

/** One job per path: what to set up, and what the pipeline must do with it. */
interface Scenario {
  readonly name: string;
  readonly params?: PartialParams;
  readonly corruptGarment?: boolean;
  readonly faults?: (s: OfflineStack, jobId: string) => void;
  readonly status: 'complete' | 'failed';
  readonly error?: string;
  /** The recovery state the execution must enter, and the strategy in the job's ledger. */
  readonly recoveryState?: string;
  readonly strategy?: string;
  readonly ledgerError?: string;
}

const comfy = (kind: 'hang' | 'http503' | 'blackOutput' | 'truncatedOutput' | 'diskFull', calls?: number) => (s: OfflineStack, jobId: string) => {
  for (const w of s.workers) w.comfy.setFault(jobId, kind, calls);
};

const SCENARIOS: Scenario[] = [
  { name: 'a clean job', status: 'complete' },
  { name: 'out of GPU memory (1536², batch 4 against the VRAM budget)', params: { width: 1536, height: 1536, batch: 4, steps: 40 }, status: 'complete', recoveryState: JOB_STATES.reduce, strategy: 'REDUCE_PARAMS', ledgerError: 'Gpu.OutOfMemory' },
  { name: 'a model no GPU has installed', params: { model: MISSING_MODEL }, status: 'complete', recoveryState: JOB_STATES.switchModel, strategy: 'SWITCH_MODEL', ledgerError: 'Gpu.ModelMissing' },
  { name: 'a generation that hangs', faults: comfy('hang'), status: 'complete', recoveryState: JOB_STATES.resume, strategy: 'RESUME_CHECKPOINT', ledgerError: 'Gpu.Timeout' },
  { name: 'ComfyUI answering 503', faults: comfy('http503'), status: 'complete', recoveryState: JOB_STATES.backoff, strategy: 'RETRY_BACKOFF', ledgerError: 'Transient.ServiceUnavailable' },
  { name: 'a truncated GPU output that compositing cannot decode', faults: comfy('truncatedOutput'), status: 'complete', recoveryState: JOB_STATES.resume, strategy: 'RETRY_BACKOFF', ledgerError: 'Compositing.Failed' },
  { name: 'a black output that QA rejects', faults: comfy('blackOutput'), status: 'complete', recoveryState: JOB_STATES.planFix, strategy: 'FIX_AND_RETRY', ledgerError: 'Qa.Rejected' },
  { name: 'a degenerate first segmentation pass', faults: (s, id) => s.providers.setFault('segmentation', id, 'degenerate', 3), status: 'complete', recoveryState: JOB_STATES.resegment, strategy: 'RESEGMENT', ledgerError: 'Segmentation.DegenerateMask' },
  { name: 'a malformed analyzer answer', faults: (s, id) => s.providers.setFault('analyzer', id, 'malformed', 1), status: 'complete', strategy: 'RETRY_BACKOFF', ledgerError: 'Provider.MalformedResponse' },
  { name: 'a rate-limited segmentation provider', faults: (s, id) => s.providers.setFault('segmentation', id, 'http429', 1), status: 'complete', strategy: 'RETRY_BACKOFF', ledgerError: 'Transient.RateLimited' },
  { name: 'a full disk on the GPU host', faults: comfy('diskFull', Number.POSITIVE_INFINITY), status: 'failed', error: 'Fatal.DiskFull' },
  { name: 'an unreadable garment upload', corruptGarment: true, status: 'failed', error: 'Fatal.InvalidInput' },
];

const RECOVERY_STATES = [JOB_STATES.reduce, JOB_STATES.switchModel, JOB_STATES.resume, JOB_STATES.resegment, JOB_STATES.planFix, JOB_STATES.backoff];

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, ...(nextToken && { nextToken }) }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

const entered = (events: HistoryEvent[]) => events.flatMap((e) => (e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : []));

async function submitPack(scenarios: readonly Scenario[], inpaint: 'comfyui' | 'hosted' = 'comfyui'): Promise<{ packId: string; jobs: Map<string, Scenario> }> {
  const packId = randomUUID();
  const now = new Date().toISOString();
  const person = await putObject(s3Keys.upload(packId, 'person.png'), await personImage(320, 320));
  const garment = await putObject(s3Keys.upload(packId, 'garment.png'), await garmentImage(320, 320, [30, 90, 200]));
  const corrupt = await putObject(s3Keys.upload(packId, 'corrupt.png'), Buffer.from('truncated upload, not an image'));
  const jobs = new Map<string, Scenario>();
  const records: JobRecord[] = scenarios.map((sc) => {
    const j = newJobRecord({ packId, jobId: randomUUID(), inpaint, now, inputs: { person, garment: sc.corruptGarment ? corrupt : garment }, params: resolveParams(sc.params) });
    jobs.set(j.jobId, sc);
    sc.faults?.(stack, j.jobId);
    return j;
  });
  const pack = newPackRecord({ packId, name: 'integration', inpaint, jobCount: records.length, now });
  await putPackWithJobs(pack, records);
  await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.endpoints.stateMachines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId }) }));
  return { packId, jobs };
}

beforeAll(async () => {
  // 0.1: ten times faster than real, with margins that hold while the rest of the suite
  // shares the two cores. One worker with the default prefetch: the other GPU tasks wait in
  // the queue, which is not failing (no heartbeat clock runs while a task waits).
  stack = await startOfflineStack({ timeScale: 0.1, workers: 1, profile: 'none', prefix: `it${randomUUID().slice(0, 6)}` });
  sfn = new SFNClient({});
  s3 = new S3Client({ forcePathStyle: true });
}, 120_000);

afterAll(async () => {
  sfn?.destroy();
  s3?.destroy();
  await stack?.stop();
}, 60_000);

describe('a pack with one job per recovery path', () => {
  let finished: JobRecord[];
  let byJob: Map<string, Scenario>;

  beforeAll(async () => {
    const { packId, jobs } = await submitPack(SCENARIOS);
    byJob = jobs;
    const r = await followPack(packId, { quiet: true, deadlineMs: 150_000 });
    expect(r.timedOut).toBe(false);
    finished = r.jobs;
  }, 180_000);

  const job = (name: string) => finished.find((j) => byJob.get(j.jobId)?.name === name)!;

  it.each(SCENARIOS.filter((s) => s.status === 'complete'))('$name: completes with its output in S3', async (sc) => {
    const j = job(sc.name);
    expect(j.status).toBe('complete');
    expect(j.outputs?.result).toMatch(new RegExp(`^packs/${j.packId}/jobs/${j.jobId}/`));
    await expect(s3.send(new HeadObjectCommand({ Bucket: stack.endpoints.bucket, Key: j.outputs!.result! }))).resolves.toMatchObject({ ContentType: 'image/png' });
    expect((j.qaReport as { passed: boolean }).passed).toBe(true);
  });

  it.each(SCENARIOS.filter((s) => s.strategy !== undefined))('$name: recovers by $strategy, in the ledger and in the execution history', async (sc) => {
    const j = job(sc.name);
    const entry = j.recoveries.find((r) => r.error === sc.ledgerError);
    expect(entry).toMatchObject({ strategy: sc.strategy, outcome: 'recovered' });
    const states = entered(await history(j.executionArn!));
    if (sc.recoveryState) expect(states).toContain(sc.recoveryState);
    expect(states.at(-1)).toBe(JOB_STATES.done);
  });

  it('a clean job takes the shortest path: no recovery state, one GPU attempt', async () => {
    const j = job('a clean job');
    expect({ gpuAttempts: j.attempts.gpu, recoveries: j.recoveries }).toEqual({ gpuAttempts: 1, recoveries: [] });
    const states = entered(await history(j.executionArn!));
    expect(states.filter((s) => RECOVERY_STATES.includes(s as (typeof RECOVERY_STATES)[number]))).toEqual([]);
  });

  it.each(SCENARIOS.filter((s) => s.status === 'failed'))('$name: stops at once as $error, never retried', async (sc) => {
    const j = job(sc.name);
    expect(j).toMatchObject({ status: 'failed', error: { name: sc.error }, needsIntervention: true });
    expect({ gpuAttempts: j.attempts.gpu, recoveries: j.recoveries }).toEqual({ gpuAttempts: 1, recoveries: [] });
    const events = await history(j.executionArn!);
    const states = entered(events);
    expect(states.filter((s) => RECOVERY_STATES.includes(s as (typeof RECOVERY_STATES)[number]))).toEqual([]);
    expect(states.slice(-2)).toEqual([JOB_STATES.recordFailure, JOB_STATES.failed]);
    expect(states.filter((s) => s === JOB_STATES.runGpu)).toHaveLength(1);
    const failed = events.find((e) => e.type === 'ExecutionFailed');
    expect(failed?.executionFailedEventDetails?.error).toBe(sc.error);
  });

  it('DynamoDB and the executions agree on every job', async () => {
    for (const j of finished) {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: j.executionArn! }));
      expect({ job: j.jobId, status: d.status }).toEqual({ job: j.jobId, status: j.status === 'complete' ? 'SUCCEEDED' : 'FAILED' });
    }
  });
});

describe('a pack on the hosted inpaint API', () => {
  it('submits, polls until done, and recovers a hosted 503 by retrying in place', async () => {
    // Prepare
    const { packId, jobs } = await submitPack([
      { name: 'hosted clean', status: 'complete' },
      { name: 'hosted 503', faults: (s, id) => s.providers.setFault('hosted', id, 'http503', 1), status: 'complete' },
    ], 'hosted');
    // Act
    const { jobs: done, timedOut } = await followPack(packId, { quiet: true, deadlineMs: 120_000 });
    // Assess
    expect(timedOut).toBe(false);
    for (const j of done) {
      expect(j.status).toBe('complete');
      const states = entered(await history(j.executionArn!));
      expect(states).toContain(JOB_STATES.hostedSubmit);
      expect(states).toContain(JOB_STATES.hostedPoll);
      expect(states).not.toContain(JOB_STATES.runGpu);
    }
    const faulted = done.find((j) => jobs.get(j.jobId)?.name === 'hosted 503')!;
    expect(faulted.recoveries).toEqual([expect.objectContaining({ error: 'Transient.ServiceUnavailable', strategy: 'RETRY_BACKOFF', outcome: 'recovered' })]);
  }, 150_000);
});

describe('a GPU worker killed mid-job', () => {
  it('hands its attempt to another worker once its lease lapses: the same attempt runs again and the job completes, no failure met', async () => {
    // Prepare: a generation that makes no progress, so the worker is surely mid-job when it dies.
    const { packId, jobs } = await submitPack([{ name: 'killed', faults: comfy('hang'), status: 'complete' }]);
    const [jobId] = [...jobs.keys()];
    const victim = await eventually(() => stack.workers.find((w) => w.comfy.stats().running !== null), (w) => w !== undefined, 'a worker to run the prompt', { timeoutMs: 30_000, everyMs: 50 });
    expect(victim).toBeDefined();
    expect((await getJob(jobId!)).status).toBe('inpainting');
    // Only the victim's GPU hangs: wherever the attempt runs again, it can finish.
    for (const w of stack.workers) if (w !== victim) w.comfy.setFault(jobId!, null);
    // Act
    victim!.process.kill('SIGKILL');
    const { jobs: done, timedOut } = await followPack(packId, { quiet: true, deadlineMs: 120_000 });
    // Assess
    expect(timedOut).toBe(false);
    const j = done[0]!;
    expect(j.status).toBe('complete');
    expect(j.recoveries).toEqual([]);
    expect(j.attempts.gpu).toBe(1);
    expect(j.runs).toBe(1);
    const states = entered(await history(j.executionArn!));
    expect(states).not.toContain(JOB_STATES.resume);
    expect(await jobsOfPack(packId)).toHaveLength(1);
  }, 150_000);
});

describe('IAM as synthesized', () => {
  it('refused no SDK call of any function, the reconciler, the watchdog, the job machine or a GPU worker on every path above', () => {
    expect(stack.iamDenials()?.map((d) => d.message)).toEqual([]);
  });
});
