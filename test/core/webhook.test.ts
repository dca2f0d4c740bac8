/**
 * Webhook rules and lifecycle events as pure functions: which URLs a pack may name, the
 * signature a receiver recomputes, which answers are retried, the backoff, the event ids
 * that make a transition announce once, and the documented schemas kept in step.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_KEPT_RECOVERIES } from '../../core/job.ts';
import { renderEventSchemas } from '../../core/lifecycle-schemas.ts';
import { detailTypeOf, jobEvent, packEvent, packEventDetailSchema, recoveredEvent } from '../../core/lifecycle.ts';
import { emptyCounts } from '../../core/status.ts';
import { deliveryId, retryDelaySeconds, signatureHeader, verdictOf, verifySignature, wants, webhookUrlProblem } from '../../core/webhook.ts';

describe('webhook URLs', () => {
  const aws = { allowLoopbackHttp: false };
  const offline = { allowLoopbackHttp: true };
  it.each([
    ['https://hooks.example.com/vto', undefined],
    ['http://hooks.example.com/vto', 'must use https'],
    ['ftp://hooks.example.com/vto', 'must use https'],
    ['https://10.0.0.8/x', 'must not name a private, loopback or link-local address'],
    ['https://192.168.1.1/x', 'must not name a private, loopback or link-local address'],
    ['https://169.254.169.254/latest/meta-data', 'must not name a private, loopback or link-local address'],
    ['https://[fe80::1]/x', 'must not name a private, loopback or link-local address'],
    ['https://[::1]/x', 'must not name a private, loopback or link-local address'],
    ['https://127.0.0.1/x', 'must not name a private, loopback or link-local address'],
    ['https://db.internal/x', 'must not name a private, loopback or link-local address'],
    ['https://user:pw@hooks.example.com/x', 'must not contain credentials'],
    ['hooks.example.com', 'must be an absolute URL'],
  ])('on AWS %s → %s', (url, problem) => {
    expect(webhookUrlProblem(url, aws)).toBe(problem);
  });
  it('offline allows http only to loopback', () => {
    expect(webhookUrlProblem('http://127.0.0.1:8080/hook', offline)).toBeUndefined();
    expect(webhookUrlProblem('http://localhost:8080/hook', offline)).toBeUndefined();
    expect(webhookUrlProblem('http://example.com/hook', offline)).toBe('must use https (http only to a loopback address offline)');
    expect(webhookUrlProblem('https://10.0.0.8/hook', offline)).toBe('must not name a private, loopback or link-local address');
  });
});

describe('signatures', () => {
  const secret = 'a'.repeat(64);
  const body = '{"type":"pack.completed"}';
  it('is t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, as a receiver recomputes it', () => {
    const header = signatureHeader(secret, body, 1_700_000_000);
    expect(header).toBe(`t=1700000000,v1=${createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex')}`);
    expect(verifySignature(secret, body, header, 1_700_000_100)).toBe(true);
  });
  it('fails on another body, another secret, or a stale timestamp', () => {
    const header = signatureHeader(secret, body, 1_700_000_000);
    expect(verifySignature(secret, `${body} `, header, 1_700_000_000)).toBe(false);
    expect(verifySignature('b'.repeat(64), body, header, 1_700_000_000)).toBe(false);
    expect(verifySignature(secret, body, header, 1_700_000_301)).toBe(false);
    expect(verifySignature(secret, body, 'garbage', 1_700_000_000)).toBe(false);
  });
  it('gives one delivery id per event and URL', () => {
    expect(deliveryId('e1', 'https://a/x')).toBe(deliveryId('e1', 'https://a/x'));
    expect(deliveryId('e1', 'https://a/x')).not.toBe(deliveryId('e2', 'https://a/x'));
    expect(deliveryId('e1', 'https://a/x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});

describe('delivery decisions', () => {
  it('retries 5xx, 429 and no answer; takes 2xx; gives up on other answers', () => {
    expect([200, 204, 429, 500, 503, undefined, 400, 404, 410, 301].map(verdictOf))
      .toEqual(['delivered', 'delivered', 'retry', 'retry', 'retry', 'retry', 'dead', 'dead', 'dead', 'dead']);
  });
  it('backs off from 30 s doubling, capped at an hour', () => {
    expect([1, 2, 3, 7, 8, 20].map(retryDelaySeconds)).toEqual([30, 60, 120, 1920, 3600, 3600]);
  });
  it('always delivers the pack\'s terminal event, other events only when asked', () => {
    const w = { url: 'https://a/x', events: ['job.failed' as const] };
    expect(['pack.completed', 'pack.cancelled', 'pack.started', 'job.failed', 'job.completed'].map((t) => wants(w, t as never)))
      .toEqual([true, true, false, true, false]);
  });
});

describe('lifecycle events', () => {
  const at = '2026-12-07T10:00:00.000Z';
  it('names a pack event by its type, pack and run, so the same outcome of one run is one event', () => {
    const p = { packId: 'p1', name: 'n', status: 'complete' as const, runs: 2, jobCount: 1, counts: { ...emptyCounts(), complete: 1 }, executionArn: 'arn:aws:states:r:1:execution:vto-pack:p1-2' };
    const e = packEvent(p, at, 'https://api/v1')!;
    expect(e).toMatchObject({ eventId: 'pack.completed/p1/p1-2', type: 'pack.completed', run: 2, links: { pack: 'https://api/v1/packs/p1' } });
    expect(packEventDetailSchema.parse(e)).toEqual(e);
    expect(packEvent({ ...p }, '2026-12-07T11:00:00.000Z')!.eventId).toBe(e.eventId);
    expect(packEvent({ ...p, status: 'pending' }, at)).toBeUndefined();
    expect(detailTypeOf('pack.completed_with_failures')).toBe('Pack Completed With Failures');
  });
  it('names a job event by its transition, and a recovery by its ledger entry', () => {
    const j = { jobId: 'j1', packId: 'p1', status: 'failed' as const, runs: 1, error: { name: 'Fatal.InvalidInput', cause: 'bad' } };
    expect(jobEvent(j, at)).toMatchObject({ eventId: `job.failed/j1/${at}`, error: { name: 'Fatal.InvalidInput' }, links: { pack: '/packs/p1', job: '/jobs/j1' } });
    expect(jobEvent({ ...j, status: 'inpainting' }, at)).toBeUndefined();
    const recoveries = Array.from({ length: 4 }, (_, i) => ({ at: `2026-12-07T10:0${i}:00.000Z` }));
    expect(recoveredEvent({ ...j, status: 'compositing', recoveries }, 3, { error: 'Gpu.OutOfMemory', strategy: 'REDUCE_PARAMS' }, at).eventId)
      .toBe('job.recovered/j1/2026-12-07T10:03:00.000Z');
    expect(() => recoveredEvent({ ...j, recoveries }, 4, { error: 'Gpu.OutOfMemory', strategy: 'REDUCE_PARAMS' }, at)).toThrow(RangeError);
  });
  it('names each recovery once across a trim of the history: a shifted entry keeps its id, a later one at its old index gets its own', () => {
    // Prepare: a full history; the oldest five are trimmed away (as job-store's trimRecoveries does past MAX_KEPT_RECOVERIES).
    const j = { jobId: 'j1', packId: 'p1', status: 'compositing' as const, runs: 1 };
    const full = Array.from({ length: MAX_KEPT_RECOVERIES }, (_, i) => ({ at: new Date(Date.parse(at) + i * 1000).toISOString() }));
    const trimmed = [...full.slice(5), ...Array.from({ length: 5 }, (_, i) => ({ at: new Date(Date.parse(at) + (MAX_KEPT_RECOVERIES + i) * 1000).toISOString() }))];
    const fix = { error: 'Gpu.OutOfMemory', strategy: 'REDUCE_PARAMS' };
    const id = (recoveries: readonly { at: string }[], entry: number) => recoveredEvent({ ...j, recoveries }, entry, fix, at).eventId;
    // Act: every entry of either list announced once.
    const announced = [...full.map((_, i) => id(full, i)), ...trimmed.map((_, i) => id(trimmed, i))];
    // Assess: the entries both lists hold have one id each; the new ones (at old indexes) have ids of their own.
    expect(id(trimmed, 0)).toBe(id(full, 5));
    expect(id(trimmed, MAX_KEPT_RECOVERIES - 1)).not.toBe(id(full, MAX_KEPT_RECOVERIES - 1));
    expect(new Set(announced).size).toBe(MAX_KEPT_RECOVERIES + 5);
  });
  it('documents the detail in docs/events, generated from the schemas', () => {
    for (const [file, text] of Object.entries(renderEventSchemas())) {
      expect(readFileSync(new URL(`../../docs/events/${file}`, import.meta.url), 'utf8'), `${file}: run npm run render:events`).toBe(text);
    }
  });
});
