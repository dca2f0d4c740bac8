/**
 * Forwards the browser's /api/* requests to the API: only the routes of the allow-list,
 * signed here with SigV4 and the target's credentials, each with a timeout. The answer
 * goes back with its status and JSON body; whatever goes wrong on the way (no
 * credentials, the API unreachable or too slow, an answer that is not JSON) comes back
 * in the API's error shape, so the app can always put it into words.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IDEMPOTENCY_KEY_PATTERN } from '../../lambdas/api/limits.ts';
import { signedFetch } from '../../client/signed-fetch.ts';
import { forwardedRoute } from './allow-list.ts';
import { ConsoleError } from './errors.ts';
import { readBody, sendError, sendJson } from './http-io.ts';
import type { ConsoleTarget } from './target.ts';

export interface ProxyLimits {
  /** Per upstream call, GET. */
  readonly readTimeoutMs: number;
  /** Per upstream call, POST (emergency stop and restarts stop or start executions). */
  readonly writeTimeoutMs: number;
  /** Largest body the browser may send; the console's own bodies are a few bytes. */
  readonly maxRequestBytes: number;
  /** Largest answer read from the API. */
  readonly maxResponseBytes: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
  readTimeoutMs: 15_000,
  // API Gateway ends an integration after 29 s.
  writeTimeoutMs: 31_000,
  maxRequestBytes: 64 * 1024,
  maxResponseBytes: 8 * 1024 * 1024,
};

const isTimeout = (e: unknown) => e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');

function describeFetchFailure(e: unknown): string {
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined ? `${code}${cause instanceof Error && cause.message ? ` (${cause.message})` : ''}` : String((cause as Error | undefined)?.message ?? cause);
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > max) {
      await res.body.cancel().catch(() => undefined);
      throw new ConsoleError(502, 'UpstreamTooLarge', `The API's answer is larger than the console reads (${max} bytes).`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Whether an API answer already has the error shape the app reads. */
function hasErrorShape(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const err = (body as { error?: unknown }).error;
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' && typeof (err as { message?: unknown }).message === 'string';
}

export async function proxyApi(req: IncomingMessage, res: ServerResponse, o: {
  apiPath: string;
  search: string;
  target: ConsoleTarget;
  limits: ProxyLimits;
  requestId: string;
  headers: Record<string, string>;
}): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const route = forwardedRoute(method, o.apiPath);
  const body = await readBody(req, o.limits.maxRequestBytes);
  const forward: Record<string, string> = { accept: 'application/json' };
  if (body.length > 0) {
    if (!route.hasBody) throw new ConsoleError(400, 'ValidationFailed', `${method} ${o.apiPath} takes no body.`);
    forward['content-type'] = 'application/json';
  }
  const key = req.headers['idempotency-key'];
  if (typeof key === 'string') {
    if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw new ConsoleError(400, 'ValidationFailed', 'The Idempotency-Key header is malformed.', { issues: [{ path: 'header.idempotency-key', message: 'must be 1–128 letters, digits or _.:-' }] });
    }
    forward['idempotency-key'] = key;
  }

  let credentials;
  try {
    credentials = await o.target.credentials();
  } catch (e) {
    throw new ConsoleError(503, 'CredentialsUnavailable', `The console could not load AWS credentials to sign the request: ${(e as Error).message}`, { cause: e });
  }

  const url = `${o.target.apiUrl}${route.path}${o.search}`;
  const timeoutMs = method === 'GET' ? o.limits.readTimeoutMs : o.limits.writeTimeoutMs;
  let status: number;
  let text: string;
  let retryAfter: string | null;
  try {
    const upstream = await signedFetch(url, {
      method,
      headers: forward,
      ...(body.length > 0 && { body: new Uint8Array(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    }, { credentials, region: o.target.region });
    status = upstream.status;
    retryAfter = upstream.headers.get('retry-after');
    text = await readLimited(upstream, o.limits.maxResponseBytes);
  } catch (e) {
    if (e instanceof ConsoleError) throw e;
    if (isTimeout(e)) {
      throw new ConsoleError(504, 'UpstreamTimeout', `The API did not answer ${method} ${o.apiPath} within ${Math.round(timeoutMs / 1000)} s.`, { cause: e });
    }
    throw new ConsoleError(502, 'UpstreamUnreachable', `The API at ${o.target.apiUrl} could not be reached: ${describeFetchFailure(e)}.`, { cause: e });
  }

  const relay = { ...o.headers, ...(retryAfter !== null && { 'retry-after': retryAfter }) };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConsoleError(502, 'UpstreamNotJson', `The API answered HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (status >= 400 && !hasErrorShape(json)) {
    const message = typeof (json as { message?: unknown } | null)?.message === 'string' ? (json as { message: string }).message : `HTTP ${status}`;
    sendError(res, new ConsoleError(status, 'UpstreamError', `The API refused the request: ${message}`), o.requestId, relay);
    return;
  }
  sendJson(res, status, text, relay);
}
