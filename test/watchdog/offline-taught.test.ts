/**
 * Operators teach the classifier, end to end on the offline stack (IAM enforced, time scale
 * 0.05), through the signed API: a job failed `Unclassified`; a dry run names it and what
 * would change; a catastrophic regular expression is refused naming the reason; the save
 * (versioned, who and when) reclassifies the job's stored failure and re-runs it through
 * deferred recovery, and the re-run completes; the Lambdas' classifier uses the pattern
 * within a minute; two saves at once both land; the pattern is removed. Then the same
 * through the CLI (`vto classifier patterns …`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedFetch } from '../../client/signed-fetch.ts';
import { DEFERRED_FN } from '../../core/deferred-recovery.ts';
import { getJob, getPack } from '../../adapters/job-store.ts';
import { currentClassifier } from '../../adapters/taught-classifier.ts';
import { patternAddedSchema, patternDryRunSchema, patternListSchema, patternRemovedSchema } from '../../lambdas/api/classifier-schemas.ts';
import { startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import { eventually } from '../support/eventually.ts';
import { seedFailedJob } from '../support/failed-job.ts';
import { runVto } from '../cli/support/run-vto.ts';

let stack: OfflineStack;

beforeAll(async () => {
  stack = await startOfflineStack({ timeScale: 0.05, workers: 1, profile: 'none', prefix: `tp${randomUUID().slice(0, 6)}` });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

async function call(method: string, path: string, body?: unknown) {
  const res = await signedFetch(`${stack.endpoints.api}${path}`, {
    method, ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  }, { credentials: stack.endpoints.credentials, region: stack.endpoints.region });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown> & { error?: { code: string; issues?: { path: string; message: string }[] } }, text };
}

const failedJob = (name: string, cause: string) => seedFailedJob(name, cause);

const TEXT = 'segmenter backend went to lunch (code 7)';
const TEACH = { name: 'Transient.ServiceUnavailable', pattern: 'went to LUNCH' };

describe('operator-taught classifier patterns', () => {
  it('dry run, save with re-run, the job recovered, in use by the Lambdas within a minute, removed', async () => {
    // Prepare
    const lunch = await failedJob('Unclassified', TEXT);
    const other = await failedJob('Unclassified', 'KeyError: foo');
    const caller = (await call('GET', '/classifier/patterns'));
    expect(caller.status, caller.text).toBe(200);
    expect(patternListSchema.parse(caller.body)).toMatchObject({ version: 0, patterns: [] });

    // Act: dry run.
    const dry = await call('POST', '/classifier/patterns/dry-run', TEACH);
    // Assess: it names the unclassified job and what would change; nothing is saved.
    expect(dry.status, dry.text).toBe(200);
    const d = patternDryRunSchema.parse(dry.body);
    expect(d.matches.map((m) => m.jobId)).toEqual([lunch.jobId]);
    expect(d.matches[0]).toMatchObject({
      before: { name: 'Unclassified', recoverable: false }, after: { name: 'Transient.ServiceUnavailable', recoverable: true },
      rerunnable: true, stage: 'segmentation', matched: 'went to LUNCH',
    });
    expect(d.scanned).toBeGreaterThanOrEqual(2);
    expect([d.changed, d.rerunnable]).toEqual([1, 1]);
    expect((await getJob(lunch.jobId)).error?.name).toBe('Unclassified');

    // Act + Assess: refusals name the field and the reason.
    const catastrophic = await call('POST', '/classifier/patterns/dry-run', { name: 'Transient.Network', match: 'regex', pattern: '(a+)+$' });
    expect(catastrophic.status).toBe(400);
    expect(catastrophic.body.error?.issues).toEqual([{ path: 'body.pattern', message: expect.stringMatching(/backtrack catastrophically/) }]);
    const unknownName = await call('POST', '/classifier/patterns', { name: 'Transient.Lunch', pattern: 'x' });
    expect(unknownName.status).toBe(400);
    expect(unknownName.body.error?.issues?.[0]?.path).toBe('body.name');

    // Act: save, re-running what it makes recoverable.
    const saved = await call('POST', '/classifier/patterns', { ...TEACH, note: 'segmenter maintenance window', recorded: 'rerun' });
    // Assess: version 1, who and when; the job's failure reclassified and its re-run started by deferred recovery.
    expect(saved.status, saved.text).toBe(200);
    const s = patternAddedSchema.parse(saved.body);
    expect(s).toMatchObject({ version: 1, pattern: { id: 'tp-1', name: 'Transient.ServiceUnavailable', match: 'substring', ignoreCase: true }, reclassified: [lunch.jobId] });
    expect(s.pattern.createdBy).toContain(stack.endpoints.credentials.accessKeyId);
    expect(Date.now() - Date.parse(s.pattern.createdAt)).toBeLessThan(60_000);
    expect(s.reruns).toEqual([{ jobId: lunch.jobId, action: 'rerun', reason: expect.stringMatching(/^deferred re-run 1 of 3 after Transient\.ServiceUnavailable — segmentation healthy again$/) }]);
    const done = await eventually(() => getJob(lunch.jobId), (j) => j.status === 'complete', 'the re-run to complete', { timeoutMs: 240_000, everyMs: 500 });
    expect(done.reclassified).toMatchObject({ from: 'Unclassified', to: 'Transient.ServiceUnavailable', pattern: 'tp-1' });
    expect(done.deferredReruns).toBe(1);
    expect(done.recoveries.find((r) => r.fn === DEFERRED_FN)).toMatchObject({ attempt: 1, error: 'Transient.ServiceUnavailable', outcome: 'recovered' });
    await eventually(() => getPack(lunch.packId), (p) => p.status === 'complete', 'the pack to follow its job', { timeoutMs: 60_000, everyMs: 300 });
    const untouched = await getJob(other.jobId);
    expect([untouched.status, untouched.error?.name, untouched.reclassified]).toEqual(['failed', 'Unclassified', undefined]);

    // Assess: the Lambdas' classifier (this process runs the stack's functions) names the text within a minute.
    await eventually(async () => (await currentClassifier()).classify(new Error(TEXT)).name, (n) => n === 'Transient.ServiceUnavailable', 'the Lambdas to use the pattern', { timeoutMs: 60_000, everyMs: 1000 });

    // Act: two saves at once.
    const [a, b] = await Promise.all([
      call('POST', '/classifier/patterns', { name: 'Transient.Network', pattern: 'tube blocked', recorded: 'leave' }),
      call('POST', '/classifier/patterns', { name: 'Gpu.Timeout', pattern: 'sampler asleep', recorded: 'leave' }),
    ]);
    // Assess: neither clobbers the other.
    expect([a.status, b.status], `${a.text} ${b.text}`).toEqual([200, 200]);
    expect([patternAddedSchema.parse(a.body).version, patternAddedSchema.parse(b.body).version].sort()).toEqual([2, 3]);
    const listed = patternListSchema.parse((await call('GET', '/classifier/patterns')).body);
    expect(listed.version).toBe(3);
    expect(listed.patterns.map((p) => p.pattern).sort()).toEqual(['sampler asleep', 'tube blocked', 'went to LUNCH']);

    // Act: remove.
    const removed = await call('DELETE', '/classifier/patterns/tp-1');
    // Assess: the next version without it, the history saying who; removing it again is a 404.
    expect(removed.status, removed.text).toBe(200);
    expect(patternRemovedSchema.parse(removed.body)).toMatchObject({ version: 4, removed: { id: 'tp-1' } });
    const after = patternListSchema.parse((await call('GET', '/classifier/patterns')).body);
    expect(after.patterns.map((p) => p.id).sort()).toEqual(['tp-2', 'tp-3']);
    expect(after.history.map((h) => `${h.version} ${h.action} ${h.id}`)).toEqual(['1 add tp-1', '2 add tp-2', '3 add tp-3', '4 remove tp-1'].map((x, i) => (i === 1 || i === 2 ? expect.stringMatching(/^[23] add tp-[23]$/) : x)));
    expect(after.history.at(-1)?.by).toContain(stack.endpoints.credentials.accessKeyId);
    expect((await call('DELETE', '/classifier/patterns/tp-1')).status).toBe(404);
    expect((await call('DELETE', '/classifier/patterns/nope')).status).toBe(400);

    // Assess: every call of the stack was allowed by the synthesized IAM policies.
    expect(stack.iamDenials()).toEqual([]);
  }, 600_000);

  it('the CLI: dry-run, add, list, remove, and a refused regular expression', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'vto-taught-'));
    const endpoints = join(dir, 'endpoints.json');
    writeFileSync(endpoints, JSON.stringify(stack.endpoints));
    const vto = (...args: string[]) => runVto([...args, '--endpoints', endpoints], { timeoutMs: 60_000 });
    const job = await failedJob('Unclassified', 'render farm said: quota of sprockets exhausted');
    const teach = ['--name', 'Transient.RateLimited', '--pattern', 'quota of \\w+ exhausted', '--regex', '--stage', 'segmentation'];

    // Act + Assess: the dry run names the job, in a table for people and in JSON.
    const dry = await vto('classifier', 'patterns', 'dry-run', ...teach);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`${job.jobId}\\s.*Unclassified\\s+Transient\\.RateLimited\\s+no → yes\\s+yes`));
    const dryJson = await vto('classifier', 'patterns', 'dry-run', ...teach, '--json');
    expect(patternDryRunSchema.parse(JSON.parse(dryJson.stdout)).matches.map((m) => m.jobId)).toEqual([job.jobId]);

    // Act + Assess: a catastrophic regular expression is refused with the reason.
    const bad = await vto('classifier', 'patterns', 'add', '--name', 'Transient.Network', '--pattern', '(x+x+)+y', '--regex');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/body\.pattern.*backtrack catastrophically/s);

    // Act: add without touching the recorded failures, then list.
    const added = await vto('classifier', 'patterns', 'add', ...teach, '--recorded', 'leave', '--note', 'sprocket quota', '--json');
    expect(added.code, added.stderr).toBe(0);
    const a = patternAddedSchema.parse(JSON.parse(added.stdout));
    expect(a.reclassified).toEqual([]);
    expect((await getJob(job.jobId)).error?.name).toBe('Unclassified');
    const list = await vto('classifier', 'patterns', 'list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(a.pattern.id);
    expect(list.stdout).toMatch(/Transient\.RateLimited\s+\/quota of \\w\+ exhausted\/i in segmentation/);

    // Act + Assess: remove it; a second remove says it does not exist.
    const removed = await vto('classifier', 'patterns', 'remove', a.pattern.id);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`^removed ${a.pattern.id} `));
    const again = await vto('classifier', 'patterns', 'remove', a.pattern.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`No taught pattern ${a.pattern.id}`);
    expect(stack.iamDenials()).toEqual([]);
  }, 300_000);
});
