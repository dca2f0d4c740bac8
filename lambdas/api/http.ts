/**
 * API Gateway REST proxy events in, proxy results out: header lookup, the caller's
 * identity, the API's base URL, and JSON answers with CORS for configured origins.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { OperationId } from './spec.ts';
import { apiSettings } from './settings.ts';
import type { ErrorBody } from './schemas.ts';
import type { ApiError } from './errors.ts';

export interface ApiRequest<P, Q, B> {
  readonly operationId: OperationId;
  readonly pathParams: P;
  readonly query: Q;
  readonly body: B;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly requestId: string;
  /** The IAM principal that signed the request. */
  readonly caller: string;
  /** The API's root URL as the caller reached it (stage included), without a trailing slash. */
  readonly baseUrl: string;
  readonly lambda: Context;
}

export interface ApiResult<T> {
  readonly status: number;
  readonly body: T;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Headers in lower case; with several values, the first (API Gateway's `headers` holds the last). */
export function lowerHeaders(event: Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (typeof v === 'string') out[k.toLowerCase()] = v;
  for (const [k, vs] of Object.entries(event.multiValueHeaders ?? {})) {
    const first = vs?.[0];
    if (typeof first === 'string' && out[k.toLowerCase()] === undefined) out[k.toLowerCase()] = first;
  }
  return out;
}

export function callerOf(event: APIGatewayProxyEvent): string {
  const id = event.requestContext?.identity;
  return id?.userArn ?? id?.caller ?? id?.accessKey ?? 'anonymous';
}

/**
 * The root URL the caller used: scheme and host from the forwarding headers, plus the
 * stage prefix (requestContext.path is the full path, event.path the resource path).
 */
export function baseUrlOf(event: APIGatewayProxyEvent, headers: Record<string, string>): string {
  const host = headers['host'] ?? event.requestContext?.domainName ?? 'localhost';
  const proto = headers['x-forwarded-proto'] ?? 'https';
  const full = event.requestContext?.path ?? event.path;
  const prefix = typeof full === 'string' && typeof event.path === 'string' && full.endsWith(event.path) ? full.slice(0, full.length - event.path.length) : '';
  return `${proto}://${host}${prefix}`;
}

export function corsHeaders(headers: Record<string, string>): Record<string, string> {
  const origin = headers['origin'];
  if (origin === undefined || !apiSettings().corsOrigins.includes(origin)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': 'location,retry-after,idempotent-replayed,x-request-id',
    vary: 'Origin',
  };
}

export function jsonResult(status: number, body: unknown, headers: Record<string, string>): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResult(e: ApiError, requestId: string, headers: Record<string, string>): APIGatewayProxyResult {
  const body: ErrorBody = {
    error: { code: e.code, message: e.message, ...(e.issues !== undefined && { issues: [...e.issues] }) },
    requestId,
  };
  return jsonResult(e.status, body, { ...headers, ...e.headers, 'x-request-id': requestId });
}
