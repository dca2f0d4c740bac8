/**
 * Refusals of the console server itself. They reach the browser in the API's error shape
 * `{"error": {"code", "message", "issues"?}, "requestId"}`, so the app reads every error
 * the same way, whoever raised it.
 */
export interface ConsoleIssue {
  readonly path: string;
  readonly message: string;
}

export class ConsoleError extends Error {
  override readonly name = 'ConsoleError';
  readonly status: number;
  readonly code: string;
  readonly issues: readonly ConsoleIssue[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, opts: { issues?: readonly ConsoleIssue[]; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = status;
    this.code = code;
    this.issues = opts.issues;
    this.headers = opts.headers ?? {};
  }
}

/** A target (endpoints file, endpoint and region) the console cannot use. */
export class ConsoleTargetError extends Error {
  override readonly name = 'ConsoleTargetError';
}

export function errorBody(e: ConsoleError, requestId: string): string {
  return JSON.stringify({
    error: { code: e.code, message: e.message, ...(e.issues !== undefined && { issues: e.issues }) },
    requestId,
  });
}
