import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../core/classifier.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import type { FaultProfile, ProviderService } from '../../local/faults.ts';
import {
  analyzeResponseSchema, inpaintSubmitResponseSchema, inpaintTaskSchema, segmentResponseSchema, type InpaintTask,
} from '../../local/providers/api.ts';
import { startProviderSims, type ProviderSims } from '../../local/providers/server.ts';
import { eventually } from '../support/eventually.ts';

let sims: ProviderSims;
let person: string;
let garment: string;
let mask: string;

const b64 = (b: Buffer) => b.toString('base64');
const newJob = () => `job-${randomUUID()}`;

async function call(method: 'GET' | 'POST', url: string, body?: unknown, signal?: AbortSignal) {
  const res = await fetch(url, {
    method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }), ...(signal === undefined ? {} : { signal }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

const segmentBody = (jobId: string, prompt = 'upper-body garment') => ({ jobId, image: person, prompt });
const analyzeBody = (jobId: string, result = person) => ({ jobId, original: person, result, mask });
const inpaintBody = (jobId: string, params?: Record<string, unknown>) => ({ jobId, image: person, mask, garment, ...(params === undefined ? {} : { params }) });

async function maskOf(body: string): Promise<{ width: number; height: number; data: Buffer }> {
  const m = segmentResponseSchema.parse(JSON.parse(body));
  const { data, info } = await sharp(Buffer.from(m.mask, 'base64')).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

const coverage = (m: { data: Buffer }) => m.data.reduce((s, v) => s + (v >= 128 ? 1 : 0), 0) / m.data.length;

async function pollUntilDone(url: string): Promise<InpaintTask[]> {
  const seen: InpaintTask[] = [];
  await eventually(async () => {
    const t = inpaintTaskSchema.parse(JSON.parse((await call('GET', url)).text));
    seen.push(t);
    return t;
  }, (t) => t.status === 'succeeded' || t.status === 'failed', 'the task to finish', { timeoutMs: 10_000, everyMs: 10 });
  return seen;
}

beforeAll(async () => {
  const white = await sharp({ create: { width: 160, height: 200, channels: 3, background: '#ffffff' } }).png().toBuffer();
  const figure = await sharp({ create: { width: 200, height: 400, channels: 3, background: '#c8a078' } }).png().toBuffer();
  person = b64(await sharp({ create: { width: 400, height: 500, channels: 3, background: '#f0f0f0' } })
    .composite([{ input: figure, left: 100, top: 60 }]).png().toBuffer());
  garment = b64(await sharp({ create: { width: 200, height: 200, channels: 3, background: '#1e50c8' } }).png().toBuffer());
  mask = b64(await sharp({ create: { width: 400, height: 500, channels: 3, background: '#000000' } })
    .composite([{ input: white, left: 120, top: 150 }]).png().toBuffer());
  sims = await startProviderSims({ slowMs: 400, hostedMs: 120 });
});

afterAll(async () => {
  await sims?.stop();
});

describe('segmentation', () => {
  it('returns a garment mask at the image size, the same for the same request', async () => {
    const jobId = newJob();

    const a = await call('POST', `${sims.urls.segmentation}/segment`, segmentBody(jobId));
    const b = await call('POST', `${sims.urls.segmentation}/segment`, segmentBody(jobId));

    expect(a.status).toBe(200);
    const m = await maskOf(a.text);
    expect([m.width, m.height]).toEqual([400, 500]);
    expect(coverage(m)).toBeGreaterThan(0.05);
    expect(coverage(m)).toBeLessThan(0.5);
    expect(segmentResponseSchema.parse(JSON.parse(a.text)).confidence).toBeGreaterThan(0.8);
    expect(b.text).toBe(a.text);
  });

  it('places the mask over the subject, and other prompts give close but different masks', async () => {
    const jobId = newJob();

    const masks = await Promise.all(['upper-body garment', 'shirt', 'top clothing'].map(async (p) =>
      maskOf((await call('POST', `${sims.urls.segmentation}/segment`, segmentBody(jobId, p))).text)));

    const [m0, m1] = masks as [Awaited<ReturnType<typeof maskOf>>, Awaited<ReturnType<typeof maskOf>>];
    let inter = 0;
    let union = 0;
    for (let i = 0; i < m0.data.length; i++) {
      const x = m0.data[i]! >= 128;
      const y = m1.data[i]! >= 128;
      if (x && y) inter++;
      if (x || y) union++;
    }
    expect(inter / union).toBeGreaterThan(0.75);
    expect(inter / union).toBeLessThan(1);
    // The subject spans x 100..300: the garment stays inside it.
    for (let y = 0; y < m0.height; y++) {
      expect(m0.data[y * m0.width + 90]).toBe(0);
      expect(m0.data[y * m0.width + 310]).toBe(0);
    }
  });

  it("gives an empty or full-frame mask on 'degenerate'", async () => {
    const jobId = newJob();
    sims.setFault('segmentation', jobId, 'degenerate');

    const res = await call('POST', `${sims.urls.segmentation}/segment`, segmentBody(jobId));

    expect(res.status).toBe(200);
    expect([0, 1]).toContain(coverage(await maskOf(res.text)));
  });

  it('refuses an unreadable image with 400 and a text the classifier names', async () => {
    const res = await call('POST', `${sims.urls.segmentation}/segment`, { jobId: newJob(), image: b64(Buffer.from('not an image')), prompt: 'x' });

    expect(res.status).toBe(400);
    expect(classify({ status: 400, body: res.text }).name).toBe('Fatal.InvalidInput');
  });
});

describe('analyzer', () => {
  it('passes a good result', async () => {
    const res = await call('POST', `${sims.urls.analyzer}/analyze`, analyzeBody(newJob()));

    expect(res.status).toBe(200);
    expect(analyzeResponseSchema.parse(JSON.parse(res.text))).toMatchObject({ verdict: 'pass', reasons: [] });
  });

  it("fails it with reasons on 'reject'", async () => {
    const jobId = newJob();
    sims.setFault('analyzer', jobId, 'reject');

    const res = await call('POST', `${sims.urls.analyzer}/analyze`, analyzeBody(jobId));

    const verdict = analyzeResponseSchema.parse(JSON.parse(res.text));
    expect(verdict.verdict).toBe('fail');
    expect(verdict.score).toBeLessThan(0.5);
    expect(verdict.reasons.length).toBeGreaterThan(0);
  });

  it('fails a black result on its own', async () => {
    const black = b64(await sharp({ create: { width: 400, height: 500, channels: 3, background: '#000000' } }).png().toBuffer());

    const res = await call('POST', `${sims.urls.analyzer}/analyze`, analyzeBody(newJob(), black));

    expect(analyzeResponseSchema.parse(JSON.parse(res.text))).toMatchObject({ verdict: 'fail', reasons: ['the result is black'] });
  });
});

describe('hosted inpaint', () => {
  it('accepts a task with 202, then reports queued/running and finally the result', async () => {
    // Act
    const submit = await call('POST', `${sims.urls.hosted}/inpaint`, inpaintBody(newJob()));
    const { taskId } = inpaintSubmitResponseSchema.parse(JSON.parse(submit.text));
    const states = await pollUntilDone(`${sims.urls.hosted}/inpaint/${taskId}`);

    // Assess
    expect(submit.status).toBe(202);
    expect(states[0]?.status).toMatch(/queued|running/);
    const last = states[states.length - 1]!;
    expect(last).toMatchObject({ taskId, status: 'succeeded', progress: 1 });
    const { data, info } = await sharp(Buffer.from(last.result!, 'base64')).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([400, 500]);
    const px = (x: number, y: number) => [...data.subarray((y * 400 + x) * info.channels, (y * 400 + x) * info.channels + 3)];
    expect(px(5, 5)).toEqual([0xf0, 0xf0, 0xf0]);
    const [r, , b] = px(200, 250);
    expect(b! - r!).toBeGreaterThan(100);
  });

  it('fails a task whose parameters do not fit the GPU, with a CUDA out-of-memory error', async () => {
    const submit = await call('POST', `${sims.urls.hosted}/inpaint`, inpaintBody(newJob(), { ...DEFAULT_PARAMS, width: 1536, height: 1536, batch: 4 }));
    const { taskId } = inpaintSubmitResponseSchema.parse(JSON.parse(submit.text));

    const last = (await pollUntilDone(`${sims.urls.hosted}/inpaint/${taskId}`)).at(-1)!;

    expect(last.status).toBe('failed');
    expect(classify(last.error).name).toBe('Gpu.OutOfMemory');
  });

  it('answers 404 for a task it does not know', async () => {
    expect((await call('GET', `${sims.urls.hosted}/inpaint/${randomUUID()}`)).status).toBe(404);
  });
});

const ROUTES: Record<ProviderService, (jobId: string) => [string, unknown]> = {
  segmentation: (jobId) => ['/segmentation/segment', segmentBody(jobId)],
  analyzer: (jobId) => ['/analyzer/analyze', analyzeBody(jobId)],
  hosted: (jobId) => ['/hosted/inpaint', inpaintBody(jobId)],
};
const RESPONSE_SCHEMAS = { segmentation: segmentResponseSchema, analyzer: analyzeResponseSchema, hosted: inpaintSubmitResponseSchema };
const SERVICES = ['segmentation', 'analyzer', 'hosted'] as const;

describe('transport faults, on every provider', () => {
  it.each(SERVICES)('%s: http503 answers 503 once, then the call succeeds', async (service) => {
    const jobId = newJob();
    sims.setFault(service, jobId, 'http503');
    const [path, body] = ROUTES[service](jobId);

    const first = await call('POST', `${sims.url}${path}`, body);
    const second = await call('POST', `${sims.url}${path}`, body);

    expect(first.status).toBe(503);
    expect(classify({ status: first.status, body: first.text }).name).toBe('Transient.ServiceUnavailable');
    expect(second.status).toBeLessThan(300);
  });

  it.each(SERVICES)('%s: http429 answers 429 with Retry-After', async (service) => {
    const jobId = newJob();
    sims.setFault(service, jobId, 'http429');
    const [path, body] = ROUTES[service](jobId);

    const res = await call('POST', `${sims.url}${path}`, body);

    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(classify({ status: res.status, body: res.text }).name).toBe('Transient.RateLimited');
  });

  it.each(SERVICES)('%s: htmlError answers a 502 HTML page where JSON was expected', async (service) => {
    const jobId = newJob();
    sims.setFault(service, jobId, 'htmlError');
    const [path, body] = ROUTES[service](jobId);

    const res = await call('POST', `${sims.url}${path}`, body);

    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const parseError = (() => {
      try {
        JSON.parse(res.text);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(classify(parseError).name).toBe('Transient.ServiceUnavailable');
  });

  it.each(SERVICES)('%s: malformed answers 200 with a body that is not JSON or breaks the schema', async (service) => {
    const outcomes = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const jobId = `malformed-${service}-${i}`;
      sims.setFault(service, jobId, 'malformed');
      const [path, body] = ROUTES[service](jobId);

      const res = await call('POST', `${sims.url}${path}`, body);

      expect(res.status).toBe(200);
      let json: unknown;
      try {
        json = JSON.parse(res.text);
      } catch (e) {
        expect(classify(e).name).toBe('Provider.MalformedResponse');
        outcomes.add('not-json');
        continue;
      }
      const parsed = RESPONSE_SCHEMAS[service].safeParse(json);
      expect(parsed.success).toBe(false);
      if (!parsed.success) expect(classify(parsed.error).name).toBe('Provider.MalformedResponse');
      outcomes.add('schema');
    }
    expect([...outcomes].sort()).toEqual(['not-json', 'schema']);
  });

  it.each(SERVICES)('%s: slow answers later than a client timeout, and the next call is on time', async (service) => {
    const jobId = newJob();
    sims.setFault(service, jobId, 'slow');
    const [path, body] = ROUTES[service](jobId);

    const timedOut = await call('POST', `${sims.url}${path}`, body, AbortSignal.timeout(100)).then(() => null, (e: unknown) => e);
    const next = await call('POST', `${sims.url}${path}`, body);

    expect((timedOut as Error | null)?.name).toBe('TimeoutError');
    expect(classify(timedOut).name).toBe('Transient.Network');
    expect(next.status).toBeLessThan(300);
  });
});

describe('every provider', () => {
  it.each(['segmentation', 'analyzer', 'hosted'] as const)('answers GET /%s/health with its status', async (service) => {
    const res = await call('GET', `${sims.url}/${service}/health`);

    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ status: 'ok', service });
  });

  it.each([
    ['GET', '/segmentation/segment', 405, 'method_not_allowed'],
    ['POST', '/hosted/inpaint/some-task', 405, 'method_not_allowed'],
    ['POST', '/analyzer/health', 405, 'method_not_allowed'],
    ['GET', '/hosted/inpaint/a/b', 404, 'not_found'],
    ['POST', '/segmentation', 404, 'not_found'],
  ] as const)('answers %s %s with %i', async (method, path, status, error) => {
    const res = await call(method, `${sims.url}${path}`, method === 'POST' ? {} : undefined);

    expect(res.status).toBe(status);
    expect(JSON.parse(res.text)).toMatchObject({ error });
  });

  it('refuses a body over 20 MB with 413', async () => {
    const big = 'A'.repeat(21 * 1024 * 1024);

    const res = await call('POST', `${sims.urls.segmentation}/segment`, { jobId: newJob(), image: big, prompt: 'x' });

    expect(res.status).toBe(413);
  });

  it('refuses a body that breaks the API with 400 and the field paths', async () => {
    const res = await call('POST', `${sims.urls.analyzer}/analyze`, { jobId: newJob(), original: person });

    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'bad_request', issues: expect.arrayContaining([expect.objectContaining({ path: 'result' })]) });
  });

  it('meets the same faults for the same seed, counted per job', async () => {
    // Prepare
    const profile: FaultProfile = { name: 't', description: 't', faults: { analyzer: { http503: { rate: 0.5 } } } };
    const jobs = Array.from({ length: 10 }, (_, i) => `seeded-${i}`);
    const statuses = async () => {
      const s = await startProviderSims({ profile, seed: 11 });
      try {
        const out: number[] = [];
        for (const j of jobs) for (let n = 0; n < 2; n++) out.push((await call('POST', `${s.urls.analyzer}/analyze`, analyzeBody(j))).status);
        return { out, fired: s.stats().faultsFired };
      } finally {
        await s.stop();
      }
    };

    // Act
    const a = await statuses();
    const b = await statuses();

    // Assess
    expect(b.out).toEqual(a.out);
    expect(a.out).toContain(503);
    expect(a.out.filter((s) => s === 503).length).toBe(a.fired['analyzer.http503']);
    for (let i = 0; i < jobs.length; i++) expect(a.out[i * 2 + 1]).toBe(200);
  });
});
