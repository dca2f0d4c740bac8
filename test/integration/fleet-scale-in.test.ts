/**
 * Scale-in never cuts a running job short, forced: two hosts up, one running a long job and
 * the other idle past the scale-in cooldown, and the scaler (local/fleet-scaler.ts with
 * core/scaling.ts) deciding at that very moment. The scaler's own loop is slowed to one
 * decision an hour, so each decision here is one the test asks for (tick), at the moment the
 * case needs; fleet-scaling.test.ts covers the loop left to itself. A scale-in that reaches
 * the busy worker anyway is refused by the worker (SIGUSR2, worker.scaleIn()). Time scale
 * 0.1: a host boots in 12 s and loads its model in 3 s.
 */
import { randomUUID } from 'node:crypto';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packExecutionName, type JobRecord } from '../../core/job.ts';
import { fleetScalingSchema } from '../../core/fleet-scaling-settings.ts';
import { jobsOfPack } from '../../adapters/job-store.ts';
import type { PromptRecord } from '../../local/comfyui/server.ts';
import { LOCAL_MODELS, startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import type { Health } from '../../worker/metrics-server.ts';
import { eventually } from '../support/eventually.ts';
import { seedPack } from '../support/jobs.ts';

const FLEET = fleetScalingSchema.parse({ minWorkers: 0, maxWorkers: 2, backlogPerWorker: 2, scaleOutCooldownSeconds: 20, scaleInCooldownSeconds: 10 });
/**
 * A long job: its model is not the one the warm-up loaded, so its prompt pays the modelled
 * load (3 s real here) as one wait, which a loaded machine does not stretch as it stretches
 * many short sampler steps; then 150 steps at 1024² (~1.2 s). Well inside the 12 s GPU deadline.
 */
const LONG = { width: 1024, height: 1024, steps: 150, batch: 1, model: LOCAL_MODELS[2]! };

let stack: OfflineStack;
const fleetLog: Record<string, unknown>[] = [];
const sfn = new SFNClient({});

beforeAll(async () => {
  stack = await startOfflineStack({
    timeScale: 0.1, profile: 'none', watchdog: false, prefix: `fi${randomUUID().slice(0, 6)}`, fleet: FLEET,
    // One decision an hour on its own (the first runs at start, on an empty fleet): the test decides when.
    scalerPeriodSeconds: 36_000,
    onSupervisorLog: (l) => fleetLog.push(l),
  });
}, 150_000);

afterAll(async () => {
  await stack?.stop();
  sfn.destroy();
}, 90_000);

const prompts = (): (PromptRecord & { host: string })[] => stack.hosts.flatMap((h) => h.comfy.promptLog().map((p) => ({ ...p, host: h.id })));
const hostOf = (id: string) => stack.hosts.find((h) => h.id === id)!;
async function health(id: string): Promise<Health | null> {
  const w = stack.workers.find((x) => x.id === id);
  if (w === undefined) return null;
  const res = await fetch(w.metricsUrl.replace(/\/metrics$/, '/healthz'), { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as Health;
}

describe('scale-in with one host running a long job and one idle', () => {
  it('stops the idle host, leaves the busy one running, and the job completes on its first attempt', async () => {
    // Prepare: two hosts up and warm, holding nothing.
    const ids = [(await stack.addWorker()).id, (await stack.addWorker()).id];
    for (const id of ids) await eventually(() => health(id), (h) => h?.status === 'ok', `${id} ready`, { timeoutMs: 60_000, everyMs: 250 });
    // The long job starts on one of them.
    const { pack } = await seedPack({ jobs: 1, mutate: (j) => { j.params = { ...j.params, ...LONG }; } });
    await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.endpoints.stateMachines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId: pack.packId }) }));
    const [job] = await eventually(() => jobsOfPack(pack.packId), (j) => j.length === 1, 'the job record');
    const running = (await eventually(() => prompts().find((p) => p.jobId === job!.jobId && p.startedAt !== null), (p) => p !== undefined,
      'the long job running on a host', { timeoutMs: 60_000, everyMs: 50 }))!;
    const busyId = running.host;
    const idleId = ids.find((id) => id !== busyId)!;
    const longPrompt = () => prompts().find((p) => p.promptId === running.promptId)!;
    // The other host has been idle since it was ready, longer than the cooldown.
    await eventually(() => health(idleId), (h) => (h?.idleSeconds ?? 0) * 10 >= FLEET.scaleInCooldownSeconds, `${idleId} idle ${FLEET.scaleInCooldownSeconds} s`);

    // Act: one message for two hosts; the scaler decides now.
    const decision = await stack.scaler!.tick();

    // Assess: it stopped the idle host only, having seen the other hold the job.
    expect(decision.stop).toEqual([idleId]);
    expect(decision.workers.find((w) => w.id === busyId)).toMatchObject({ phase: 'ready', busy: 1, idleSince: null });
    // A scale-in request that reaches the busy worker anyway (a decision on a stale view of it)
    // is refused by the worker itself, as ECS task protection refuses it deployed.
    expect(await stack.scaleInWorker(busyId)).toBe(false);
    await eventually(() => hostOf(idleId).endedAt, (at) => at !== null, `${idleId} stopped`, { timeoutMs: 20_000, everyMs: 50 });
    expect(longPrompt().endedAt, 'the long job still running when the idle host had stopped').toBeNull();
    expect(hostOf(busyId).endedAt).toBeNull();
    expect(stack.workers.map((w) => w.id)).toEqual([busyId]);

    // The job completes on its first and only attempt, on the busy host, which no decision stopped meanwhile.
    const done: JobRecord[] = await eventually(() => jobsOfPack(pack.packId), (js) => js[0]?.status === 'complete' || js[0]?.status === 'failed', 'the long job ended', { timeoutMs: 60_000, everyMs: 250 });
    expect(done[0]).toMatchObject({ status: 'complete', attempts: { gpu: 1 }, recoveries: [] });
    expect(prompts().filter((p) => p.jobId === job!.jobId).map((p) => [p.host, p.attempt, p.outcome])).toEqual([[busyId, 1, 'success']]);
    expect(stack.scaler!.decisions.flatMap((d) => d.stop)).toEqual([idleId]);

    // Then, idle in its turn, the busy host is the next one stopped, after its job ended.
    await eventually(() => health(busyId), (h) => h?.busy === 0 && (h.idleSeconds ?? 0) * 10 >= FLEET.scaleInCooldownSeconds, `${busyId} idle ${FLEET.scaleInCooldownSeconds} s`);
    const after = await stack.scaler!.tick();
    expect(after.stop).toEqual([busyId]);
    await eventually(() => hostOf(busyId).endedAt, (at) => at !== null, `${busyId} stopped`, { timeoutMs: 20_000, everyMs: 50 });
    expect(hostOf(busyId).endedAt!).toBeGreaterThanOrEqual(longPrompt().endedAt!);
    // Scale-ins, not deaths: the supervisor replaced nothing.
    expect(fleetLog.filter((l) => l['supervisor'] !== undefined)).toEqual([]);
    expect(stack.iamDenials()).toEqual([]);
  }, 150_000);
});
