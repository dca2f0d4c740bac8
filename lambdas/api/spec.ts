/**
 * The route table: every route of the API with its schemas and the statuses it answers.
 * The Lambda router, the OpenAPI document (openapi.ts), the API Gateway RestApi
 * (lib/api.ts) and the local gateway (local/api-server.ts) are all built from it. It holds
 * no handler code, so infrastructure can import it without the AWS SDK.
 */
import type { z } from 'zod';
import * as c from './classifier-schemas.ts';
import * as s from './schemas.ts';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface RouteSpec {
  readonly method: HttpMethod;
  /** API Gateway resource path, e.g. `/packs/{id}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: 'packs' | 'jobs' | 'uploads' | 'operations' | 'classifier' | 'meta';
  readonly pathParams?: z.ZodType;
  readonly query: z.ZodType;
  /** Request body; `bodyRequired: false` lets an empty body stand for `{}`. */
  readonly body?: z.ZodType;
  readonly bodyRequired?: boolean;
  readonly success: { readonly status: 200 | 202; readonly schema: z.ZodType; readonly description: string };
  /** Error statuses besides those every route may answer (403, 429, 500, 503 unavailable). */
  readonly errors: readonly number[];
  /** Starts work: refused with 503 and Retry-After while emergency-stopped. */
  readonly startsWork?: boolean;
  /** Honours the Idempotency-Key header. */
  readonly idempotent?: boolean;
}

const route = <R extends RouteSpec>(r: R) => r;

