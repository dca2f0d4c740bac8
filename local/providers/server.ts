/**
 * The simulated providers — segmentation, analyzer and a BitStudio-style hosted inpaint —
 * on one HTTP server with a route group each (API in README.md, schemas in api.ts). Every
 * call is counted per (service, jobId) and meets the fault the seeded profile decides.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { z } from 'zod';
import {
  BodyTooLargeError, closeServer, listen, readBody, sendJson, trackConnections, Waker,
} from '../comfyui/http.ts';
import { DEFAULT_VRAM_MIB } from '../comfyui/physics.ts';
import { createFaultInjector, type FaultInjector, type FaultKindOf, type FaultProfile, type ProviderService } from '../faults.ts';
import { analyzeRequestSchema, inpaintSubmitRequestSchema, MAX_BODY_BYTES, segmentRequestSchema } from './api.ts';
import { ProviderBadRequest, serveCall, type ServeContext } from './serve.ts';
import { analyze, HostedTasks, segment } from './services.ts';

export interface ProviderSimOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Fault profile name or object. @default 'none' */
  readonly profile?: string | FaultProfile;
  readonly seed?: number;
  /** An injector shared with the ComfyUI simulator; overrides profile/seed. */
  readonly faults?: FaultInjector;
  /** How long a 'slow' answer takes; longer than a client's timeout. @default 35000 */
  readonly slowMs?: number;
  /** Retry-After of 429 answers, seconds. @default 1 */
  readonly retryAfterSeconds?: number;
  /** Time a hosted inpaint task takes from submit to succeeded. @default 1500 */
  readonly hostedMs?: number;
  /** VRAM of the hosted GPUs: tasks whose params need more fail with a CUDA OOM. @default 24576 */
  readonly hostedVramMiB?: number;
}

export interface ProviderSimStats {
  /** Calls per service (faulted ones included). */
  readonly calls: Readonly<Record<ProviderService, number>>;
  /** Faults that took effect, per "service.kind". */
  readonly faultsFired: Readonly<Record<string, number>>;
  readonly hostedTasks: { readonly submitted: number; readonly succeeded: number; readonly failed: number };
}

export interface ProviderSims {
  /** Base URLs of the route groups: POST {segmentation}/segment, POST {analyzer}/analyze, POST {hosted}/inpaint, GET {hosted}/inpaint/{taskId}. */
  readonly urls: { readonly segmentation: string; readonly analyzer: string; readonly hosted: string };
  readonly url: string;
  readonly faults: FaultInjector;
  stop(): Promise<void>;
  stats(): ProviderSimStats;
  /** Forces `kind` on the next `calls` calls of (service, jobId); null clears. */
  setFault<S extends ProviderService>(service: S, jobId: string, kind: FaultKindOf<S> | null, calls?: number): void;
}

function parseBody<T>(body: Buffer, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProviderBadRequest(400, 'bad_request', 'the body is not JSON');
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    throw new ProviderBadRequest(400, 'bad_request', 'the body does not match the API', r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  }
  return r.data;
}

export async function startProviderSims(options: ProviderSimOptions = {}): Promise<ProviderSims> {
  const host = options.host ?? '127.0.0.1';
  const faults = options.faults ?? createFaultInjector(options.profile, options.seed);
  const waker = new Waker();
  let stopped = false;
  const calls: Record<ProviderService, number> = { segmentation: 0, analyzer: 0, hosted: 0 };
  const faultsFired: Record<string, number> = {};
  const tasks = new HostedTasks(options.hostedMs ?? 1500, options.hostedVramMiB ?? DEFAULT_VRAM_MIB);
  const ctx: ServeContext = {
    faults,
    retryAfterSeconds: options.retryAfterSeconds ?? 1,
    slowMs: options.slowMs ?? 35_000,
    wait: (ms) => waker.wait(ms),
    alive: () => !stopped,
    fired: (service, kind) => {
      faultsFired[`${service}.${kind}`] = (faultsFired[`${service}.${kind}`] ?? 0) + 1;
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://sim.local').pathname;
    const method = req.method ?? 'GET';
    const health = /^\/(segmentation|analyzer|hosted)\/health$/.exec(path);
    if (health !== null && method === 'GET') {
      const service = health[1] as ProviderService;
      if (faults.isDown(service)) return sendJson(res, 503, { status: 'down', service });
      return sendJson(res, 200, { status: 'ok', service });
    }

    if (method === 'POST' && path === '/segmentation/segment') {
      const body = parseBody(await readBody(req, MAX_BODY_BYTES), segmentRequestSchema);
      calls.segmentation += 1;
      return serveCall(ctx, 'segmentation', body.jobId, res, async (fault) => ({ status: 200, body: await segment(body, fault === 'degenerate') }),
        { mask: null, confidence: 'high' });
    }
    if (method === 'POST' && path === '/analyzer/analyze') {
      const body = parseBody(await readBody(req, MAX_BODY_BYTES), analyzeRequestSchema);
      calls.analyzer += 1;
      return serveCall(ctx, 'analyzer', body.jobId, res, async (fault) => ({ status: 200, body: await analyze(body, fault === 'reject') }),
        { verdict: 'maybe', score: '0.9' });
    }
    if (method === 'POST' && path === '/hosted/inpaint') {
      const body = parseBody(await readBody(req, MAX_BODY_BYTES), inpaintSubmitRequestSchema);
      calls.hosted += 1;
      return serveCall(ctx, 'hosted', body.jobId, res, async () => ({ status: 202, body: await tasks.submit(body) }), { task: null });
    }
    const poll = /^\/hosted\/inpaint\/([^/]+)$/.exec(path);
    if (method === 'GET' && poll !== null) {
      const taskId = decodeURIComponent(poll[1]!);
      const jobId = tasks.jobOf(taskId);
      if (jobId === undefined) return sendJson(res, 404, { error: 'not_found', message: `no inpaint task ${taskId}` });
      calls.hosted += 1;
      return serveCall(ctx, 'hosted', jobId, res, async () => ({ status: 200, body: await tasks.poll(taskId) }), { taskId, status: 'done', progress: 'complete' });
    }
    const known = ['/segmentation/segment', '/analyzer/analyze', '/hosted/inpaint'];
    if (known.includes(path) || poll !== null) return sendJson(res, 405, { error: 'method_not_allowed', message: `${method} is not allowed on ${path}` });
    return sendJson(res, 404, { error: 'not_found', message: `no route ${method} ${path}` });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof BodyTooLargeError) sendJson(res, 413, { error: 'payload_too_large', message: `the body exceeds ${MAX_BODY_BYTES} bytes` });
      else if (e instanceof ProviderBadRequest) sendJson(res, e.status, { error: e.code, message: e.message, ...(e.details === undefined ? {} : { issues: e.details }) });
      else sendJson(res, 500, { error: 'internal', message: e instanceof Error ? e.message : String(e) });
    });
  });
  const sockets = trackConnections(server);
  const port = await listen(server, options.port ?? 0, host);
  const url = `http://${host}:${port}`;

  return {
    url,
    urls: { segmentation: `${url}/segmentation`, analyzer: `${url}/analyzer`, hosted: `${url}/hosted` },
    faults,
    async stop() {
      if (stopped) return;
      stopped = true;
      waker.wake();
      await closeServer(server, sockets);
    },
    stats: () => ({ calls: { ...calls }, faultsFired: { ...faultsFired }, hostedTasks: { ...tasks.counts } }),
    setFault: (service, jobId, kind, n) => faults.force(service, jobId, kind, n),
  };
}
