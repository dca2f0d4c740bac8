/**
 * The API's refusals. Every one becomes the single documented error body
 * `{"error": {"code", "message", "issues"?}, "requestId"}` (schemas.ts errorBodySchema).
 */
import type { z } from 'zod';
import { MAX_ISSUES } from './limits.ts';

export interface Issue {
  readonly path: string;
  readonly message: string;
}

/**
 * Every error code the API and the console server answer with (the `code` of the error
 * body): the API's refusals first, then the console server's own (its proxy, origin checks,
 * local histories and events), which reach the browser in the same shape.
 */
export const ERROR_CODES = [
  'ValidationFailed', 'MalformedJson', 'PayloadTooLarge', 'UnsupportedMediaType', 'NotFound', 'RouteNotFound',
  'MethodNotAllowed', 'PackExists', 'PackRunning', 'PackFinished', 'PackChanged', 'JobRunning',
  'JobFinished', 'JobComplete', 'JobChanged', 'JobNotRecoverable', 'NothingToRestart', 'NothingToRefine',
  'IdempotencyKeyReused', 'IdempotencyInProgress', 'EmergencyStopped', 'AlreadyEmergencyStopped', 'NotEmergencyStopped', 'ServiceUnavailable',
  'StepFunctionsError', 'InternalError', 'CrossOriginRefused', 'MisdirectedRequest', 'ConsoleHeaderMissing', 'NotForwarded',
  'CredentialsUnavailable', 'LocalHistoryUnavailable', 'LocalEventsUnavailable', 'ConsoleInternalError', 'UpstreamError', 'UpstreamTimeout', 'UpstreamUnreachable',
  'UpstreamTooLarge', 'UpstreamNotJson', 'PatternsChanged', 'TooManyPatterns',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: ErrorCode;
  readonly issues: readonly Issue[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: ErrorCode, message: string, opts: { issues?: readonly Issue[]; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = status;
    this.code = code;
    this.issues = opts.issues;
    this.headers = opts.headers ?? {};
  }
}

export const badRequest = (message: string, issues?: readonly Issue[]) =>
  new ApiError(400, 'ValidationFailed', message, issues === undefined ? {} : { issues: capIssues(issues) });
export const notFound = (what: string, id: string) => new ApiError(404, 'NotFound', `${what} ${id} does not exist`);
export const conflict = (code: ErrorCode, message: string, headers?: Record<string, string>) =>
  new ApiError(409, code, message, headers === undefined ? {} : { headers });
export const unavailable = (code: ErrorCode, message: string, retryAfterSeconds: number, cause?: unknown) =>
  new ApiError(503, code, message, { headers: { 'retry-after': String(retryAfterSeconds) }, cause });

/** Keeps answers small when a body is wrong in a thousand places. */
export function capIssues(issues: readonly Issue[]): Issue[] {
  if (issues.length <= MAX_ISSUES) return [...issues];
  return [...issues.slice(0, MAX_ISSUES), { path: '(more)', message: `${issues.length - MAX_ISSUES} more issues not listed` }];
}

/** A path as the error body names it: `body.jobs.3.person`, `query.limit`. */
export function issuePath(where: string, path: readonly PropertyKey[]): string {
  return [where, ...path.map((p) => String(p))].join('.');
}

/** zod issues as API issues; an unknown key becomes one issue per key, at the key's own path. */
export function zodIssues(where: string, error: z.ZodError): Issue[] {
  return error.issues.flatMap((i): Issue[] => {
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ path: issuePath(where, [...i.path, k]), message: 'is not a known field' }));
    }
    return [{ path: issuePath(where, i.path), message: i.message }];
  });
}