export const ROUTES = {
  createPack: route({
    method: 'POST', path: '/packs', operationId: 'createPack', tag: 'packs',
    summary: 'Create a pack from uploaded images and start it',
    description: 'Validates the body, writes the pack and its jobs, starts the pack execution and answers 202 at once. ' +
      'The images must have been uploaded with URLs from POST /uploads, under the same pack id. ' +
      'With an Idempotency-Key header, a retry with the same key and body gets the same answer; the same key with another body gets 409. ' +
      'With `webhook`, the pack\'s terminal event (and the events listed) is POSTed there, signed (see the README).',
    query: s.emptyQuerySchema, body: s.createPackBodySchema, bodyRequired: true,
    success: { status: 202, schema: s.packCreatedSchema, description: 'Pack created and started' },
    errors: [400, 409, 413, 415], startsWork: true, idempotent: true,
  }),
  listPacks: route({
    method: 'GET', path: '/packs', operationId: 'listPacks', tag: 'packs',
    summary: 'List packs, newest first',
    query: s.listPacksQuerySchema,
    success: { status: 200, schema: s.packListSchema, description: 'A page of packs' },
    errors: [400],
  }),
  getPack: route({
    method: 'GET', path: '/packs/{id}', operationId: 'getPack', tag: 'packs',
    summary: 'A pack: status, counts per status, progress and console link',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema,
    success: { status: 200, schema: s.packViewSchema, description: 'The pack' },
    errors: [400, 404],
  }),
  listPackJobs: route({
    method: 'GET', path: '/packs/{id}/jobs', operationId: 'listPackJobs', tag: 'packs',
    summary: 'Jobs of a pack, optionally of one status, paginated',
    pathParams: s.idPathSchema, query: s.listJobsQuerySchema,
    success: { status: 200, schema: s.jobListSchema, description: 'A page of jobs' },
    errors: [400, 404],
  }),
  restartIncomplete: route({
    method: 'POST', path: '/packs/{id}/restart-incomplete', operationId: 'restartIncomplete', tag: 'packs',
    summary: 'Run every job that is not complete again',
    description: 'Every job not complete goes back to pending (checkpoints kept, error cleared, attempt bounds start again) and the pack runs again under a new execution. 409 while the pack runs.',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema, body: s.emptyBodySchema, bodyRequired: false,
    success: { status: 202, schema: s.packRestartedSchema, description: 'Pack restarted' },
    errors: [400, 404, 409, 413, 415], startsWork: true,
  }),
  refinePack: route({
    method: 'POST', path: '/packs/{id}/refine', operationId: 'refinePack', tag: 'packs',
    summary: 'Create a new pack that refines this one',
    description: 'successful_only: the complete jobs again, with the same inputs and nudged parameters (new seed, more steps). ' +
      'all_completed: the failed jobs too, for a corrective pass. The new pack links to its source (sourcePackId, refineScope). 409 while the source runs.',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema, body: s.refineBodySchema, bodyRequired: true,
    success: { status: 202, schema: s.packCreatedSchema, description: 'Refinement pack created and started' },
    errors: [400, 404, 409, 413, 415], startsWork: true, idempotent: true,
  }),
  cancelPack: route({
    method: 'POST', path: '/packs/{id}/cancel', operationId: 'cancelPack', tag: 'packs',
    summary: 'Cancel a pack: stop its run and every unfinished job',
    description: 'Stops the pack execution and the execution of each unfinished job (a GPU prompt is interrupted on its host); those jobs end `cancelled` ' +
      'with their finished stages kept, finished jobs keep their status and outputs, and the pack ends `cancelled`. A pending, running or emergency-stopped pack can be cancelled; ' +
      'a cancelled one answers 202 again (alreadyCancelled); one that ended otherwise answers 409. Its jobs can be run again with POST /jobs/{id}/retry or POST /packs/{id}/restart-incomplete.',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema, body: s.emptyBodySchema, bodyRequired: false,
    success: { status: 202, schema: s.packCancelledSchema, description: 'Pack cancelled' },
    errors: [400, 404, 409, 413, 415],
  }),
  deletePack: route({
    method: 'DELETE', path: '/packs/{id}', operationId: 'deletePack', tag: 'packs',
    summary: 'Erase a pack and everything of it',
    description: 'Removes every object of the pack (uploads, masks, GPU outputs, results; every version and delete marker), its pack, job and recovery-event items, ' +
      'idempotency records and lifecycle-event claims. Recovery events stay counted in the statistics without ids. From this request on, the pack answers 404 ' +
      'everywhere. A small pack is erased within the request (state `erased`); a large one is finished in the background by the watchdog ' +
      '(state `erasing`: poll `erasureUrl` until it answers 404). A pack being erased answers 202 again; a running pack answers 409 (cancel it first).',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema,
    success: { status: 202, schema: s.packErasureSchema, description: 'Erasure done or under way' },
    errors: [400, 404, 409],
  }),
  getErasure: route({
    method: 'GET', path: '/packs/{id}/erasure', operationId: 'getErasure', tag: 'packs',
    summary: 'What erasing the pack removes, or what is left to erase',
    description: 'Before DELETE /packs/{id}: the jobs, object keys and object versions it would erase (state `present`). During the erasure: what is left (state `erasing`). ' +
      '404 when nothing of the pack is left.',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema,
    success: { status: 200, schema: s.erasureViewSchema, description: 'The erasure' },
    errors: [400, 404],
  }),
  listWebhookFailures: route({
    method: 'GET', path: '/packs/{id}/webhook-failures', operationId: 'listWebhookFailures', tag: 'packs',
    summary: 'Webhook deliveries of this pack that were given up on',
    description: 'A delivery is retried with backoff for 24 hours on 5xx, 429 and timeouts; another 4xx, a refused address, or 24 hours of failures end it here ' +
      '(and in the webhook dead-letter queue).',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema,
    success: { status: 200, schema: s.webhookFailuresSchema, description: 'The failed deliveries' },
    errors: [400, 404],
  }),
  getJob: route({
    method: 'GET', path: '/jobs/{id}', operationId: 'getJob', tag: 'jobs',
    summary: 'A job with its parameters, checkpoints, QA report, recovery history and pre-signed outputs',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema,
    success: { status: 200, schema: s.jobViewSchema, description: 'The job' },
    errors: [400, 404],
  }),
  retryJob: route({
    method: 'POST', path: '/jobs/{id}/retry', operationId: 'retryJob', tag: 'jobs',
    summary: 'Run one job again',
    description: 'Starts the job machine for the job. A complete job, or one whose failure is not recoverable, needs {"force": true}, ' +
      'which also resets its attempt counters. 409 while the job or its pack runs.',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema, body: s.retryBodySchema, bodyRequired: false,
    success: { status: 202, schema: s.jobRetriedSchema, description: 'Job started' },
    errors: [400, 404, 409, 413, 415], startsWork: true,
  }),
  cancelJob: route({
    method: 'POST', path: '/jobs/{id}/cancel', operationId: 'cancelJob', tag: 'jobs',
    summary: 'Cancel one job',
    description: 'Moves an unfinished job to `cancelled` (finished stages kept) and stops its execution; a GPU prompt is interrupted on its host and the GPU freed. ' +
      'A cancelled job answers 202 again (alreadyCancelled); a complete or failed job answers 409. A cancelled job can be retried (POST /jobs/{id}/retry). ' +
      'Its pack, once every job has ended, is `cancelled` when all its jobs were cancelled, `failed` when none completed and some failed, else `completed_with_failures`.',
    pathParams: s.idPathSchema, query: s.emptyQuerySchema, body: s.emptyBodySchema, bodyRequired: false,
    success: { status: 202, schema: s.jobCancelledSchema, description: 'Job cancelled' },
    errors: [400, 404, 409, 413, 415],
  }),
  getStatistics: route({
    method: 'GET', path: '/statistics', operationId: 'getStatistics', tag: 'operations',
    summary: 'Errors, recoveries, recovery rate, distributions and time to recover, with an hourly series',
    query: s.statisticsQuerySchema,
    success: { status: 200, schema: s.statisticsSchema, description: 'Statistics of the window' },
    errors: [400],
  }),
  emergencyStop: route({
    method: 'POST', path: '/emergency-stop', operationId: 'emergencyStop', tag: 'operations',
    summary: 'Stop all running executions and pause GPU consumption; nothing is lost',
    description: 'Sets the emergency-stop flag (workers, stage functions and the watchdog honour it) and stops the running executions of both machines. ' +
      'Packs that were running become stopped; jobs keep their state and checkpoints until POST /resume. ' +
      '409 when already stopped: the standing stop keeps its time and reason.',
    query: s.emptyQuerySchema, body: s.emergencyStopBodySchema, bodyRequired: false,
    success: { status: 202, schema: s.emergencyStoppedSchema, description: 'Stopped' },
    errors: [400, 409, 413, 415],
  }),
  resume: route({
    method: 'POST', path: '/resume', operationId: 'resume', tag: 'operations',
    summary: 'Clear the emergency stop and resume what it stopped',
    description: 'Clears the flag, puts the unfinished jobs of stopped packs back to pending (checkpoints kept, so they resume where they were) and starts those packs again. 409 when not stopped.',
    query: s.emptyQuerySchema, body: s.emptyBodySchema, bodyRequired: false,
    success: { status: 202, schema: s.resumedSchema, description: 'Resumed' },
    errors: [400, 409, 413, 415],
  }),
  getHealth: route({
    method: 'GET', path: '/health', operationId: 'getHealth', tag: 'operations',
    summary: 'Dependencies, queue depths, stuck jobs, emergency stop and circuit breakers',
    query: s.emptyQuerySchema,
    success: { status: 200, schema: s.healthSchema, description: 'Health report' },
    errors: [400],
  }),
  createUploads: route({
    method: 'POST', path: '/uploads', operationId: 'createUploads', tag: 'uploads',
    summary: 'Pre-signed PUT URLs for input images',
    description: 'Reserves a pack id (unless one is given) and returns one pre-signed PUT URL per file under packs/{packId}/uploads/. ' +
      'Content-Type and Content-Length are signed: S3 refuses a PUT with another type or size. Allowed types: image/png, image/jpeg, image/webp.',
    query: s.emptyQuerySchema, body: s.uploadsBodySchema, bodyRequired: true,
    success: { status: 200, schema: s.uploadsCreatedSchema, description: 'Upload URLs' },
    errors: [400, 409, 413, 415],
  }),
  cleanup: route({
    method: 'DELETE', path: '/cleanup', operationId: 'cleanup', tag: 'operations',
    summary: 'Delete recovery data and checkpoints of terminal jobs older than N hours',
    description: 'For terminal jobs (complete, failed, cancelled) last updated more than `hours` ago: deletes their intermediate checkpoint objects (outputs are kept) and their checkpoint map. ' +
      'Recovery events expire by TTL on the same principle. Bounded per call; `more` says when to call again.',
    query: s.cleanupQuerySchema,
    success: { status: 200, schema: s.cleanupResultSchema, description: 'What was cleaned' },
    errors: [400],
  }),
  listClassifierPatterns: route({
    method: 'GET', path: '/classifier/patterns', operationId: 'listClassifierPatterns', tag: 'classifier',
    summary: 'The operator-taught classifier patterns, their version and history',
    query: s.emptyQuerySchema,
    success: { status: 200, schema: c.patternListSchema, description: 'The taught patterns' },
    errors: [400],
  }),
  dryRunClassifierPattern: route({
    method: 'POST', path: '/classifier/patterns/dry-run', operationId: 'dryRunClassifierPattern', tag: 'classifier',
    summary: 'Which recorded failures a pattern would name, and how',
    description: 'Checks the pattern as a save would (a bad or catastrophic regular expression is a 400 naming the reason) and matches it against the stored failures of the newest failed jobs (`limit`). ' +
      'Each match shows the name before and after and whether deferred recovery could then re-run the job. Nothing is saved.',
    query: s.emptyQuerySchema, body: c.patternDryRunBodySchema, bodyRequired: true,
    success: { status: 200, schema: c.patternDryRunSchema, description: 'What the pattern would change' },
    errors: [400, 413, 415],
  }),
  addClassifierPattern: route({
    method: 'POST', path: '/classifier/patterns', operationId: 'addClassifierPattern', tag: 'classifier',
    summary: 'Teach the classifier a pattern',
    description: 'Saves the pattern as the next version of the taught set (who and when recorded; concurrent saves never overwrite each other). ' +
      'Lambdas and GPU workers use it within a minute: taught patterns are tried first, newest first, before the built-in rules. ' +
      '`recorded` says what happens to the recorded failures it matches (see the field).',
    query: s.emptyQuerySchema, body: c.patternAddBodySchema, bodyRequired: true,
    success: { status: 200, schema: c.patternAddedSchema, description: 'Saved' },
    errors: [400, 409, 413, 415],
  }),
  removeClassifierPattern: route({
    method: 'DELETE', path: '/classifier/patterns/{id}', operationId: 'removeClassifierPattern', tag: 'classifier',
    summary: 'Remove a taught pattern (the next version of the set)',
    description: 'Failures already reclassified by it keep their name.',
    pathParams: c.patternIdPathSchema, query: s.emptyQuerySchema,
    success: { status: 200, schema: c.patternRemovedSchema, description: 'Removed' },
    errors: [400, 404, 409],
  }),
  getOpenApi: route({
    method: 'GET', path: '/openapi.json', operationId: 'getOpenApi', tag: 'meta',
    summary: 'This API\'s OpenAPI 3 document',
    query: s.emptyQuerySchema,
    success: { status: 200, schema: s.openApiDocumentSchema, description: 'The document' },
    errors: [],
  }),
} as const satisfies Record<string, RouteSpec>;

