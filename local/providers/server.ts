/**
 * The simulated providers — segmentation, analyzer and a BitStudio-style hosted inpaint —
 * on one HTTP server with a route group each (API in README.md, schemas in api.ts). Every
 * call is counted per (service, jobId) and meets the fault the seeded profile decides.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { z } from 'zod';
import {
  BodyTooLargeError, closeServer, listen, readBody, sendJson, trackConnections, Waker,
} from '../http.ts';
import { DEFAULT_VRAM_MIB } from '../comfyui/physics.ts';
import { RouteTable, type Route } from '../comfyui/router.ts';
import { createFaultInjector, SERVICES, type FaultInjector, type FaultKindOf, type FaultProfile, type ProviderService } from '../faults.ts';
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

const PROVIDER_SERVICES = SERVICES.filter((s): s is ProviderService => s !== 'comfyui');

type Handler = (req: IncomingMessage, res: ServerResponse, params: Readonly<Record<string, string>>) => Promise<void>;

export async function startProviderSims(options: ProviderSimOptions = {}): Promise<ProviderSims> {
  const sims = new SimulatedProviders(options);
  await sims.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return sims;
}

class SimulatedProviders implements ProviderSims {
  readonly faults: FaultInjector;
  readonly #waker = new Waker();
  readonly #calls: Record<ProviderService, number> = { segmentation: 0, analyzer: 0, hosted: 0 };
  readonly #faultsFired: Record<string, number> = {};
  readonly #tasks: HostedTasks;
  readonly #ctx: ServeContext;
  readonly #server = createServer((req, res) => this.#onRequest(req, res));
  readonly #sockets = trackConnections(this.#server);
  readonly #routes = new RouteTable<Handler>([
    ...PROVIDER_SERVICES.map((service): Route<Handler> => ({ method: 'GET', path: `/${service}/health`, handler: async (_req, res) => this.#health(res, service) })),
    { method: 'POST', path: '/segmentation/segment', handler: (req, res) => this.#segment(req, res) },
    { method: 'POST', path: '/analyzer/analyze', handler: (req, res) => this.#analyze(req, res) },
    { method: 'POST', path: '/hosted/inpaint', handler: (req, res) => this.#submitInpaint(req, res) },
    { method: 'GET', path: '/hosted/inpaint/{taskId}', handler: (_req, res, params) => this.#pollInpaint(res, params['taskId']!) },
  ]);
  #url = '';
  #stopped = false;

  constructor(options: ProviderSimOptions) {
    this.faults = options.faults ?? createFaultInjector(options.profile, options.seed);
    this.#tasks = new HostedTasks(options.hostedMs ?? 1500, options.hostedVramMiB ?? DEFAULT_VRAM_MIB);
    this.#ctx = {
      faults: this.faults,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
      slowMs: options.slowMs ?? 35_000,
      wait: (ms) => this.#waker.wait(ms),
      alive: () => !this.#stopped,
      fired: (service, kind) => {
        this.#faultsFired[`${service}.${kind}`] = (this.#faultsFired[`${service}.${kind}`] ?? 0) + 1;
      },
    };
  }

  async listen(port: number, host: string): Promise<void> {
    this.#url = `http://${host}:${await listen(this.#server, port, host)}`;
  }

  get url(): string {
    return this.#url;
  }

  get urls(): ProviderSims['urls'] {
    return { segmentation: `${this.#url}/segmentation`, analyzer: `${this.#url}/analyzer`, hosted: `${this.#url}/hosted` };
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#waker.wake();
    await closeServer(this.#server, this.#sockets);
  }

  stats(): ProviderSimStats {
    return { calls: { ...this.#calls }, faultsFired: { ...this.#faultsFired }, hostedTasks: { ...this.#tasks.counts } };
  }

  setFault<S extends ProviderService>(service: S, jobId: string, kind: FaultKindOf<S> | null, calls?: number): void {
    this.faults.force(service, jobId, kind, calls);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.#handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof BodyTooLargeError) sendJson(res, 413, { error: 'payload_too_large', message: `the body exceeds ${MAX_BODY_BYTES} bytes` });
      else if (e instanceof ProviderBadRequest) sendJson(res, e.status, { error: e.code, message: e.message, ...(e.details === undefined ? {} : { issues: e.details }) });
      else sendJson(res, 500, { error: 'internal', message: e instanceof Error ? e.message : String(e) });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://sim.local').pathname;
    const method = req.method ?? 'GET';
    const match = this.#routes.match(method, path);
    if (match.kind === 'found') return match.handler(req, res, match.params);
    if (match.kind === 'method-not-allowed') return sendJson(res, 405, { error: 'method_not_allowed', message: `${method} is not allowed on ${path}` });
    sendJson(res, 404, { error: 'not_found', message: `no route ${method} ${path}` });
  }

  #health(res: ServerResponse, service: ProviderService): void {
    const down = this.faults.isDown(service);
    sendJson(res, down ? 503 : 200, { status: down ? 'down' : 'ok', service });
  }

  async #segment(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseBody(await readBody(req, MAX_BODY_BYTES), segmentRequestSchema);
    this.#calls.segmentation += 1;
    return serveCall(this.#ctx, res, {
      service: 'segmentation', jobId: body.jobId, invalidShape: { mask: null, confidence: 'high' },
      run: async (fault) => ({ status: 200, body: await segment(body, { degenerate: fault === 'degenerate' }) }),
    });
  }

  async #analyze(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseBody(await readBody(req, MAX_BODY_BYTES), analyzeRequestSchema);
    this.#calls.analyzer += 1;
    return serveCall(this.#ctx, res, {
      service: 'analyzer', jobId: body.jobId, invalidShape: { verdict: 'maybe', score: '0.9' },
      run: async (fault) => ({ status: 200, body: await analyze(body, { reject: fault === 'reject' }) }),
    });
  }

  async #submitInpaint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseBody(await readBody(req, MAX_BODY_BYTES), inpaintSubmitRequestSchema);
    this.#calls.hosted += 1;
    return serveCall(this.#ctx, res, {
      service: 'hosted', jobId: body.jobId, invalidShape: { task: null },
      run: async () => ({ status: 202, body: await this.#tasks.submit(body) }),
    });
  }

  async #pollInpaint(res: ServerResponse, taskId: string): Promise<void> {
    const jobId = this.#tasks.jobOf(taskId);
    if (jobId === undefined) return sendJson(res, 404, { error: 'not_found', message: `no inpaint task ${taskId}` });
    this.#calls.hosted += 1;
    return serveCall(this.#ctx, res, {
      service: 'hosted', jobId, invalidShape: { taskId, status: 'done', progress: 'complete' },
      run: async () => ({ status: 200, body: await this.#tasks.poll(taskId) }),
    });
  }
}
