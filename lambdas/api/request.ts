/**
 * Reading a request: the body (size 413, media type 415, JSON 400), query and path
 * parameters (400 naming each bad one), and the Idempotency-Key header.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { z } from 'zod';
import { ApiError, badRequest, zodIssues, type Issue } from './errors.ts';
import { IDEMPOTENCY_KEY_PATTERN, MAX_BODY_BYTES } from './limits.ts';
import type { RouteSpec } from './spec.ts';

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: string, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw badRequest(`The request's ${what} is not valid`, zodIssues(where, r.error));
  return r.data;
}

/** Is a Content-Type JSON in UTF-8? (`application/json`, optionally `; charset=utf-8`.) */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const [type, ...params] = value.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => p === '' || p === 'charset=utf-8' || p === 'charset="utf-8"');
}

/** The body's bytes, from text or base64 as API Gateway passes it. */
function bodyBytes(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): Buffer {
  if (event.body === null || event.body === undefined) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/**
 * The body as JSON, or `undefined` when empty. Routes without a body schema ignore it
 * (after the size check, which every route makes).
 */
export function readJsonBody(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>, headers: Record<string, string>, route: RouteSpec): unknown {
  const bytes = bodyBytes(event);
  if (bytes.length > MAX_BODY_BYTES) {
    throw new ApiError(413, 'PayloadTooLarge', `The body is ${bytes.length} bytes; at most ${MAX_BODY_BYTES} are accepted`);
  }
  if (route.body === undefined) return undefined;
  if (bytes.length === 0) {
    if (route.bodyRequired) throw badRequest('The request needs a JSON body', [{ path: 'body', message: 'is required' }]);
    return undefined;
  }
  if (!isJsonContentType(headers['content-type'])) {
    throw new ApiError(415, 'UnsupportedMediaType', `Content-Type must be application/json, got ${JSON.stringify(headers['content-type'] ?? '(none)').slice(0, 120)}`);
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    const why = e instanceof SyntaxError ? e.message : 'is not valid UTF-8';
    throw new ApiError(400, 'MalformedJson', 'The body is not valid JSON', { issues: [{ path: 'body', message: why.slice(0, 300) }] });
  }
}

/** Query parameters as one string each; a repeated one is an issue. */
export function readQuery(event: Pick<APIGatewayProxyEvent, 'queryStringParameters' | 'multiValueQueryStringParameters'>): Record<string, string> {
  const out: Record<string, string> = {};
  const issues: Issue[] = [];
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (typeof v === 'string') out[k] = v;
  for (const [k, vs] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    if ((vs?.length ?? 0) > 1) issues.push({ path: `query.${k}`, message: 'is given more than once' });
    const first = vs?.[0];
    if (out[k] === undefined && typeof first === 'string') out[k] = first;
  }
  if (issues.length > 0) throw badRequest('The query is not valid', issues);
  return out;
}

/** The Idempotency-Key header, checked; undefined when absent. */
export function readIdempotencyKey(headers: Record<string, string>): string | undefined {
  const key = headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw badRequest('The Idempotency-Key header is not valid', [{ path: 'header.Idempotency-Key', message: 'must be 1–128 letters, digits or . _ : -' }]);
  }
  return key;
}
