/**
 * One API Gateway proxy event in, one answer out: find the route, read and validate its
 * inputs, refuse work while emergency-stopped, run the operation, and map every failure
 * to the one error body. A caller's input never produces a 500.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { EMERGENCY_STOP_FLAG, getFlag } from '../../adapters/job-store.ts';
import { logger, metrics } from '../../adapters/logging.ts';
import { cancelJob, cancelPack } from './cancel.ts';
import { addClassifierPattern, dryRunClassifierPattern, listClassifierPatterns, removeClassifierPattern } from './classifier-patterns.ts';
import { cleanup } from './cleanup.ts';
import { createPack } from './create-pack.ts';
import { emergencyStop } from './emergency-stop.ts';
import { deletePack, getErasure } from './erase-pack.ts';
import { ApiError } from './errors.ts';
import { getHealth } from './health.ts';
import { baseUrlOf, callerOf, corsHeaders, errorResult, jsonResult, lowerHeaders, type ApiResult } from './http.ts';
import { buildOpenApi } from './openapi.ts';
import type { Operation, RequestOf } from './operation.ts';
import { getPackById, listPackJobs, listPacks } from './read-packs.ts';
import { getJob } from './read-job.ts';
import { refinePack } from './refine-pack.ts';
import { parseWith, readIdempotencyKey, readJsonBody, readQuery } from './request.ts';
import { restartIncomplete } from './restart-pack.ts';
import { resume } from './resume.ts';
import { retryJob } from './retry-job.ts';
import { apiSettings } from './settings.ts';
import { ROUTES, matchRoute, routeOfResource, type OperationId, type RouteSpec } from './spec.ts';
import { getStatistics } from './statistics.ts';
import { createUploads } from './uploads.ts';
import { listWebhookFailures } from './webhook-failures.ts';
import { addPoint } from '../../adapters/metric-points.ts';

let openApi: Record<string, unknown> | undefined;

const OPERATIONS: { [K in OperationId]: Operation<K> } = {
  createPack,
  listPacks,
  getPack: getPackById,
  listPackJobs,
  restartIncomplete,
  refinePack,
  cancelPack,
  deletePack,
  getErasure,
  listWebhookFailures,
  getJob,
  retryJob,
  cancelJob,
  getStatistics,
  emergencyStop,
  resume,
  getHealth,
  createUploads,
  cleanup,
  listClassifierPatterns,
  dryRunClassifierPattern,
  addClassifierPattern,
  removeClassifierPattern,
  getOpenApi: async () => ({ status: 200, body: (openApi ??= buildOpenApi()) }),
};

/** Failures of AWS services (throttling, 5xx, timeouts): the caller should retry later. */
function isServiceFault(e: unknown): boolean {
  const err = e as { $metadata?: { httpStatusCode?: number }; $retryable?: unknown; name?: string; code?: string };
  const status = err.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (err.$retryable !== undefined) return true;
  return ['TimeoutError', 'AbortError', 'ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded',
    'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(err.name ?? err.code ?? '');
}

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (isServiceFault(e)) {
    return new ApiError(503, 'ServiceUnavailable', 'A dependency of the API is unavailable; retry shortly', {
      headers: { 'retry-after': String(apiSettings().retryAfterSeconds) }, cause: e,
    });
  }
  return new ApiError(500, 'InternalError', 'The API failed; the request id identifies the failure in the logs', { cause: e });
}

function findOperation(event: APIGatewayProxyEvent): { operationId: OperationId; pathParameters: Record<string, string> } {
  const method = event.httpMethod ?? '';
  const byResource = typeof event.resource === 'string' ? routeOfResource(method, event.resource) : undefined;
  if (byResource) return { operationId: byResource, pathParameters: Object.fromEntries(Object.entries(event.pathParameters ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string')) };
  const m = matchRoute(method, event.path ?? '');
  if (m && 'operationId' in m) return m;
  if (m) throw new ApiError(405, 'MethodNotAllowed', `${method} is not allowed here; allowed: ${m.allowed.join(', ')}`, { headers: { allow: m.allowed.join(', ') } });
  throw new ApiError(404, 'RouteNotFound', `No route ${method} ${String(event.path ?? '')}`);
}

async function run(event: APIGatewayProxyEvent, lambda: Context, headers: Record<string, string>, requestId: string): Promise<ApiResult<unknown>> {
  const { operationId, pathParameters } = findOperation(event);
  const route: RouteSpec = ROUTES[operationId];
  logger.appendKeys({ operationId });
  const rawBody = readJsonBody(event, headers, route);
  const pathParams = route.pathParams ? parseWith(route.pathParams, pathParameters, 'path', 'path') : undefined;
  const query = parseWith(route.query, readQuery(event), 'query', 'query');
  // An empty optional body stands for {}; a JSON null is a null, and refused.
  const body = route.body ? parseWith(route.body, rawBody === undefined ? {} : rawBody, 'body', 'body') : undefined;
  const idempotencyKey = route.idempotent ? readIdempotencyKey(headers) : undefined;
  if (route.startsWork) {
    const flag = await getFlag(EMERGENCY_STOP_FLAG);
    if (flag?.['active'] === true) {
      throw new ApiError(503, 'EmergencyStopped', 'The pipeline is emergency-stopped; no new work starts until POST /resume', {
        headers: { 'retry-after': String(apiSettings().retryAfterSeconds) },
      });
    }
  }
  const req = {
    operationId, pathParams, query, body, headers, requestId, idempotencyKey,
    caller: callerOf(event), baseUrl: baseUrlOf(event, headers), lambda,
  };
  // The request was parsed with this very route's schemas, so it has the operation's types.
  const operation = OPERATIONS[operationId] as (r: RequestOf<typeof operationId>) => Promise<ApiResult<unknown>>;
  return operation(req as RequestOf<typeof operationId>);
}

export async function dispatch(event: APIGatewayProxyEvent, lambda: Context): Promise<APIGatewayProxyResult> {
  const headers = lowerHeaders(event ?? {});
  const requestId = event?.requestContext?.requestId ?? lambda.awsRequestId;
  const cors = corsHeaders(headers);
  try {
    const result = await run(event, lambda, headers, requestId);
    return jsonResult(result.status, result.body, { ...cors, ...result.headers, 'x-request-id': requestId });
  } catch (e) {
    const err = toApiError(e);
    if (err.status >= 500) {
      metrics.addDimension('operation', typeof event?.resource === 'string' ? event.resource : 'unknown');
      addPoint('ApiFaults', 1);
      metrics.publishStoredMetrics();
      logger.error('request failed', { status: err.status, code: err.code, error: (err.cause ?? err) as Error });
    }
    return errorResult(err, requestId, cors);
  }
}