export type OperationId = keyof typeof ROUTES;
export const OPERATION_IDS = Object.keys(ROUTES) as OperationId[];

/** Statuses every route may answer. */
export const COMMON_ERRORS = [403, 429, 500, 503] as const;

/**
 * Matches a request path to a route as API Gateway matches resources (`{id}` is one
 * non-empty segment). Returns the allowed methods when only the method is wrong.
 */
export function matchRoute(method: string, path: string): { operationId: OperationId; pathParameters: Record<string, string> } | { allowed: HttpMethod[] } | undefined {
  if (!path.startsWith('/')) return undefined;
  const segments = path.split('/').slice(1);
  const allowed: HttpMethod[] = [];
  for (const id of OPERATION_IDS) {
    const r: RouteSpec = ROUTES[id];
    const parts = r.path.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const ok = parts.every((p, i) => {
      const seg = segments[i] ?? '';
      if (!p.startsWith('{')) return p === seg;
      params[p.slice(1, -1)] = seg;
      return seg !== '';
    });
    if (!ok) continue;
    if (r.method === method) return { operationId: id, pathParameters: params };
    allowed.push(r.method);
  }
  return allowed.length > 0 ? { allowed } : undefined;
}

/** The route of an API Gateway event's resource and method. */
export function routeOfResource(method: string, resource: string): OperationId | undefined {
  return OPERATION_IDS.find((id) => ROUTES[id].method === method && ROUTES[id].path === resource);
}
