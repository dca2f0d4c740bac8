/**
 * The API function as Lambda will load it: bundled for real by the construct's
 * NodejsFunction (local esbuild), imported by a plain Node process with nothing beside
 * it, and invoked with a REST proxy event for a route that needs no AWS call.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_HANDLER_ENTRY } from '../../lib/api.ts';
import { PipelineFunction } from '../../lib/pipeline-function.ts';

const outdir = mkdtempSync(join(tmpdir(), 'vto-api-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the API function bundle', () => {
  let bundle = '';

  beforeAll(() => {
    const app = new App({ outdir });
    new PipelineFunction(new Stack(app, 'ApiBundle'), 'Api', { entry: API_HANDLER_ENTRY, description: 'api' });
    app.synth();
    bundle = readdirSync(outdir).filter((d) => d.startsWith('asset.')).map((d) => join(outdir, d, 'index.mjs')).find((f) => existsSync(f)) ?? '';
  });

  it('loads in plain Node and answers GET /openapi.json with the document', () => {
    // Prepare: the environment the construct gives the function (names only; this route calls nothing).
    const env = { ...process.env, PACKS_TABLE: 'p', JOBS_TABLE: 'j', EVENTS_TABLE: 'e', CONTROL_TABLE: 'c', ARTIFACTS_BUCKET: 'b', POWERTOOLS_LOG_LEVEL: 'SILENT' };
    const event = {
      resource: '/openapi.json', path: '/openapi.json', httpMethod: 'GET', headers: { host: 'x.execute-api.eu-west-1.amazonaws.com' },
      multiValueHeaders: {}, queryStringParameters: null, multiValueQueryStringParameters: null, pathParameters: null, stageVariables: null,
      body: null, isBase64Encoded: false, requestContext: { requestId: 'r-1', path: '/v1/openapi.json', stage: 'v1', identity: {} },
    };
    const script = `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)});
      const context = { awsRequestId: 'r-1', functionName: 'api', getRemainingTimeInMillis: () => 10000 };
      const res = await m.handler(${JSON.stringify(event)}, context);
      console.log(JSON.stringify({ status: res.statusCode, openapi: JSON.parse(res.body).openapi }));`;
    // Act
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: outdir, encoding: 'utf8', timeout: 30_000, env });
    // Assess
    expect(bundle).not.toBe('');
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({ status: 200, openapi: '3.0.3' });
  });
});
