/**
 * The GPU fleet on the offline stack: GET /health lists the workers alive and one circuit
 * breaker per ComfyUI host; a SIGKILLed worker the supervisor does not replace shows as lost
 * capacity and degrades the health; a supervised one is restarted under its id (logged,
 * bounded) and the fleet is whole again.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { signedFetch } from '../../client/signed-fetch.ts';
import { documentClient } from '../../adapters/aws-clients.ts';
import { healthSchema } from '../../lambdas/api/schemas.ts';
import { startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import { eventually } from '../support/eventually.ts';

type Health = z.infer<typeof healthSchema>;

let stack: OfflineStack;
const supervisorLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  stack = await startOfflineStack({
    timeScale: 0.05, workers: 2, profile: 'none', watchdog: false, prefix: `fl${randomUUID().slice(0, 6)}`,
    onSupervisorLog: (l) => supervisorLines.push(l),
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

async function health(): Promise<Health> {
  const res = await signedFetch(`${stack.endpoints.api}/health`, { method: 'GET' }, {
    credentials: stack.endpoints.credentials, region: stack.endpoints.region, timeoutMs: 10_000,
  });
  return healthSchema.parse(await res.json());
}

const alive = (h: Health) => h.fleet?.workers.filter((w) => w.state === 'alive').map((w) => w.workerId).sort() ?? [];

describe('the GPU fleet in GET /health', () => {
  it('lists every worker alive with its ComfyUI host and slots, and a breaker per host', async () => {
    // Prepare: one ComfyUI host's breaker opened, as the worker driving it records it.
    const host = new URL(stack.workers[0]!.comfy.url).host;
    await documentClient().send(new PutCommand({
      TableName: stack.resources.tables.control,
      Item: { id: `breaker#comfyui#${host}`, provider: `comfyui#${host}`, state: 'open', failures: 5, trials: 0, openedAt: new Date().toISOString(), version: 1, recent: [] },
    }));

    // Act
    const h = await eventually(health, (x) => alive(x).length === 2, 'both workers alive in /health');

    // Assess
    // Each worker offers the prompt it runs plus its prefetch (default 1).
    expect(h.fleet).toMatchObject({ workersAlive: 2, workersLost: 0, slots: 4 });
    expect(h.fleet?.workers.map((w) => w.host).sort()).toEqual(stack.workers.map((w) => new URL(w.comfy.url).host).sort());
    expect(h.circuitBreakers).toContainEqual(expect.objectContaining({ dependency: `comfyui#${host}`, state: 'open', failures: 5 }));
    expect(h.status).toBe('degraded');
  });

  it('degrades when a worker dies and nothing replaces it, naming it lost', async () => {
    // Prepare: a third worker the supervisor leaves alone; the breaker of the first test is closed again.
    const host = new URL(stack.workers[0]!.comfy.url).host;
    await documentClient().send(new PutCommand({
      TableName: stack.resources.tables.control,
      Item: { id: `breaker#comfyui#${host}`, provider: `comfyui#${host}`, state: 'closed', failures: 0, trials: 0, version: 2, recent: [] },
    }));
    const extra = await stack.addWorker({ supervise: false });
    const before = await eventually(health, (x) => alive(x).includes(extra.id) && x.status === 'ok', 'the third worker alive and the health ok');

    // Act
    extra.process.kill('SIGKILL');
    const after = await eventually(health, (x) => (x.fleet?.workersLost ?? 0) > 0, 'the killed worker counted lost');

    // Assess
    expect(before.score).toBe(100);
    expect(after.fleet?.workers).toContainEqual(expect.objectContaining({ workerId: extra.id, state: 'lost' }));
    expect(after.fleet).toMatchObject({ workersAlive: 2, workersLost: 1, slots: 4 });
    expect(after.status).toBe('degraded');
    expect(after.score).toBeLessThan(100);
  });

  it('replaces a SIGKILLed supervised worker under its id, logged, and the fleet is whole again', async () => {
    // Prepare
    const victim = stack.workers[0]!;
    const pid = victim.process.pid;

    // Act
    victim.process.kill('SIGKILL');
    const replacement = await eventually(() => stack.workers.find((w) => w.id === victim.id)!, (w) => w.process.pid !== pid, 'a replacement process', { timeoutMs: 60_000 });
    const h = await eventually(health, (x) => x.fleet?.workers.find((w) => w.workerId === victim.id)?.state === 'alive' && x.fleet.workersAlive === 2,
      'the replaced worker alive again in /health', { timeoutMs: 60_000 });

    // Assess
    expect(replacement.comfy).toBe(victim.comfy);
    expect(supervisorLines).toContainEqual(expect.objectContaining({ supervisor: 'exited unexpectedly; restarting', process: victim.id, signal: 'SIGKILL', restart: 1 }));
    expect(supervisorLines).toContainEqual(expect.objectContaining({ supervisor: 'restarted', process: victim.id }));
    expect(h.fleet?.workers.filter((w) => w.state === 'alive').map((w) => w.workerId).sort()).toEqual(['worker-1', 'worker-2']);
  });
});
