/**
 * The offline GPU fleet autoscaled by core/scaling.ts (local/fleet-scaler.ts), on one stack
 * at 0..3 workers: from zero (a worker boots, warms up and runs the job), scale-out under a
 * burst toward maxWorkers, scale-in that stops only idle workers and cuts no job short, and a
 * SIGKILLed worker replaced by the supervisor. Time scale 0.1 (a GPU deadline of
 * 12 s leaves room for a shared, loaded machine): a host boots in 12 s and loads its model in
 * 3 s; the cooldowns below are pipeline seconds (× 0.1 real).
 */
import { randomUUID } from 'node:crypto';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packExecutionName, type JobRecord } from '../../core/job.ts';
import { fleetScalingSchema } from '../../core/fleet-scaling-settings.ts';
import type { InpaintParams } from '../../core/params.ts';
import { jobsOfPack } from '../../adapters/job-store.ts';
import type { PromptRecord } from '../../local/comfyui/server.ts';
import { startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import { eventually } from '../support/eventually.ts';
import { seedPack } from '../support/jobs.ts';

const FLEET = fleetScalingSchema.parse({ minWorkers: 0, maxWorkers: 3, backlogPerWorker: 2, scaleOutCooldownSeconds: 20, scaleInCooldownSeconds: 10 });
/** Short jobs: a few tens of ms of simulated GPU. */
type Size = Pick<InpaintParams, 'width' | 'height' | 'steps' | 'batch'>;
const SHORT: Size = { width: 512, height: 512, steps: 20, batch: 1 };
/** A longer job: 150 steps (7.5× a short one), still small enough for the 12 s GPU deadline on a loaded machine. */
const LONG: Size = { width: 512, height: 512, steps: 150, batch: 1 };

let stack: OfflineStack;
const fleetLog: Record<string, unknown>[] = [];
const sfn = new SFNClient({});

beforeAll(async () => {
  stack = await startOfflineStack({
    timeScale: 0.1, profile: 'none', watchdog: false, prefix: `fs${randomUUID().slice(0, 6)}`, fleet: FLEET, scalerPeriodSeconds: 5,
    onSupervisorLog: (l) => fleetLog.push(l),
  });
}, 150_000);

afterAll(async () => {
  await stack?.stop();
  sfn.destroy();
}, 90_000);

async function submit(jobs: Size[]): Promise<string> {
  const { pack } = await seedPack({ jobs: jobs.length, mutate: (j, i) => { j.params = { ...j.params, ...jobs[i] }; } });
  await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.endpoints.stateMachines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId: pack.packId }) }));
  return pack.packId;
}

/** Waits for every job of the pack to complete; a timed-out wait shows each job's status, error, steps and GPU attempts. */
async function completed(packId: string, n: number, what: string, timeoutMs: number): Promise<JobRecord[]> {
  const summary = async () => (await jobsOfPack(packId)).map((j) => ({ status: j.status, error: j.error?.name, steps: j.params.steps, gpu: j.attempts.gpu }));
  await eventually(summary, (js) => js.length === n && js.every((j) => j.status === 'complete'), what, { timeoutMs, everyMs: 250 });
  return jobsOfPack(packId);
}
const prompts = (): (PromptRecord & { host: string })[] => stack.hosts.flatMap((h) => h.comfy.promptLog().map((p) => ({ ...p, host: h.id })));
const liveHosts = () => stack.hosts.filter((h) => h.endedAt === null);

