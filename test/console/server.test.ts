/**
 * The console server without a browser: what it serves, what it forwards to the API and
 * how (signed here, only the allow-listed routes, each with a timeout), what it refuses
 * (other routes, other sites, other host names), and that every failure reaches the
 * browser in the API's error shape. The API is a local gateway that checks SigV4 in
 * front of a recording handler.
 */
import { request } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleTarget, parsePort, runConsole } from '../../cli/console.ts';
import { NoStackError, UsageError } from '../../cli/errors.ts';
import { startConsoleServer, type ConsoleServer } from '../../console/server/server.ts';
import { targetFromEndpoints, type ConsoleTarget } from '../../console/server/target.ts';
import { startLocalApi, type LocalApi } from '../../local/api-server.ts';
import { startLocalBus } from '../../local/events/bus.ts';
import { freePort } from '../../local/ports.ts';

const CREDENTIALS = { accessKeyId: 'AKIDCONSOLETEST', secretAccessKey: 'console-test-secret-never-in-a-browser' };
const REGION = 'us-east-1';
const PACK_ID = '0f559e0d-b947-4b05-afa6-4611778a4a89';

const seen: APIGatewayProxyEvent[] = [];
const answers: Record<string, (e: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>> = {
  '/packs': async () => ({ statusCode: 200, body: JSON.stringify({ items: [], nextCursor: 'abc' }) }),
  '/packs/{id}': async (e) => ({ statusCode: 404, body: JSON.stringify({ error: { code: 'NotFound', message: `pack ${e.pathParameters?.['id']} does not exist` }, requestId: 'r-404' }) }),
  '/packs/{id}/refine': async () => ({ statusCode: 202, body: JSON.stringify({ packId: PACK_ID }) }),
  '/health': async () => {
    await new Promise((r) => setTimeout(r, 1500));
    return { statusCode: 200, body: '{}' };
  },
  '/statistics': async () => ({ statusCode: 500, headers: { 'content-type': 'text/html' }, body: '<html>oops</html>' }),
  '/resume': async () => ({ statusCode: 503, headers: { 'retry-after': '30' }, body: JSON.stringify({ message: 'busy' }) }),
};

let upstream: LocalApi;
let target: ConsoleTarget;
let server: ConsoleServer;
let port: number;

beforeAll(async () => {
  upstream = await startLocalApi({
    region: REGION, credentials: CREDENTIALS,
    handler: async (event) => {
      seen.push(event);
      const answer = answers[event.resource];
      return answer ? answer(event) : { statusCode: 200, body: JSON.stringify({ ok: true }) };
    },
  });
  target = targetFromEndpoints({ region: REGION, credentials: CREDENTIALS, api: upstream.url, s3: 'http://127.0.0.1:9999' });
  server = await startConsoleServer({ target, limits: { readTimeoutMs: 400 } });
  port = server.port;
});
afterAll(async () => {
  await server?.stop();
  await upstream?.stop();
});

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: () => Record<string, unknown> }

/** A raw HTTP request, so the test controls Host, Origin and every other header. */
function send(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('test request timed out')));
    req.end(body);
  });
}

const fromApp = { 'x-vto-console': '1' };
const errorOf = (a: Answer) => (a.json() as { error: { code: string; message: string; issues?: { path: string }[] }; requestId: string });

