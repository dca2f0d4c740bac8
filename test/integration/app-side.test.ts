/**
 * The app's side on the offline stack: lifecycle events on the local bus, once per
 * transition; signed webhooks delivered to a receiver that verifies them, retried on 5xx
 * and dead-lettered on 4xx or after the retry window; cancel of a queued, a running (its
 * GPU prompt interrupted on the simulated ComfyUI) and a finished job.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedFetch } from '../../client/signed-fetch.ts';
import { packEvent } from '../../core/lifecycle.ts';
import { emitLifecycle } from '../../adapters/lifecycle-events.ts';
import { getPack, updatePack } from '../../adapters/job-store.ts';
import type { BusEvent } from '../../local/events/bus.ts';
import { startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import { garmentImage, personImage } from '../support/images.ts';
import { eventually } from '../support/eventually.ts';
import { startReceiver, type Receiver } from './support/webhook-receiver.ts';

let stack: OfflineStack;
let receiver: Receiver;
let sfn: SFNClient;
let person: Buffer;
let garment: Buffer;

// Time runs 10× faster: a webhook retry waits 3 s, then 6 s, 12 s…; the retry window is 15 s.
const TIME_SCALE = 0.1;
const SMALL = { width: 512, height: 512, steps: 20, batch: 1 };

beforeAll(async () => {
  stack = await startOfflineStack({ profile: 'none', workers: 1, timeScale: TIME_SCALE, webhookRetryWindowSeconds: 150, prefix: `app${randomUUID().slice(0, 6)}` });
  receiver = await startReceiver(stack.endpoints.webhookSecret);
  sfn = new SFNClient({ endpoint: stack.endpoints.stepFunctions, region: stack.endpoints.region, credentials: stack.endpoints.credentials });
  person = await personImage(256, 256);
  garment = await garmentImage(256, 256, [30, 90, 200]);
}, 180_000);
afterAll(async () => {
  sfn?.destroy();
  await receiver?.stop();
  await stack?.stop();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await signedFetch(`${stack.endpoints.api}${path}`, {
    method, ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  }, { credentials: stack.endpoints.credentials, region: stack.endpoints.region });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Uploads `jobs` image pairs and creates a pack of them; returns its id and job ids. */
