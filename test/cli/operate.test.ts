/**
 * The operator CLI against the offline stack, as an operator runs it: a real `vto`
 * process finding the stack through an endpoints file, uploading local PNGs, following
 * packs to their end, inspecting, retrying, restarting, refining, reading statistics and
 * health, and stopping and resuming everything. Tables for people; --json for scripts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedFetch } from '../../client/signed-fetch.ts';
import { startOfflineStack, type OfflineStack } from '../../local/stack.ts';
import { garmentImage, personImage } from '../../local/synthetic-images.ts';
import { runVto, type VtoRun } from './support/run-vto.ts';
import { eventually } from '../support/eventually.ts';

let stack: OfflineStack;
const dir = mkdtempSync(join(tmpdir(), 'vto-cli-'));
const endpoints = join(dir, 'endpoints.json');
const person = join(dir, 'person.png');
const garment = join(dir, 'garment.png');
/** A PNG signature over bytes that are no image: passes the upload checks, fails segmentation for good. */
const broken = join(dir, 'broken.png');
const SMALL = ['--param', 'width=512', '--param', 'height=512', '--param', 'steps=20', '--param', 'batch=1'];
const FOLLOW = ['--interval', '0.3', '--max-wait', '120'];

beforeAll(async () => {
  stack = await startOfflineStack({ profile: 'none', workers: 1, timeScale: 0.1, prefix: `cli${randomUUID().slice(0, 6)}` });
  writeFileSync(endpoints, JSON.stringify(stack.endpoints));
  writeFileSync(person, await personImage(320, 320));
  writeFileSync(garment, await garmentImage(320, 320, [200, 30, 40]));
  writeFileSync(broken, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('not an image at all')]));
});
afterAll(async () => {
  await stack?.stop();
});

const vto = (...args: string[]) => runVto([...args, '--endpoints', endpoints], { timeoutMs: 150_000 });
const json = <T = Record<string, unknown>>(r: VtoRun): T => {
  expect(r.stdout.trim().split('\n'), r.stderr).toHaveLength(1);
  return JSON.parse(r.stdout) as T;
};
const idAfter = (text: string, prefix: string) => new RegExp(`${prefix} ([0-9a-f-]{36})`).exec(text)?.[1] ?? '';

/** Polls the job through the API itself (cheaper than a CLI process per poll) until `ok` (bounded by `deadlineMs`). */
async function jobStatusWhen(jobId: string, ok: (status: string) => boolean, deadlineMs: number): Promise<string> {
  return eventually(async () => {
    const res = await signedFetch(`${stack.endpoints.api}/jobs/${jobId}`, {}, { credentials: stack.endpoints.credentials, region: stack.endpoints.region });
    return ((await res.json()) as { status: string }).status;
  }, ok, `job ${jobId}'s status`, { timeoutMs: deadlineMs, everyMs: 250 });
}

interface PackShow {
  pack: { packId: string; status: string; counts: Record<string, number>; sourcePackId?: string };
  jobs: { jobId: string; status: string; error?: { name: string } }[];
}

/** The pack every test below builds on: one job, complete. */
const done: { packId: string; jobId: string } = { packId: '', jobId: '' };
/** A pack with one complete and one failed job. */
const mixed: { packId: string; failedJobId: string } = { packId: '', failedJobId: '' };