describe('the console server', () => {
  it('serves the app with a strict Content-Security-Policy and no inline script', async () => {
    // Act
    const page = await send('GET', '/');
    const script = await send('GET', '/app/main.js');
    // Assess
    expect(page.status).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).toContain('img-src \'self\' http://127.0.0.1:9999');
    expect(csp).not.toContain('unsafe');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.text).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it.each([
    ['a file outside the app folder', '/app/../server/server.ts'],
    ['an encoded escape', '/app/..%2Fserver%2Fserver.ts'],
    ['a file that does not exist', '/app/nothing.js'],
    ['the server source', '/console/server/server.ts'],
  ])('answers 404 for %s', async (_what, path) => {
    const res = await send('GET', path);
    expect(res.status).toBe(404);
    expect(errorOf(res).error.code).toBe('NotFound');
  });

  it('forwards an allow-listed request signed with the operator credentials, query included, without the browser\'s own headers', async () => {
    // Prepare
    seen.length = 0;
    // Act
    const res = await send('GET', '/api/packs?limit=5', { ...fromApp, cookie: 'session=browser', authorization: 'Bearer from-the-browser' });
    // Assess: the gateway checked the signature, so the request reached the handler
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ items: [], nextCursor: 'abc' });
    expect(seen).toHaveLength(1);
    const event = seen[0]!;
    expect(event.queryStringParameters).toEqual({ limit: '5' });
    expect(event.headers['authorization']).toContain(`Credential=${CREDENTIALS.accessKeyId}/`);
    expect(event.headers['cookie']).toBeUndefined();
  });

  it('forwards a POST body and its Idempotency-Key', async () => {
    seen.length = 0;
    const res = await send('POST', `/api/packs/${PACK_ID}/refine`, { ...fromApp, 'content-type': 'application/json', 'idempotency-key': 'key-1' }, JSON.stringify({ scope: 'all_completed' }));
    expect(res.status).toBe(202);
    expect(seen[0]?.headers['idempotency-key']).toBe('key-1');
    expect(JSON.parse(seen[0]?.body ?? '{}')).toEqual({ scope: 'all_completed' });
  });

  it('relays the API\'s own errors as they are', async () => {
    const res = await send('GET', `/api/packs/${PACK_ID}`, fromApp);
    expect(res.status).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'NotFound', message: `pack ${PACK_ID} does not exist` }, requestId: 'r-404' });
  });

  it.each([
    ['creating packs (not a console route)', 'POST', '/api/packs', 404, 'NotForwarded'],
    ['uploads', 'POST', '/api/uploads', 404, 'NotForwarded'],
    ['cleanup', 'DELETE', '/api/cleanup?hours=1', 404, 'NotForwarded'],
    ['an unknown route', 'GET', '/api/admin', 404, 'NotForwarded'],
    ['a path that climbs out of the API', 'GET', '/api/../../etc/passwd', 404, 'NotForwarded'],
    ['an absolute URL smuggled in the path', 'GET', '/api/http://169.254.169.254/latest', 404, 'NotForwarded'],
    ['an id that is not an id', 'GET', '/api/jobs/..', 400, 'ValidationFailed'],
    ['an encoded slash in an id', 'GET', '/api/jobs/a%2F..%2Fpacks', 400, 'ValidationFailed'],
    ['a method the route does not have', 'PUT', '/api/packs', 405, 'MethodNotAllowed'],
  ])('refuses %s without calling the API', async (_what, method, path, status, code) => {
    // Prepare
    seen.length = 0;
    // Act
    const res = await send(method, path, fromApp);
    // Assess
    expect(res.status).toBe(status);
    expect(errorOf(res).error.code).toBe(code);
    expect(errorOf(res).requestId).toMatch(/^console-/);
    expect(seen).toHaveLength(0);
  });

  it.each([
    ['without the console header', {}, 403, 'ConsoleHeaderMissing'],
    ['from another site (Origin)', { ...fromApp, origin: 'https://evil.example' }, 403, 'CrossOriginRefused'],
    ['from another site (Sec-Fetch-Site)', { ...fromApp, 'sec-fetch-site': 'cross-site' }, 403, 'CrossOriginRefused'],
    ['for another host name (DNS rebinding)', { ...fromApp, host: 'evil.example:80' }, 421, 'MisdirectedRequest'],
  ])('refuses a data request %s', async (_what, headers, status, code) => {
    seen.length = 0;
    const res = await send('POST', '/api/emergency-stop', headers, '{}');
    expect(res.status).toBe(status);
    expect(errorOf(res).error.code).toBe(code);
    expect(seen).toHaveLength(0);
  });

  it.each([
    ['https', () => `https://127.0.0.1:${port}`],
    ['another port', () => `http://127.0.0.1:${port + 1}`],
    ['another host on the same port', () => `http://localhost.evil.example:${port}`],
    ['a malformed origin', () => `http//127.0.0.1:${port}`],
  ])('refuses a data request whose Origin differs from the console\'s in its scheme, host or port (%s)', async (_what, origin) => {
    seen.length = 0;
    const res = await send('POST', '/api/emergency-stop', { ...fromApp, origin: origin() }, '{}');
    expect(res.status).toBe(403);
    expect(errorOf(res).error.code).toBe('CrossOriginRefused');
    expect(seen).toHaveLength(0);
  });

  it('accepts a data request from the console\'s own origin', async () => {
    seen.length = 0;
    const res = await send('GET', '/api/packs', { ...fromApp, origin: `http://127.0.0.1:${port}` });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('answers 504 in the API\'s error shape when the API is too slow', async () => {
    const res = await send('GET', '/api/health', fromApp);
    expect(res.status).toBe(504);
    expect(errorOf(res).error).toMatchObject({ code: 'UpstreamTimeout' });
    expect(errorOf(res).error.message).toContain('did not answer');
  });

  it.each([
    ['a body that is not JSON', '/api/statistics', 'GET', 502, 'UpstreamNotJson'],
    ['an error without the error shape', '/api/resume', 'POST', 503, 'UpstreamError'],
  ])('puts an API answer with %s into the error shape', async (_what, path, method, status, code) => {
    const res = await send(method, path, fromApp, method === 'POST' ? '' : undefined);
    expect(res.status).toBe(status);
    expect(errorOf(res).error.code).toBe(code);
  });

  it('keeps the Retry-After of a refusal', async () => {
    const res = await send('POST', '/api/resume', fromApp, '');
    expect(res.headers['retry-after']).toBe('30');
  });

  it('refuses a body larger than the console sends', async () => {
    const res = await send('POST', '/api/emergency-stop', { ...fromApp, 'content-type': 'application/json' }, JSON.stringify({ reason: 'x'.repeat(70_000) }));
    expect(res.status).toBe(413);
    expect(errorOf(res).error.code).toBe('PayloadTooLarge');
  });

  it('answers 502 in the error shape when the API cannot be reached', async () => {
    // Prepare: a console for an API that is not there
    const closed = await freePort();
    const lonely = await startConsoleServer({ target: targetFromEndpoints({ region: REGION, credentials: CREDENTIALS, api: `http://127.0.0.1:${closed}/v1` }) });
    try {
      const res = await new Promise<Answer>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: lonely.port, path: '/api/packs', headers: fromApp }, (r) => {
          let text = '';
          r.on('data', (c: Buffer) => { text += c.toString(); });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> }));
        });
        req.on('error', reject);
        req.end();
      });
      // Assess
      expect(res.status).toBe(502);
      expect(errorOf(res).error.code).toBe('UpstreamUnreachable');
    } finally {
      await lonely.stop();
    }
  });

  it('explains that execution histories are local only when it points at a deployed API', async () => {
    const deployed = await startConsoleServer({ target: { ...target, mode: 'deployed' } });
    try {
      const res = await new Promise<Answer>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: deployed.port, path: '/console/api/execution-history?executionArn=x', headers: fromApp }, (r) => {
          let text = '';
          r.on('data', (c: Buffer) => { text += c.toString(); });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(res.status).toBe(404);
      expect(errorOf(res).error.code).toBe('LocalHistoryUnavailable');
    } finally {
      await deployed.stop();
    }
  });

  it('gives the app its config and the taxonomy, and never a credential', async () => {
    const res = await send('GET', '/console/api/config', fromApp);
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ mode: 'offline', region: REGION, localHistory: false });
    expect((res.json()['taxonomy'] as Record<string, unknown>)['Gpu.OutOfMemory']).toMatchObject({ family: 'Gpu', recoverable: true, strategy: 'REDUCE_PARAMS' });
    expect(res.text).not.toContain(CREDENTIALS.secretAccessKey);
    expect(res.text).not.toContain(CREDENTIALS.accessKeyId);
  });
});