async function submit(jobs: number, extra: Record<string, unknown> = {}, params: Record<string, unknown> = SMALL): Promise<{ packId: string; jobIds: string[] }> {
  const files = Array.from({ length: jobs }, (_, i) => [
    { name: `p${i}.png`, contentType: 'image/png', size: person.length }, { name: `g${i}.png`, contentType: 'image/png', size: garment.length },
  ]).flat();
  const up = await call('POST', '/uploads', { files });
  expect(up.status).toBe(200);
  const u = up.body as { packId: string; files: { name: string; key: string; url: string; headers: Record<string, string> }[] };
  for (const f of u.files) {
    const put = await fetch(f.url, { method: 'PUT', headers: f.headers, body: new Uint8Array(f.name.startsWith('p') ? person : garment) });
    expect(put.status).toBe(200);
  }
  const key = (n: string) => u.files.find((f) => f.name === n)!.key;
  const created = await call('POST', '/packs', {
    name: 'app side', packId: u.packId, pipeline: { inpaint: 'comfyui', params },
    jobs: Array.from({ length: jobs }, (_, i) => ({ person: key(`p${i}.png`), garment: key(`g${i}.png`) })), ...extra,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  return { packId: u.packId, jobIds: created.body['jobIds'] as string[] };
}

async function busEvents(packId: string): Promise<BusEvent[]> {
  const res = await fetch(`${stack.endpoints.events}/events?after=0&pack=${packId}`);
  return ((await res.json()) as { events: { event: BusEvent }[] }).events.map((e) => e.event);
}

const packStatus = async (packId: string) => (await call('GET', `/packs/${packId}`)).body['status'] as string;
const ended = (s: string) => ['complete', 'completed_with_failures', 'failed', 'stopped', 'cancelled'].includes(s);

describe('lifecycle events and webhooks', { timeout: 180_000 }, () => {
  it('announces each transition once, and POSTs the pack\'s terminal event and the job events asked for, signed', async () => {
    // Act
    const { packId, jobIds } = await submit(2, { webhook: { url: `${receiver.url}/ok`, events: ['job.completed'] } });
    await eventually(() => packStatus(packId), ended, 'the pack to end', { timeoutMs: 120_000 });
    const received = await eventually(() => receiver.received.filter((r) => r.body['packId'] === packId), (r) => r.length >= 3, 'three deliveries', { timeoutMs: 20_000 });
    // Assess: the bus
    const events = await busEvents(packId);
    const types = events.map((e) => e.detail['type']).sort();
    expect(types).toEqual(['job.completed', 'job.completed', 'pack.completed', 'pack.started']);
    expect(new Set(events.map((e) => e.detail['eventId'])).size).toBe(events.length);
    const done = events.find((e) => e.detail['type'] === 'pack.completed')!;
    expect(done).toMatchObject({ source: 'vto.pipeline', 'detail-type': 'Pack Completed' });
    expect(done.detail).toMatchObject({ version: '1', packId, status: 'complete', counts: { complete: 2 }, links: { pack: `/packs/${packId}` } });
    // Assess: the webhook
    expect(received.map((r) => r.eventType).sort()).toEqual(['job.completed', 'job.completed', 'pack.completed']);
    expect(received.every((r) => r.signatureValid && /^[0-9a-f-]{36}$/.test(r.deliveryId))).toBe(true);
    expect(new Set(received.map((r) => r.body['jobId']).filter(Boolean))).toEqual(new Set(jobIds));
    expect((await call('GET', `/packs/${packId}`)).body['webhook']).toEqual({ url: `${receiver.url}/ok`, events: ['job.completed'], failures: 0 });
  });

  it('does not announce a transition twice when it is written or emitted again (a retried Lambda)', async () => {
    const { packId } = await submit(1);
    await eventually(() => packStatus(packId), ended, 'the pack to end', { timeoutMs: 120_000 });
    const before = await busEvents(packId);
    const pack = await getPack(packId);
    // The same outcome written again for the same run, and the same event emitted again.
    await updatePack(packId, { ...(pack.counts && { counts: pack.counts }) }, { status: pack.status, from: [pack.status] });
    await emitLifecycle(packEvent(pack, new Date().toISOString()));
    // A later transition (another run's) put after them: once it is on the bus, a duplicate would be too.
    const marker = packEvent({ ...pack, executionArn: `arn:marker:${randomUUID()}` }, new Date().toISOString())!;
    await emitLifecycle(marker);
    const after = await eventually(() => busEvents(packId), (events) => events.some((e) => e.detail['eventId'] === marker.eventId), 'the later event on the bus', { timeoutMs: 10_000 });
    expect(after.filter((e) => e.detail['eventId'] !== marker.eventId).length).toBe(before.length);
  });

  it('retries a receiver answering 503 with the same delivery id until it takes the delivery', async () => {
    receiver.script('/flaky', [503, 503, 200]);
    const { packId } = await submit(1, { webhook: { url: `${receiver.url}/flaky` } });
    const tries = await eventually(() => receiver.received.filter((r) => r.body['packId'] === packId), (r) => r.length >= 3, 'three attempts', { timeoutMs: 150_000 });
    expect(tries.map((r) => r.answered)).toEqual([503, 503, 200]);
    expect(new Set(tries.map((r) => r.deliveryId)).size).toBe(1);
    expect(tries[2]!.at - tries[1]!.at).toBeGreaterThan(tries[1]!.at - tries[0]!.at);
    expect((await call('GET', `/packs/${packId}/webhook-failures`)).body).toMatchObject({ total: 0, items: [] });
  });

  it('dead-letters a delivery the receiver refuses with 4xx at once, and one that fails for the whole retry window', async () => {
    receiver.script('/refuses', [410]);
    receiver.script('/down', [503]);
    const refused = await submit(1, { webhook: { url: `${receiver.url}/refuses` } });
    const down = await submit(1, { webhook: { url: `${receiver.url}/down` } });
    const failuresOf = async (packId: string) => (await call('GET', `/packs/${packId}/webhook-failures`)).body as { total: number; items: Record<string, unknown>[] };
    const f1 = await eventually(() => failuresOf(refused.packId), (f) => f.total === 1, 'the 410 dead letter', { timeoutMs: 150_000 });
    expect(f1.items[0]).toMatchObject({ type: 'pack.completed', status: 410, attempts: 1, url: `${receiver.url}/refuses` });
    expect(receiver.received.filter((r) => r.body['packId'] === refused.packId)).toHaveLength(1);
    const f2 = await eventually(() => failuresOf(down.packId), (f) => f.total === 1, 'the dead letter after the retry window', { timeoutMs: 150_000 });
    const attempts = receiver.received.filter((r) => r.body['packId'] === down.packId);
    expect(attempts.length).toBeGreaterThan(1);
    expect(f2.items[0]).toMatchObject({ type: 'pack.completed', status: 503, attempts: attempts.length });
    expect(String(f2.items[0]!['reason'])).toMatch(/^retried for 15 s; last: the receiver answered 503/);
    expect((await call('GET', `/packs/${down.packId}`)).body['webhook']).toMatchObject({ failures: 1 });
    // The sender ran as its own role (local/stack.ts): its reads, backoffs and dead letters were all granted.
    expect(stack.iamDenials()?.map((d) => d.message)).toEqual([]);
  });

  it('refuses webhook URLs that are not https or name a private address, naming body.webhook.url', async () => {
    for (const url of ['http://example.com/hook', 'https://10.1.2.3/hook', 'https://169.254.169.254/latest', 'ftp://example.com/x', 'not a url']) {
      const res = await call('POST', '/packs', { name: 'x', pipeline: { inpaint: 'comfyui' }, jobs: [{ person: `packs/${randomUUID()}/uploads/a.png`, garment: `packs/${randomUUID()}/uploads/b.png` }], webhook: { url } });
      expect(res.status, url).toBe(400);
      const issues = (res.body['error'] as { issues: { path: string; message: string }[] }).issues;
      expect(issues.find((i) => i.path === 'body.webhook.url'), `${url}: ${JSON.stringify(issues)}`).toBeDefined();
    }
  });
});

describe('cancel on the running pipeline', { timeout: 180_000 }, () => {
  it('interrupts a running GPU prompt within seconds, leaves the simulator\'s queue empty and ends the job cancelled', async () => {
    // Prepare: the job's prompt hangs on the GPU until something stops it.
    const worker = stack.workers[0]!;
    const { packId, jobIds } = await submit(1, {}, { ...SMALL, steps: 30 });
    worker.comfy.setFault(jobIds[0]!, 'hang', Number.POSITIVE_INFINITY);
    await eventually(() => worker.comfy.stats().running, (r) => r !== null, 'the prompt to run on the GPU', { timeoutMs: 60_000 });
    const interruptedBefore = worker.comfy.stats().promptsInterrupted;
    // Act
    const res = await call('POST', `/jobs/${jobIds[0]}/cancel`);
    // Assess: well before the worker's own generation deadline (60 s here) would interrupt it.
    expect(res.status).toBe(202);
    const cancelledAt = Date.now();
    await eventually(() => worker.comfy.stats(), (s) => s.running === null && s.queueRemaining === 0, 'the GPU to be free', { timeoutMs: 8000 });
    expect(Date.now() - cancelledAt).toBeLessThan(8000);
    expect(worker.comfy.stats().promptsInterrupted).toBe(interruptedBefore + 1);
    const job = (await call('GET', `/jobs/${jobIds[0]}`)).body;
    expect(job['status']).toBe('cancelled');
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: job['executionArn'] as string }))).status).toBe('ABORTED');
    await eventually(() => packStatus(packId), (s) => s === 'cancelled', 'the pack to end cancelled', { timeoutMs: 60_000 });
    expect((await busEvents(packId)).map((e) => e.detail['type'])).toContain('job.cancelled');
  });

  it('cancels a queued job before it starts; the pack ends by the stated rule; a finished job answers 409', async () => {
    // 11 jobs and a Map of 10: the job that sorts last waits for a slot.
    const { packId, jobIds } = await submit(11);
    const queued = [...jobIds].sort().at(-1)!;
    const res = await call('POST', `/jobs/${queued}/cancel`);
    expect(res.status).toBe(202);
    expect((await call('GET', `/jobs/${queued}`)).body['status']).toBe('cancelled');
    await eventually(() => packStatus(packId), ended, 'the pack to end', { timeoutMs: 150_000 });
    const view = (await call('GET', `/packs/${packId}`)).body;
    expect(view).toMatchObject({ status: 'completed_with_failures', counts: { complete: 10, cancelled: 1 } });
    const job = (await call('GET', `/jobs/${queued}`)).body;
    expect([job['status'], job['runs']]).toEqual(['cancelled', 0]);
    const finished = jobIds.find((j) => j !== queued)!;
    const refused = await call('POST', `/jobs/${finished}/cancel`);
    expect([refused.status, (refused.body['error'] as { code: string }).code]).toEqual([409, 'JobFinished']);
    const events = await busEvents(packId);
    expect(events.filter((e) => e.detail['type'] === 'job.cancelled').map((e) => e.detail['jobId'])).toEqual([queued]);
    expect(events.filter((e) => e.detail['type'] === 'pack.completed_with_failures')).toHaveLength(1);
  });
});