describe('the offline GPU fleet, autoscaled 0..3', () => {
  it('starts from zero: no worker until work waits, then one boots, warms up, and runs the job', async () => {
    // Prepare: the scaler has looked at the empty queue and kept the fleet at zero.
    await eventually(() => stack.scaler?.latest(), (d) => d !== undefined, 'a first scaling decision');
    expect(stack.workers).toHaveLength(0);
    expect(stack.hosts).toHaveLength(0);

    // Act
    const packId = await submit([SHORT]);
    const jobs = await completed(packId, 1, 'the job complete on a worker started from zero', 60_000);

    // Assess: one host, whose warm-up prompt loaded the model before the job's prompt ran.
    expect(stack.hosts).toHaveLength(1);
    const onHost = prompts().filter((p) => p.host === stack.hosts[0]!.id);
    const warmup = onHost.find((p) => p.warmup === true);
    const job = onHost.find((p) => p.jobId === jobs[0]!.jobId);
    expect(warmup?.outcome).toBe('success');
    expect(job?.outcome).toBe('success');
    expect(warmup!.endedAt!).toBeLessThanOrEqual(job!.startedAt!);
    // The model load (3 s here) was the warm-up's, not the job's.
    expect(job!.endedAt! - job!.startedAt!).toBeLessThan(warmup!.endedAt! - warmup!.startedAt!);
    expect(fleetLog.find((l) => typeof l['scaler'] === 'string' && l['scaler'].startsWith('scale out 0 → 1'))).toBeDefined();
  }, 90_000);

  it('scales out toward maxWorkers under a burst, then in: only idle workers stop, and no job is cut short', async () => {
    // Prepare: the first test's worker scaled in (idle 10 s pipeline = 1 s real).
    await eventually(() => stack.workers.length, (n) => n === 0, 'the fleet back at zero', { timeoutMs: 30_000 });
    const hostsBefore = stack.hosts.length;
    const decisionsBefore = stack.scaler!.decisions.length;
    let peak = 0;
    const watch = setInterval(() => { peak = Math.max(peak, liveHosts().length); }, 20);

    // Act: 7 GPU messages want 4 workers at 2 each; maxWorkers is 3.
    const packId = await submit([LONG, ...Array.from({ length: 6 }, () => SHORT)]);
    const jobs = await completed(packId, 7, 'every job of the burst complete', 90_000);
    await eventually(() => stack.workers.length, (n) => n === 0, 'the fleet back at zero after the burst', { timeoutMs: 30_000 });
    clearInterval(watch);

    // Assess: the fleet grew to its maximum and never past it.
    expect(peak).toBe(FLEET.maxWorkers);
    expect(stack.hosts.length - hostsBefore).toBe(FLEET.maxWorkers);
    const decisions = stack.scaler!.decisions.slice(decisionsBefore);
    expect(decisions.every((d) => d.desired <= FLEET.maxWorkers)).toBe(true);
    // Scale-in stopped only workers holding nothing (whether another still ran a job at that
    // moment depends on the machine's speed; core/scaling.test.ts fixes that case).
    const ins = decisions.filter((d) => d.stop.length > 0);
    expect(ins.flatMap((d) => d.stop)).toHaveLength(FLEET.maxWorkers);
    for (const d of ins) for (const id of d.stop) expect(d.workers.find((w) => w.id === id)).toMatchObject({ phase: 'ready', busy: 0 });
    // No drain cut a job short: every prompt ended in success, except one the GPU deadline cut
    // (a loaded machine), which the job records as its Gpu.Timeout recovery; a drained worker's
    // released prompt would show as interrupted with no such recovery.
    const jobPrompts = prompts().filter((p) => jobs.some((j) => j.jobId === p.jobId));
    for (const p of jobPrompts.filter((x) => x.outcome !== 'success')) {
      const job = jobs.find((j) => j.jobId === p.jobId)!;
      expect(job.recoveries.map((r) => [r.error, r.attempt]), `prompt ${p.promptId} (${p.outcome})`).toContainEqual(['Gpu.Timeout', p.attempt]);
    }
    // No scale-in was a death: the supervisor replaced nothing.
    expect(fleetLog.filter((l) => l['supervisor'] !== undefined)).toEqual([]);
  }, 150_000);

  it('replaces a worker that dies; the job it held still completes', async () => {
    // Prepare: a worker holding the long job.
    const packId = await submit([LONG]);
    const [job] = await eventually(() => jobsOfPack(packId), (j) => j.length === 1, 'the job record');
    const running = await eventually(() => prompts().find((p) => p.jobId === job!.jobId && p.startedAt !== null), (p) => p !== undefined, 'the job running on a worker', { timeoutMs: 60_000, everyMs: 50 });
    const victim = stack.workers.find((w) => w.id === running!.host)!;

    // Act
    victim.process.kill('SIGKILL');

    // Assess: the supervisor started it again under its id, and the job ended complete.
    await eventually(() => fleetLog, (l) => l.some((x) => x['supervisor'] === 'restarted' && x['process'] === victim.id), `${victim.id} restarted`, { timeoutMs: 30_000 });
    await completed(packId, 1, 'the job complete after its worker died', 60_000);
    expect(stack.workers.find((w) => w.id === victim.id)?.process.pid).not.toBe(victim.process.pid);
    expect(stack.iamDenials()).toEqual([]);
  }, 150_000);
});