describe('a pack\'s lifecycle events', () => {
  const OTHER_PACK = '5b0d9a51-8a43-4f8e-9c1e-2f3a4b5c6d7e';
  const JOB_ID = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
  const putEvents = (url: string, details: Record<string, unknown>[]) => fetch(url, {
    method: 'POST', headers: { 'x-amz-target': 'AWSEvents.PutEvents', 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify({ Entries: details.map((d) => ({ Source: 'vto.pipeline', DetailType: String(d['type']), Detail: JSON.stringify(d) })) }),
    signal: AbortSignal.timeout(5000),
  });
  const get = async (p: number, path: string) => {
    const res = await fetch(`http://127.0.0.1:${p}${path}`, { headers: fromApp, signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };

  it('reads one pack\'s events from the local bus, in words, and then only the newer ones', async () => {
    // Prepare: a bus holding events of two packs
    const bus = await startLocalBus({ busName: 'vto-events', region: REGION, accountId: '000000000000' });
    const withBus = await startConsoleServer({ target: { ...target, eventsUrl: bus.url } });
    try {
      await putEvents(bus.url, [
        { type: 'pack.started', packId: PACK_ID },
        { type: 'pack.started', packId: OTHER_PACK },
        { type: 'job.recovered', packId: PACK_ID, jobId: JOB_ID, recovery: { error: 'Gpu.OutOfMemory', strategy: 'REDUCE_PARAMS' } },
        { type: 'job.failed', packId: PACK_ID, jobId: JOB_ID, error: { name: 'Fatal.DiskFull', cause: 'x' } },
      ]);
      // Act
      const first = await get(withBus.port, `/console/api/events?pack=${PACK_ID}`);
      await putEvents(bus.url, [{ type: 'pack.completed_with_failures', packId: PACK_ID, counts: { complete: 3, failed: 1, pending: 0 } }]);
      const newer = await get(withBus.port, `/console/api/events?pack=${PACK_ID}&after=${String(first.body['next'])}`);
      // Assess
      expect(first.status).toBe(200);
      expect((first.body['events'] as { type: string; jobId?: string; note: string }[]).map(({ type, jobId, note }) => ({ type, jobId, note }))).toEqual([
        { type: 'pack.started', jobId: undefined, note: '' },
        { type: 'job.recovered', jobId: JOB_ID, note: 'Gpu.OutOfMemory by REDUCE_PARAMS' },
        { type: 'job.failed', jobId: JOB_ID, note: 'Fatal.DiskFull' },
      ]);
      expect((first.body['events'] as { time: string }[])[0]!.time).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      expect(newer.body['events']).toMatchObject([{ type: 'pack.completed_with_failures', note: 'complete 3, failed 1' }]);
    } finally {
      await withBus.stop();
      await bus.stop();
    }
  });

  it.each([
    ['no pack', '', 'query.pack'],
    ['a pack id that is not a UUID', '?pack=..%2F..%2Fadmin', 'query.pack'],
    ['a sequence number that is not one', `?pack=${PACK_ID}&after=-1`, 'query.after'],
    ['a URL of the caller\'s', `?pack=${PACK_ID}&url=http://169.254.169.254/`, 'query.url'],
  ])('refuses %s with a 400 naming the field', async (_what, query, field) => {
    const withBus = await startConsoleServer({ target: { ...target, eventsUrl: 'http://127.0.0.1:1' } });
    try {
      const res = await get(withBus.port, `/console/api/events${query}`);
      expect(res.status).toBe(400);
      const error = (res.body as ReturnType<typeof errorOf>).error;
      expect(error.code).toBe('ValidationFailed');
      expect(error.issues?.map((i) => i.path)).toContain(field);
    } finally {
      await withBus.stop();
    }
  });

  it('answers 502 in the error shape when the local bus cannot be reached', async () => {
    const closed = await freePort();
    const withBus = await startConsoleServer({ target: { ...target, eventsUrl: `http://127.0.0.1:${closed}` } });
    try {
      const res = await get(withBus.port, `/console/api/events?pack=${PACK_ID}`);
      expect(res.status).toBe(502);
      expect((res.body as ReturnType<typeof errorOf>).error.code).toBe('UpstreamUnreachable');
    } finally {
      await withBus.stop();
    }
  });

  it('says where the events are when there is no local bus (a deployed stack)', async () => {
    const res = await send('GET', `/console/api/events?pack=${PACK_ID}`, fromApp);
    const config = await send('GET', '/console/api/config', fromApp);
    expect(res.status).toBe(404);
    expect(errorOf(res).error.code).toBe('LocalEventsUnavailable');
    expect(errorOf(res).error.message).toContain('EventBridge bus');
    expect(config.json()['localEvents']).toBe(false);
  });
});

describe('vto console', () => {
  it.each([
    ['an endpoint without a region', { endpoint: 'https://api.example.com/v1' }, UsageError, /--region/],
    ['an endpoint that is not a URL', { endpoint: 'file:///etc/passwd', region: 'eu-west-1' }, UsageError, /http\(s\) URL/],
    ['both targets', { endpoints: 'x.json', endpoint: 'https://a.example/v1', region: 'eu-west-1' }, UsageError, /not both/],
    ['no offline stack', { endpoints: '/nonexistent/endpoints.json' }, NoStackError, /npm start -- --serve/],
  ])('refuses %s with an error that says what to do', (_what, opts, kind, message) => {
    expect(() => consoleTarget(opts, {})).toThrow(kind);
    expect(() => consoleTarget(opts, {})).toThrow(message);
  });

  it('points a deployed console at the API, signed with the credential chain, with images from S3 and no local history', () => {
    const deployed = consoleTarget({ endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1/' }, {});
    expect(deployed).toMatchObject({ mode: 'deployed', apiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1', region: 'eu-west-1', imageOrigins: ['https://*.amazonaws.com'] });
    expect(deployed.stepFunctionsUrl).toBeUndefined();
  });

  it.each([['-1'], ['65536'], ['80a']])('refuses the port %s', (p) => {
    expect(() => parsePort(p)).toThrow(UsageError);
  });

  it('prints the console URL, serves it, and stops when told', async () => {
    // Prepare
    const lines: string[] = [];
    let stop = () => undefined as void;
    const until = new Promise<void>((resolve) => { stop = resolve; });
    const file = `${process.env['TMPDIR'] ?? '/tmp'}/vto-console-test-${process.pid}.json`;
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(file, JSON.stringify({ region: REGION, credentials: CREDENTIALS, api: upstream.url, stepFunctions: 'http://127.0.0.1:1', events: 'http://127.0.0.1:3', s3: 'http://127.0.0.1:2' }));
    try {
      // Act
      const running = runConsole({ endpoints: file, port: '0' }, { out: (s) => lines.push(s), err: () => undefined, until, env: {} });
      await expect.poll(() => lines.length).toBe(1);
      const url = lines[0]!.trim();
      const page = await fetch(url);
      const config = await (await fetch(`${url}console/api/config`, { headers: fromApp })).json() as Record<string, unknown>;
      stop();
      await running;
      // Assess
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain('img-src \'self\' http://127.0.0.1:2');
      expect(config).toMatchObject({ mode: 'offline', localHistory: true, localEvents: true });
      await expect(fetch(url)).rejects.toThrow();
    } finally {
      rmSync(file, { force: true });
    }
  });
});
