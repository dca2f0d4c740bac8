/**
 * The CLI's failures. A UsageError (from classify.ts, shared by every command) is the
 * operator's wording and exits 2; every CliError is the API's or the machine's answer and
 * exits 1. Each has a stable `code` for `--json` output.
 */
import type { Issue } from '../lambdas/api/errors.ts';
import { UsageError } from './classify.ts';

export { UsageError };

export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The `--json` form: the API's error shape, so scripts read one shape whatever failed. */
  document(): { error: { code: string; message: string; status?: number; issues?: readonly Issue[] }; requestId?: string } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** No endpoints file: the offline stack is not running (or was never started). */
export class NoStackError extends CliError {
  override readonly name = 'NoStackError';
  constructor(message: string) {
    super('NoOfflineStack', message);
  }
}

/** Nothing listens at the API's address, or the connection broke. */
export class UnreachableError extends CliError {
  override readonly name = 'UnreachableError';
  constructor(message: string, cause?: unknown) {
    super('Unreachable', message, { cause });
  }
}

/** A request got no answer within its timeout. */
export class NoAnswerError extends CliError {
  override readonly name = 'NoAnswerError';
  constructor(message: string) {
    super('Timeout', message);
  }
}

/** The API answered, but not with what its contract says. */
export class UnexpectedAnswerError extends CliError {
  override readonly name = 'UnexpectedAnswerError';
  constructor(message: string) {
    super('UnexpectedAnswer', message);
  }
}

/** No AWS credentials to sign with (deployed API only). */
export class NoCredentialsError extends CliError {
  override readonly name = 'NoCredentialsError';
  constructor(message: string, cause?: unknown) {
    super('NoCredentials', message, { cause });
  }
}

/** An image PUT to its pre-signed URL was refused. */
export class UploadError extends CliError {
  override readonly name = 'UploadError';
  constructor(message: string) {
    super('UploadFailed', message);
  }
}

export interface ApiRefusalInit {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly Issue[];
  readonly requestId?: string;
  /** What to do about it, in this CLI's terms. */
  readonly hint?: string;
}

/** The API refused or failed a request: its status and error body, in words. */
export class ApiRefusal extends CliError {
  override readonly name = 'ApiRefusal';
  readonly status: number;
  readonly issues: readonly Issue[];
  readonly requestId: string | undefined;
  readonly apiMessage: string;
  readonly request: { readonly method: string; readonly path: string };

  constructor(o: ApiRefusalInit) {
    const verb = o.status >= 500 ? 'failed' : 'refused';
    const lines = [
      `the API ${verb} ${o.method} ${o.path} (${o.status} ${o.code}): ${o.message}`,
      ...(o.issues ?? []).map((i) => `  ${i.path}: ${i.message}`),
      ...(o.hint === undefined ? [] : [`  ${o.hint}`]),
      ...(o.requestId === undefined || o.requestId === '' ? [] : [`  request id ${o.requestId}`]),
    ];
    super(o.code, lines.join('\n'));
    this.status = o.status;
    this.issues = o.issues ?? [];
    this.requestId = o.requestId;
    this.apiMessage = o.message;
    this.request = { method: o.method, path: o.path };
  }

  /** The same refusal with a hint of what to do in this CLI. */
  withHint(hint: string): ApiRefusal {
    return new ApiRefusal({
      ...this.request, status: this.status, code: this.code, message: this.apiMessage, issues: this.issues, hint,
      ...(this.requestId !== undefined && { requestId: this.requestId }),
    });
  }

  override document() {
    return {
      error: { code: this.code, message: this.apiMessage, status: this.status, ...(this.issues.length > 0 && { issues: this.issues }) },
      ...(this.requestId !== undefined && { requestId: this.requestId }),
    };
  }
}