// Generous: following a pack takes seconds, more on a loaded machine; this only bounds a stuck run.
describe('vto against the offline stack', { timeout: 150_000 }, () => {
  it('submits a pack from two local PNG files and follows it to the end with --wait (exit 0)', async () => {
    // Act
    const r = await vto('packs', 'submit', '--name', 'cli pack', '--person', person, '--garment', garment, ...SMALL, '--wait', ...FOLLOW);
    // Assess
    expect(r.code, r.stderr).toBe(0);
    done.packId = idAfter(r.stdout, 'pack');
    expect(r.stdout).toContain(`pack ${done.packId} created: 1 job, pending`);
    expect(r.stdout).toMatch(/status\s+complete/);
    expect(r.stdout).toContain(`pack ${done.packId} complete (complete 1)`);
    expect(r.stderr).toContain('uploading 2 images');
    expect(r.stderr).toMatch(/complete 1\/1 \| complete 1 \| failures 0, recovered 0/);
  });

  it('lists and shows packs as tables, and as one JSON document with --json', async () => {
    // Act
    const list = await vto('packs', 'list');
    const listJson = json<{ items: { packId: string; status: string }[] }>(await vto('packs', 'list', '--json'));
    const show = await vto('packs', 'show', done.packId);
    const showJson = json<PackShow>(await vto('packs', 'show', done.packId, '--json'));
    // Assess
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^PACK\s+NAME\s+STATUS\s+DONE\s+INPAINT\s+RUNS\s+CREATED$/);
    expect(list.stdout).toMatch(new RegExp(`${done.packId}\\s+cli pack\\s+complete\\s+1/1\\s+comfyui`));
    expect(listJson.items).toContainEqual(expect.objectContaining({ packId: done.packId, status: 'complete' }));
    expect(show.stdout).toMatch(/jobs\s+1: complete 1/);
    expect(show.stdout).toMatch(/JOB\s+STATUS\s+RUNS\s+RECOVERIES\s+ERROR\s+UPDATED/);
    expect(show.stdout).toContain('console    https://us-east-1.console.aws.amazon.com/states/');
    expect(showJson.pack).toMatchObject({ packId: done.packId, status: 'complete', counts: { complete: 1 } });
    expect(showJson.jobs).toHaveLength(1);
    done.jobId = showJson.jobs[0]!.jobId;
  });

  it('shows a job with its parameters, recovery path, checkpoints and pre-signed outputs', async () => {
    const r = await vto('jobs', 'show', done.jobId);
    const j = json<{ status: string; params: { steps: number }; outputs: { result?: { url: string } } }>(await vto('jobs', 'show', done.jobId, '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/params\s+width=512, height=512, steps=20, batch=1,/);
    expect(r.stdout).toContain('recovery path\nno failures met');
    expect(r.stdout).toMatch(/outputs \(pre-signed, valid a few minutes\)\nresult\s+http:\/\/127\.0\.0\.1:/);
    expect(j).toMatchObject({ status: 'complete', params: { steps: 20 } });
    expect((await fetch(j.outputs.result!.url)).status).toBe(200);
  });

  it('refuses to retry a complete job without --force, in the API\'s words (exit 1), and retries it with --force', async () => {
    // Act
    const refused = await vto('jobs', 'retry', done.jobId);
    const refusedJson = await vto('jobs', 'retry', done.jobId, '--json');
    const forced = await vto('jobs', 'retry', done.jobId, '--force');
    // Assess
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(`vto: the API refused POST /jobs/${done.jobId}/retry (409 JobComplete): Job ${done.jobId} is complete; send {"force": true} to run it again from scratch`);
    expect(refused.stderr).toContain(`run \`vto jobs retry ${done.jobId} --force\` to retry it anyway`);
    expect(refusedJson.code, refusedJson.stderr).toBe(1);
    expect(json(refusedJson)).toMatchObject({ error: { code: 'JobComplete', status: 409 }, requestId: expect.any(String) });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`job ${done.jobId} running again (forced: attempt counters reset)`);
    // The rerun ends complete again (bounded wait), before the tests below use the pack.
    expect(await jobStatusWhen(done.jobId, (s) => s === 'complete', 120_000)).toBe('complete');
  });

  it('names the field the API refused, with its path (exit 1)', async () => {
    const r = await vto('packs', 'submit', '--name', 'bad model', '--person', person, '--garment', garment, '--param', 'model=no-such-model.safetensors');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('vto: the API refused POST /packs (400 ValidationFailed): The pack is not valid');
    expect(r.stderr).toContain('  body.pipeline.params.model: is not an installed model; installed: ');
  });

  it('follows a pack whose job fails for good: the failure is printed as it happens, and --wait exits 1', async () => {
    // Act
    const r = await vto('packs', 'submit', '--name', 'cli mixed', '--person', person, '--person', broken, '--garment', garment, ...SMALL, '--wait', '--json', ...FOLLOW);
    // Assess
    expect(r.code, r.stderr).toBe(1);
    const out = json<{ started: { packId: string; jobIds: string[] }; pack: { status: string; counts: Record<string, number> } }>(r);
    expect(out.pack).toMatchObject({ status: 'completed_with_failures', counts: { complete: 1, failed: 1 } });
    expect(r.stderr).toContain(`vto: pack ${out.started.packId} completed_with_failures (complete 1, failed 1)`);
    mixed.packId = out.started.packId;
    const show = json<PackShow>(await vto('packs', 'show', mixed.packId, '--json', '--status', 'failed'));
    expect(show.jobs).toHaveLength(1);
    mixed.failedJobId = show.jobs[0]!.jobId;
    expect(show.jobs[0]!.error?.name).toBe('Fatal.InvalidInput');
  });

  it('prints each failure with its strategy while watching, and refuses a plain retry of an unrecoverable failure', async () => {
    const watch = await vto('packs', 'watch', mixed.packId, ...FOLLOW);
    const retry = await vto('jobs', 'retry', mixed.failedJobId);
    expect(watch.code, watch.stderr).toBe(1);
    expect(watch.stderr).toContain(`✗ ${mixed.failedJobId.slice(0, 8)}  Fatal.InvalidInput → ABORT`);
    expect(watch.stdout).toContain(`pack ${mixed.packId} completed_with_failures (complete 1, failed 1)`);
    expect(retry.code, retry.stderr).toBe(1);
    expect(retry.stderr).toContain('(409 JobNotRecoverable)');
  });

  it('restarts the incomplete jobs of a pack and follows it again', async () => {
    const r = await vto('packs', 'restart-incomplete', mixed.packId, '--wait', '--json', ...FOLLOW);
    const out = json<{ started: { packId: string; resetJobs: number }; pack: { status: string; runs: number } }>(r);
    expect(out.started).toMatchObject({ packId: mixed.packId, resetJobs: 1 });
    expect(out.pack).toMatchObject({ status: 'completed_with_failures', runs: 2 });
    expect(r.code, r.stderr).toBe(1);
  });

  it('refines a pack into a new one of its successful jobs and follows it (exit 0)', async () => {
    const r = await vto('packs', 'refine', done.packId, '--scope', 'successful_only', '--wait', ...FOLLOW);
    expect(r.code, r.stderr).toBe(0);
    const refined = idAfter(r.stdout, 'pack');
    expect(r.stdout).toContain(`pack ${refined} created, refining ${done.packId} (successful_only): 1 job`);
    expect(r.stdout).toContain(`pack ${refined} complete (complete 1)`);
    expect(json<PackShow>(await vto('packs', 'show', refined, '--json')).pack.sourcePackId).toBe(done.packId);
  });

  it('prints statistics with the errors met, per error name and strategy', async () => {
    const r = await vto('stats');
    const s = json<{ errors: number; byError: { error: string; recoverable: boolean }[] }>(await vto('stats', '--since', '1h', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/recovery rate\s+/);
    expect(r.stdout).toMatch(/Fatal\.InvalidInput\s+no\s+ABORT/);
    expect(s.errors).toBeGreaterThan(0);
    expect(s.byError).toContainEqual(expect.objectContaining({ error: 'Fatal.InvalidInput', recoverable: false }));
  });

  it('prints health: dependencies and circuit breakers', async () => {
    const r = await vto('health');
    const h = json<{ emergencyStopped: boolean; dependencies: { name: string; ok: boolean }[] }>(await vto('health', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/emergency stop\s+off/);
    expect(r.stdout).toMatch(/DEPENDENCY\s+OK\s+LATENCY\s+DETAIL/);
    expect(h.emergencyStopped).toBe(false);
    expect(h.dependencies.every((d) => d.ok)).toBe(true);
  });

  it('stops everything with emergency-stop, refuses new packs meanwhile, and resumes', async () => {
    // Act: stop
    const stop = await vto('emergency-stop', '--reason', 'cli drill');
    const health = json<{ emergencyStopped: boolean; emergencyStop: { reason: string } }>(await vto('health', '--json'));
    const refused = await vto('packs', 'submit', '--name', 'while stopped', '--person', person, '--garment', garment);
    // Act: resume, twice
    const resume = await vto('resume');
    const again = await vto('resume', '--json');
    // Assess
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain('emergency stop ON since');
    expect(stop.stdout).toContain(': cli drill');
    expect(health).toMatchObject({ emergencyStopped: true, emergencyStop: { reason: 'cli drill' } });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/vto: the API failed POST \/packs \(503 EmergencyStopped\)/);
    expect(resume.code, resume.stderr).toBe(0);
    expect(resume.stdout).toContain('emergency stop cleared');
    expect(again.code, again.stderr).toBe(1);
    expect(json(again)).toMatchObject({ error: { code: 'NotEmergencyStopped', status: 409 } });
  });
});

describe('vto packs delete', { timeout: 150_000 }, () => {
  it('names what it will erase and erases nothing unless told yes; then no object version of the pack is left and the pack is not found', async () => {
    // Act
    const declined = await runVto(['packs', 'delete', mixed.packId, '--endpoints', endpoints], { input: 'no\n', timeoutMs: 60_000 });
    const noAnswer = await vto('packs', 'delete', mixed.packId);
    const stillThere = await vto('packs', 'show', mixed.packId, '--json');
    const confirmed = await runVto(['packs', 'delete', mixed.packId, '--endpoints', endpoints], { input: 'yes\n', timeoutMs: 60_000 });
    const gone = await vto('packs', 'show', mixed.packId, '--json');
    const s3 = new S3Client({ endpoint: stack.endpoints.s3, region: stack.endpoints.region, credentials: stack.endpoints.credentials, forcePathStyle: true });
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: stack.resources.buckets.artifacts, Prefix: `packs/${mixed.packId}/` })).finally(() => s3.destroy());

    // Assess
    expect(declined.code, declined.stderr).toBe(1);
    expect(declined.stderr).toMatch(new RegExp(`erasing pack ${mixed.packId} deletes for good: 2 jobs, \\d+ stored objects \\(\\d+ versions, delete markers included\\)`));
    expect(declined.stderr).toContain(`pack ${mixed.packId} not erased`);
    expect(noAnswer.code, noAnswer.stderr).toBe(1);
    expect(stillThere.code, stillThere.stderr).toBe(0);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toMatch(new RegExp(`pack ${mixed.packId} erased: \\d+ object versions, 2 jobs`));
    expect(gone.code).toBe(1);
    expect(json(gone)).toMatchObject({ error: { code: 'NotFound', status: 404 } });
    expect([...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]).toEqual([]);
  });

  it('erases without asking with --yes, and answers not found the second time', async () => {
    const first = await vto('packs', 'delete', done.packId, '--yes', '--json');
    const second = await vto('packs', 'delete', done.packId, '--yes', '--json');

    expect(first.code, first.stderr).toBe(0);
    expect(json(first)).toMatchObject({ packId: done.packId, state: 'erased', deleted: { jobs: 1 } });
    expect(second.code).toBe(1);
    expect(json(second)).toMatchObject({ error: { code: 'NotFound', status: 404 } });
  });
});

describe('IAM as synthesized', () => {
  it('refused none of the API\'s calls behind every command above', () => {
    expect(stack.iamDenials()?.map((d) => d.message)).toEqual([]);
  });
});
