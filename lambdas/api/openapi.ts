/**
 * The OpenAPI 3 document, generated from the route table and its zod schemas, committed
 * as docs/openapi.json and served at GET /openapi.json. Run this file to render it, or
 * with --check to fail when the committed file drifts:
 *   node lambdas/api/openapi.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { GATEWAY_MAX_BODY_BYTES, IDEMPOTENCY_KEY_PATTERN, MAX_BODY_BYTES } from './limits.ts';
import { errorBodySchema } from './schemas.ts';
import { COMMON_ERRORS, OPERATION_IDS, ROUTES, type RouteSpec } from './spec.ts';

export const OPENAPI_PATH = fileURLToPath(new URL('../../docs/openapi.json', import.meta.url));

type Json = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.0 schema object (requests as accepted, responses as sent). */
export function openApiSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Json;
}

const ERROR_RESPONSES: Record<number, { name: string; description: string }> = {
  400: { name: 'BadRequest', description: 'The request is not valid; `error.issues` names each bad field (body.<path>, query.<name>, path.<name>, header.<name>) and why' },
  403: { name: 'Forbidden', description: 'Not signed, badly signed (SigV4, service execute-api) or not allowed; an unknown route also answers 403, as API Gateway does' },
  404: { name: 'NotFound', description: 'No pack or job has this id' },
  409: { name: 'Conflict', description: 'An illegal state change (a running pack, a complete job without force, a reused Idempotency-Key, …)' },
  413: { name: 'PayloadTooLarge', description: `The body is larger than ${MAX_BODY_BYTES} bytes (API Gateway itself refuses more than ${GATEWAY_MAX_BODY_BYTES})` },
  415: { name: 'UnsupportedMediaType', description: 'A body that is not application/json' },
  429: { name: 'TooManyRequests', description: 'Throttled by the stage\'s rate limits' },
  500: { name: 'InternalError', description: 'A fault of the API itself; never the answer to a caller\'s input' },
  503: { name: 'ServiceUnavailable', description: 'Emergency-stopped (routes that start work), or a dependency is unreachable; retry after Retry-After seconds' },
};

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function parameters(r: RouteSpec): Json[] {
  const out: Json[] = [];
  const add = (where: 'path' | 'query', schema: z.ZodType | undefined) => {
    if (!schema) return;
    const js = openApiSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, prop] of Object.entries(js.properties ?? {})) {
      const { description, ...rest } = prop as { description?: string };
      out.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), ...(description !== undefined && { description }), schema: rest });
    }
  };
  add('path', r.pathParams);
  add('query', r.query);
  if (r.idempotent) {
    out.push({
      name: 'Idempotency-Key', in: 'header', required: false,
      description: 'Makes retries safe: the same key and body get the same answer (for 24 hours); the same key with another body gets 409',
      schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source },
    });
  }
  return out;
}

export function buildOpenApi(): Json {
  const schemas: Record<string, Json> = { Error: openApiSchema(errorBodySchema, 'output') };
  const paths: Record<string, Record<string, Json>> = {};
  for (const id of OPERATION_IDS) {
    const r: RouteSpec = ROUTES[id];
    const responseName = `${capital(id)}Response`;
    schemas[responseName] = openApiSchema(r.success.schema, 'output');
    let requestBody: Json | undefined;
    if (r.body) {
      const requestName = `${capital(id)}Request`;
      schemas[requestName] = openApiSchema(r.body, 'input');
      requestBody = { required: r.bodyRequired === true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${requestName}` } } } };
    }
    const responses: Record<string, Json> = {
      [String(r.success.status)]: {
        description: r.success.description,
        ...(r.success.status === 202 && { headers: { Location: { description: 'Where to poll', schema: { type: 'string' } } } }),
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${responseName}` } } },
      },
    };
    for (const status of [...new Set([...r.errors, ...COMMON_ERRORS])].sort()) {
      responses[String(status)] = { $ref: `#/components/responses/${ERROR_RESPONSES[status]!.name}` };
    }
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: id,
      tags: [r.tag],
      summary: r.summary,
      ...(r.description !== undefined && { description: r.description }),
      parameters: parameters(r),
      ...(requestBody && { requestBody }),
      responses,
      ...(r.startsWork && { 'x-vto-starts-work': true }),
    };
  }
  const responses = Object.fromEntries(Object.values(ERROR_RESPONSES).map(({ name, description }) => [name, {
    description,
    ...(name === 'ServiceUnavailable' && { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } }),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  }]));
  return {
    openapi: '3.0.3',
    info: {
      title: 'VTO pipeline API',
      version: '1.0.0',
      description: 'Virtual try-on packs on AWS Step Functions. Every route needs AWS Signature Version 4 (service execute-api). ' +
        'Starting work never blocks: routes that start work answer 202 with ids and a status URL to poll. ' +
        'Every error body has one shape: {"error": {"code", "message", "issues"?}, "requestId"}.',
    },
    servers: [{
      url: 'https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}',
      variables: { restApiId: { default: 'example' }, region: { default: 'us-east-1' }, stage: { default: 'v1' } },
    }],
    security: [{ sigv4: [] }],
    tags: [
      { name: 'packs', description: 'Packs of jobs' },
      { name: 'jobs', description: 'Single jobs' },
      { name: 'uploads', description: 'Input images' },
      { name: 'operations', description: 'Statistics, health, emergency stop, cleanup' },
      { name: 'classifier', description: 'Operator-taught classifier patterns' },
      { name: 'meta', description: 'This document' },
    ],
    paths,
    components: {
      securitySchemes: {
        sigv4: {
          type: 'apiKey', name: 'Authorization', in: 'header',
          description: 'AWS Signature Version 4 for service execute-api (IAM authorization)',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
      schemas,
      responses,
    },
  };
}

export const renderOpenApi = (): string => `${JSON.stringify(buildOpenApi(), null, 2)}\n`;

function main(): void {
  const text = renderOpenApi();
  if (process.argv.includes('--check')) {
    let current = '';
    try { current = readFileSync(OPENAPI_PATH, 'utf8'); } catch { /* missing counts as drift */ }
    if (current !== text) {
      console.error('docs/openapi.json is out of date: run `node lambdas/api/openapi.ts` and commit it.');
      process.exit(1);
    }
    return;
  }
  writeFileSync(OPENAPI_PATH, text);
  console.log(`wrote ${OPENAPI_PATH}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
