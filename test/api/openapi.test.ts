/**
 * The committed OpenAPI document: generated from the route table and zod schemas, so it
 * must equal a fresh render; it documents every route with its errors, the SigV4
 * security scheme, the Idempotency-Key header and the one error shape.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPENAPI_PATH, openApiSchema, renderOpenApi } from '../../lambdas/api/openapi.ts';
import { errorBodySchema } from '../../lambdas/api/schemas.ts';
import { COMMON_ERRORS, OPERATION_IDS, ROUTES, type RouteSpec } from '../../lambdas/api/spec.ts';

type Doc = {
  openapi: string;
  security: unknown[];
  paths: Record<string, Record<string, { operationId: string; parameters: { name: string; in: string; required: boolean }[]; responses: Record<string, unknown>; requestBody?: unknown }>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, unknown>; securitySchemes: Record<string, Record<string, unknown>> };
};

const committed = readFileSync(OPENAPI_PATH, 'utf8');
const doc = JSON.parse(committed) as Doc;
const operation = (r: RouteSpec) => doc.paths[r.path]?.[r.method.toLowerCase()];

describe('docs/openapi.json', () => {
  it('is exactly what the route table and schemas render (run `node lambdas/api/openapi.ts` after changing them)', () => {
    expect(committed).toBe(renderOpenApi());
  });

  it('is checked by the render script\'s --check, which exits 0 when nothing drifted', () => {
    expect(() => execFileSync(process.execPath, ['lambdas/api/openapi.ts', '--check'], { stdio: 'pipe', timeout: 30_000 })).not.toThrow();
  });

  it('is OpenAPI 3 with SigV4 (execute-api) required on every operation', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.security).toEqual([{ sigv4: [] }]);
    expect(doc.components.securitySchemes['sigv4']).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization', 'x-amazon-apigateway-authtype': 'awsSigv4' });
  });

  it.each(OPERATION_IDS)('documents %s with its success and every error it may answer', (id) => {
    const r: RouteSpec = ROUTES[id];
    const op = operation(r);
    expect(op?.operationId).toBe(id);
    const statuses = Object.keys(op?.responses ?? {}).map(Number).sort();
    expect(statuses).toEqual([...new Set([r.success.status, ...r.errors, ...COMMON_ERRORS])].sort());
    expect(op?.parameters.some((p) => p.name === 'Idempotency-Key' && p.in === 'header')).toBe(r.idempotent === true);
    expect(op?.parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(r.path.includes('{id}') ? ['id'] : []);
    expect(op?.requestBody !== undefined).toBe(r.body !== undefined);
  });

  it('has exactly the routes of the route table', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    expect(documented).toEqual(OPERATION_IDS.map((id) => `${ROUTES[id].method} ${ROUTES[id].path}`).sort());
  });

  it('resolves every $ref', () => {
    const refs = [...committed.matchAll(/"\$ref": "#\/components\/(schemas|responses)\/([^"]+)"/g)];
    expect(refs.length).toBeGreaterThan(0);
    for (const [, kind, name] of refs) expect(doc.components[kind as 'schemas' | 'responses'][name!], `${kind}/${name}`).toBeDefined();
  });

  it('describes every error with the one error shape', () => {
    expect(doc.components.schemas['Error']).toEqual(openApiSchema(errorBodySchema, 'output'));
    for (const r of Object.values(doc.components.responses) as { content: Record<string, { schema: unknown }> }[]) {
      expect(r.content['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
    }
  });
});
