/* global fetch, AbortSignal */
/**
 * Calls to the console server: /api/* (forwarded, signed, to the API) and
 * /console/api/* (its own routes). Every failure becomes an ApiError in the API's terms
 * (status, code, message, issues, requestId), and describeError() puts it into words.
 */

export class ApiError extends Error {
  constructor({ status, code, message, issues, requestId }) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.issues = Array.isArray(issues) ? issues : [];
    this.requestId = requestId;
  }
}

const TIMEOUT_MS = 40_000;

async function call(url, { method = 'GET', body, idempotencyKey } = {}) {
  const headers = { accept: 'application/json', 'x-vto-console': '1' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
  let res;
  try {
    res = await fetch(url, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    const timedOut = e && (e.name === 'TimeoutError' || e.name === 'AbortError');
    throw new ApiError({
      status: 0,
      code: timedOut ? 'ConsoleTimeout' : 'ConsoleUnreachable',
      message: timedOut
        ? `The console server did not answer within ${TIMEOUT_MS / 1000} s.`
        : 'The console server did not answer. Is `vto console` still running?',
    });
  }
  let json;
  try {
    json = await res.json();
  } catch {
    throw new ApiError({ status: res.status, code: 'NotJson', message: `The console server answered HTTP ${res.status} with a body that is not JSON.` });
  }
  if (!res.ok) {
    const err = json && typeof json === 'object' && json.error && typeof json.error === 'object' ? json.error : {};
    throw new ApiError({
      status: res.status,
      code: typeof err.code === 'string' ? err.code : `HTTP${res.status}`,
      message: typeof err.message === 'string' ? err.message : (typeof json?.message === 'string' ? json.message : `HTTP ${res.status}`),
      issues: err.issues,
      requestId: typeof json?.requestId === 'string' ? json.requestId : undefined,
    });
  }
  return json;
}

/** An API call: path relative to the API root, e.g. '/packs?limit=25'. */
export const api = (path, opts) => call(`/api${path}`, opts);
/** A console-server route, e.g. '/config'. */
export const consoleApi = (path, opts) => call(`/console/api${path}`, opts);

const HINTS = {
  PackRunning: 'Wait until the pack has finished (or use the emergency stop), then try again.',
  JobRunning: 'Wait until the job or its pack has finished, then try again.',
  NothingToRestart: 'Every job of this pack is complete.',
  NothingToRefine: 'The pack has no job in the chosen scope.',
  JobComplete: 'Tick "Force" to run a complete job again.',
  JobNotRecoverable: 'Its failure is not recoverable: fix the cause, then retry with "Force".',
  EmergencyStopped: 'The pipeline is emergency-stopped. Resume it on the Statistics & health page first.',
  NotEmergencyStopped: 'The pipeline is not stopped.',
  ServiceUnavailable: 'The API is busy or a dependency is down; try again shortly.',
  UpstreamTimeout: 'The API did not answer in time. Is it (or the offline stack) running?',
  UpstreamUnreachable: 'Is the API (or the offline stack) running? Restart `vto console` if its address changed.',
  CredentialsUnavailable: 'Configure AWS credentials for the shell that runs `vto console` (profile, SSO login or environment).',
  ConsoleUnreachable: 'Start it again with `npx vto console`.',
  NotFound: 'It may have been deleted, or the link is wrong.',
  LocalHistoryUnavailable: 'Use the Step Functions console link instead.',
  INVALID_SIGNATURE: 'The API refused the signature: check the credentials and region `vto console` uses.',
  UNAUTHORIZED_CLIENT: 'The API does not accept these credentials: check the IAM permissions.',
  EXPIRED_TOKEN: 'The credentials have expired: log in again, then reload.',
};

/** { title, hint, issues, reference } in words, for any error. */
export function describeError(e, doing) {
  if (e instanceof ApiError) {
    const status = e.status ? `HTTP ${e.status}, ` : '';
    return {
      title: `${doing ? `${doing}: ` : ''}${e.message}`,
      hint: HINTS[e.code],
      issues: e.issues.map((i) => `${i.path}: ${i.message}`),
      reference: `${status}${e.code}${e.requestId ? ` · request ${e.requestId}` : ''}`,
    };
  }
  return {
    title: `${doing ? `${doing}: ` : ''}${e instanceof Error ? e.message : String(e)}`,
    hint: 'This is a fault of the console page; reload it. If it happens again, report it with the text above.',
    issues: [],
    reference: e instanceof Error ? e.name : 'Error',
  };
}
