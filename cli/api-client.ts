/**
 * The API as the CLI calls it: one SigV4-signed request per operation of the route table,
 * with a timeout, the answer checked against the operation's response schema, and every
 * failure turned into a CliError that says what happened in words.
 */
import type { z } from 'zod';
import { errorBodySchema } from '../lambdas/api/schemas.ts';
import { ROUTES, type OperationId } from '../lambdas/api/spec.ts';
import { formatPath } from './classify.ts';
import { ApiRefusal, NoAnswerError, UnexpectedAnswerError, UnreachableError } from './errors.ts';
import { signedFetch } from '../client/signed-fetch.ts';
import { START_HINT, type ApiTarget } from './target.ts';

export type SuccessOf<O extends OperationId> = z.infer<(typeof ROUTES)[O]['success']['schema']>;

export interface CallArgs {
  /** Values of the path's `{name}` parameters. */
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ApiClientOptions {
  /** Per request. @default 30000 */
  readonly timeoutMs?: number;
}

/** Network failures that mean "nothing answers there" rather than a bug. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    cur = cur.cause;
  }
  return undefined;
}

/** Turns what fetch threw into the CLI's words: timeout, nothing listening, or as is. */
export function networkFailure(e: unknown, where: { url: string; offline: boolean; timeoutMs: number }): Error {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
    return new NoAnswerError(`no answer from ${where.url} within ${where.timeoutMs / 1000} s (wait longer with --timeout SECONDS)`);
  }
  const code = errorCode(e);
  if (e instanceof TypeError || (code !== undefined && CONNECTION_CODES.has(code))) {
    const why = code ?? (e as Error).message;
    return where.offline
      ? new UnreachableError(`the offline stack at ${where.url} does not answer (is \`${START_HINT}\` still running?) [${why}]`, e)
      : new UnreachableError(`the API at ${where.url} does not answer [${why}]`, e);
  }
  return e instanceof Error ? e : new Error(String(e));
}

export class ApiClient {
  readonly target: ApiTarget;
  readonly timeoutMs: number;

  constructor(target: ApiTarget, o: ApiClientOptions = {}) {
    this.target = target;
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** The request path of an operation, parameters filled in and encoded. */
  pathOf(op: OperationId, args: CallArgs = {}): string {
    const path = ROUTES[op].path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = args.params?.[name];
      if (v === undefined) throw new Error(`${op}: no value for path parameter ${name}`);
      return encodeURIComponent(v);
    });
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(args.query ?? {})) if (v !== undefined) q.set(k, String(v));
    const qs = q.toString();
    return qs === '' ? path : `${path}?${qs}`;
  }

  async call<O extends OperationId>(op: O, args: CallArgs = {}): Promise<SuccessOf<O>> {
    const route = ROUTES[op];
    const path = this.pathOf(op, args);
    const url = `${this.target.url}${path}`;
    const hasBody = args.body !== undefined;
    let res: Response;
    let text: string;
    try {
      res = await signedFetch(url, {
        method: route.method,
        headers: { accept: 'application/json', ...(hasBody && { 'content-type': 'application/json' }), ...args.headers },
        ...(hasBody && { body: JSON.stringify(args.body) }),
      }, { credentials: await this.target.credentials(), region: this.target.region, timeoutMs: this.timeoutMs });
      text = await res.text();
    } catch (e) {
      throw networkFailure(e, { url: this.target.url, offline: this.target.offline, timeoutMs: this.timeoutMs });
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const where = { method: route.method, path: path.split('?')[0]! };
    if (!res.ok) {
      const parsed = errorBodySchema.safeParse(json);
      if (parsed.success) {
        const { code, message, issues } = parsed.data.error;
        throw new ApiRefusal({
          ...where, status: res.status, code, message, requestId: parsed.data.requestId,
          ...(issues !== undefined && { issues }),
          ...(res.status === 403 && { hint: `the request was not accepted as signed: check the credentials (${this.target.offline ? `from ${this.target.source}` : 'AWS credential chain'})` }),
          ...(res.status === 503 && res.headers.get('retry-after') !== null && { hint: `try again in ${res.headers.get('retry-after')} s` }),
        });
      }
      throw new ApiRefusal({ ...where, status: res.status, code: `HTTP${res.status}`, message: text.slice(0, 300) || res.statusText });
    }
    const parsed = route.success.schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`).join('; ');
      throw new UnexpectedAnswerError(`${where.method} ${where.path} answered ${res.status} with a body this CLI does not understand (${issues}); is the CLI as new as the API?`);
    }
    return parsed.data as SuccessOf<O>;
  }
}
