/**
 * Refusals of the console server itself. They reach the browser in the API's error shape
 * `{"error": {"code", "message", "issues"?}, "requestId"}`, so the app reads every error
 * the same way, whoever raised it.
 */
import { ApiError } from '../../lambdas/api/errors.ts';

/** The API's error type: one type, one list of codes (lambdas/api/errors.ts ERROR_CODES). */
export { ApiError as ConsoleError };

/** A target (endpoints file, endpoint and region) the console cannot use. */
export class ConsoleTargetError extends Error {
  override readonly name = 'ConsoleTargetError';
}

export function errorBody(e: ApiError, requestId: string): string {
  return JSON.stringify({
    error: { code: e.code, message: e.message, ...(e.issues !== undefined && { issues: e.issues }) },
    requestId,
  });
}
