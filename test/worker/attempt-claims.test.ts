/**
 * Copies of one attempt on two workers: the shared claim in the control table (DynamoDB
 * Local) lets one run it; the other drops its copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttemptClaims } from '../../adapters/attempt-claims.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { eventually } from '../support/eventually.ts';

let h: Harness;
let table: string;

beforeAll(async () => {
  h = await startHarness();
  table = process.env['CONTROL_TABLE']!;
});

afterAll(async () => {
  await h?.close();
});

describe('attempt claims', () => {
  it('grant an attempt to one worker until its claim lapses, and renew only for the holder', async () => {
    // Prepare
    let now = 1_000_000;
    const a = new AttemptClaims({ table, workerId: 'a', ttlMs: 1000, now: () => now });
    const b = new AttemptClaims({ table, workerId: 'b', ttlMs: 1000, now: () => now });
    // Act / Assess
    const held = { held: true };
    expect(await a.claim('job-x', 1)).toEqual(held);
    expect(await b.claim('job-x', 1)).toEqual({ held: false, holder: 'a', expiresAt: 1_001_000 });
    expect(await a.claim('job-x', 1)).toEqual(held);
    expect(await b.claim('job-x', 2)).toEqual(held);
    now += 900;
    expect(await a.renew('job-x', 1)).toBe(true);
    now += 900;
    expect(await b.claim('job-x', 1)).toEqual({ held: false, holder: 'a', expiresAt: 1_001_900 });
    now += 200;
    expect(await b.claim('job-x', 1)).toEqual(held);
    expect(await a.renew('job-x', 1)).toBe(false);
  });

  it('keeps two runs of one attempt number apart by their run (a forced retry counts from 1 again)', async () => {
    const a = new AttemptClaims({ table, workerId: 'a', ttlMs: 1000, now: () => 5_000_000 });
    const b = new AttemptClaims({ table, workerId: 'b', ttlMs: 1000, now: () => 5_000_000 });
    expect(await a.claim('job-y', 1, 'run-1')).toEqual({ held: true });
    expect(await b.claim('job-y', 1, 'run-2')).toEqual({ held: true });
    expect(await b.claim('job-y', 1, 'run-1')).toEqual({ held: false, holder: 'a', expiresAt: 5_001_000 });
  });

  it('let two workers that receive copies of one attempt run it once', async () => {
    // Prepare: two workers, each with its own claims on the shared table.
    const claimsFor = (workerId: string) => new AttemptClaims({ table, workerId, ttlMs: 2000 });
    await h.startWorker({ workerId: 'w1' }, { claims: claimsFor('w1') });
    await h.startWorker({ workerId: 'w2' }, { claims: claimsFor('w2') });
    const task = h.task({ params: { steps: 60 } });
    const before = h.sim.stats().promptsAccepted;
    // Act: the same body twice; each worker holds one job, so each takes a copy (without
    // claims both run it: this test fails with two prompts).
    await h.send(task);
    await h.send(task);
    await h.sfn.waitFor((c) => c.taskToken === task.taskToken && c.action === 'SendTaskSuccess');
    await eventually(() => h.queueCounts(), (c) => c.visible === 0 && c.inFlight === 0, 'both copies to be deleted', { timeoutMs: 10_000 });
    // Assess
    expect(h.sim.stats().promptsAccepted - before).toBe(1);
    expect(h.sfn.callsFor(task.taskToken).filter((c) => c.action !== 'SendTaskHeartbeat')).toHaveLength(1);
  });
});
