/**
 * The local gateway authorises like an IAM-authorised API Gateway stage: only requests
 * signed with SigV4 (service execute-api, this region, a known key) over exactly what is
 * sent reach the handler; every other one is refused with API Gateway's 403 messages.
 */
import { connect } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest, signedFetch, type SigningCredentials } from '../../client/signed-fetch.ts';
import { startLocalApi, type LocalApi } from '../../local/api-server.ts';

const REGION = 'eu-west-1';
const KEY: SigningCredentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

let api: LocalApi;
let corsApi: LocalApi;
const seen: APIGatewayProxyEvent[] = [];

beforeAll(async () => {
  // A handler that only records: whatever reaches it passed the gateway.
  const handler = async (event: APIGatewayProxyEvent) => {
    seen.push(event);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: true }) };
  };
  api = await startLocalApi({ handler, region: REGION, credentials: KEY });
  corsApi = await startLocalApi({ handler, region: REGION, credentials: KEY, corsOrigins: ['https://console.example'] });
});
afterAll(async () => {
  await api?.stop();
  await corsApi?.stop();
});

const signed = (path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}, o: { credentials?: SigningCredentials; region?: string; service?: string; signingDate?: Date } = {}) =>
  signedFetch(`${api.url}${path}`, { ...init, headers: { ...(init.body !== undefined && { 'content-type': 'application/json' }), ...init.headers } }, {
    credentials: o.credentials ?? KEY, region: o.region ?? REGION, ...(o.service !== undefined && { service: o.service }), ...(o.signingDate !== undefined && { signingDate: o.signingDate }),
  });

/** Sends raw bytes to the server and returns all it answers before closing. */
function rawHttp(port: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(text));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
  });
}

async function refusal(res: Response) {
  const body = (await res.json()) as { message: string; error: { code: string; message: string }; requestId: string };
  return { status: res.status, ...body };
}

/** Runs `act` and tells whether a request reached the handler. */
async function reached(act: () => Promise<Response>): Promise<{ res: Response; reached: boolean }> {
  const before = seen.length;
  const res = await act();
  return { res, reached: seen.length > before };
}

describe('requests that reach the handler', () => {
  it('passes a signed GET through as a REST proxy event with the route, identity and stage', async () => {
    const { res, reached: r } = await reached(() => signed('/packs/0b5c7e0e-1111-4a4a-8b8b-123456789abc/jobs?status=failed&limit=5'));
    expect(res.status).toBe(200);
    expect(r).toBe(true);
    const e = seen.at(-1)!;
    expect(e).toMatchObject({
      resource: '/packs/{id}/jobs', path: '/packs/0b5c7e0e-1111-4a4a-8b8b-123456789abc/jobs', httpMethod: 'GET',
      pathParameters: { id: '0b5c7e0e-1111-4a4a-8b8b-123456789abc' },
      queryStringParameters: { status: 'failed', limit: '5' }, isBase64Encoded: false, body: null,
      requestContext: { stage: 'v1', path: '/v1/packs/0b5c7e0e-1111-4a4a-8b8b-123456789abc/jobs', identity: { accessKey: KEY.accessKeyId } },
    });
    expect(e.requestContext.requestId).toBe(res.headers.get('x-amzn-requestid'));
  });

  it('passes a signed POST with its JSON body', async () => {
    const { res, reached: r } = await reached(() => signed('/packs', { method: 'POST', body: '{"name":"ß 😀"}' }));
    expect(res.status).toBe(200);
    expect(r).toBe(true);
    expect(seen.at(-1)?.body).toBe('{"name":"ß 😀"}');
  });

  it('passes a path parameter that needs percent-encoding, decoded', async () => {
    const { res } = await reached(() => signed(`/jobs/${encodeURIComponent('a b/ü')}`));
    expect(res.status).toBe(200);
    expect(seen.at(-1)?.pathParameters).toEqual({ id: 'a b/ü' });
  });
});

describe('requests refused before the handler', () => {
  it('refuses an unsigned request with 403 Missing Authentication Token', async () => {
    const { res, reached: r } = await reached(() => fetch(`${api.url}/health`));
    const body = await refusal(res);
    expect(body).toMatchObject({ status: 403, message: 'Missing Authentication Token', error: { code: 'MISSING_AUTHENTICATION_TOKEN', message: 'Missing Authentication Token' } });
    expect(r).toBe(false);
  });

  it('refuses a request signed with the wrong secret with 403 signature mismatch', async () => {
    const { res, reached: r } = await reached(() => signed('/health', {}, { credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: 'guessed' } }));
    const body = await refusal(res);
    expect(body.status).toBe(403);
    expect(body.message).toMatch(/^The request signature we calculated does not match the signature you provided/);
    expect(r).toBe(false);
  });

  it('refuses an unknown access key with 403 invalid security token', async () => {
    const body = await refusal(await signed('/health', {}, { credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } }));
    expect(body).toMatchObject({ status: 403, message: 'The security token included in the request is invalid.', error: { code: 'UNAUTHORIZED_CLIENT' } });
  });

  it.each([
    ['another region', { region: 'us-west-2' }, /scoped to a valid region/],
    ['another service', { service: 's3' }, /scoped to correct service: 'execute-api'/],
    ['a time 10 minutes ago', { signingDate: new Date(Date.now() - 10 * 60_000) }, /^Signature expired/],
    ['a time 10 minutes ahead', { signingDate: new Date(Date.now() + 10 * 60_000) }, /^Signature not yet current/],
  ])('refuses a signature for %s', async (_name, o, message) => {
    const { res, reached: r } = await reached(() => signed('/health', {}, o));
    const body = await refusal(res);
    expect(body.status).toBe(403);
    expect(body.message).toMatch(message);
    expect(r).toBe(false);
  });

  it('words a signature from 15 minutes ahead as AWS does: not yet current', async () => {
    const { res, reached: r } = await reached(() => signed('/health', {}, { signingDate: new Date(Date.now() + 15 * 60_000) }));
    const body = await refusal(res);
    expect(body).toMatchObject({ status: 403, error: { code: 'INVALID_SIGNATURE' } });
    const m = /^Signature not yet current: (\d{8}T\d{6}Z) is still later than (\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) \+ 5 min\.\)$/.exec(body.message);
    expect(m, body.message).not.toBeNull();
    const at = (s: string) => Date.parse(s.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    expect(at(m![2]!) - at(m![3]!)).toBe(5 * 60_000);
    expect(r).toBe(false);
  });

  it('words a signature from 15 minutes ago as AWS does: expired', async () => {
    const body = await refusal(await signed('/health', {}, { signingDate: new Date(Date.now() - 15 * 60_000) }));
    expect(body.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
  });

  it.each([
    ['its hex signature in upper case', (a: string) => a.replace(/Signature=([0-9a-f]+)$/, (_m, hex: string) => `Signature=${hex.toUpperCase()}`)],
    ['its SignedHeaders in upper case', (a: string) => a.replace(/SignedHeaders=([^,]+)/, (_m, names: string) => `SignedHeaders=${names.toUpperCase()}`)],
  ])('refuses a valid signature with %s, as API Gateway does', async (_name, alter) => {
    const s = await signRequest(`${api.url}/health`, {}, { credentials: KEY, region: REGION });
    const { host: _h, authorization, ...headers } = s.headers;
    const altered = alter(authorization!);
    expect(altered).not.toBe(authorization);
    const { res, reached: r } = await reached(() => fetch(`${api.url}/health`, { headers: { ...headers, authorization: altered } }));
    const body = await refusal(res);
    expect(body.status).toBe(403);
    expect(body.message).toMatch(/^The request signature we calculated does not match/);
    expect(r).toBe(false);
  });

  it('refuses a request with two Host headers with 400 (RFC 9112), even when the first one was signed', async () => {
    const s = await signRequest(`${api.url}/health`, {}, { credentials: KEY, region: REGION });
    const lines = Object.entries(s.headers).map(([k, v]) => `${k}: ${v}`);
    const before = seen.length;
    // Act: raw HTTP, since fetch cannot send a header twice.
    const answer = await rawHttp(new URL(api.url).port, [`GET ${new URL(api.url).pathname}/health HTTP/1.1`, ...lines, 'host: evil.example', 'connection: close', '', ''].join('\r\n'));
    // Assess
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(seen.length).toBe(before);
  });

  interface Sent { method?: string; path?: string; body?: string }
  it.each<[string, Sent, Sent]>([
    ['body', { body: '{"name":"a"}' }, { body: '{"name":"b"}' }],
    ['query', { path: '/packs?limit=1' }, { path: '/packs?limit=2' }],
    ['path', { method: 'GET', path: '/jobs/0b5c7e0e-1111-4a4a-8b8b-123456789abc' }, { method: 'GET', path: '/jobs/0b5c7e0e-1111-4a4a-8b8b-123456789abd' }],
    ['method', { method: 'GET', path: '/packs' }, { method: 'POST', path: '/packs', body: '{}' }],
  ])('refuses a request whose %s changed after signing', async (_name, signedAs, sentAs) => {
    // Prepare: sign one request, send another under its signature.
    const path = signedAs.path ?? '/packs';
    const method = signedAs.method ?? 'POST';
    const s = await signRequest(`${api.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(signedAs.body !== undefined && { body: signedAs.body }) }, { credentials: KEY, region: REGION });
    const { host: _h, ...headers } = s.headers;
    // Act
    const { res, reached: r } = await reached(() => fetch(`${api.url}${sentAs.path ?? path}`, {
      method: sentAs.method ?? method, headers, ...(sentAs.body !== undefined && { body: sentAs.body }),
    }));
    // Assess
    const body = await refusal(res);
    expect(body.status).toBe(403);
    expect(body.message).toMatch(/^The request signature we calculated does not match/);
    expect(r).toBe(false);
  });

  it('refuses a request missing a header it signed', async () => {
    const s = await signRequest(`${api.url}/health`, { headers: { 'x-vto-trace': 'abc' } }, { credentials: KEY, region: REGION });
    const { host: _h, 'x-vto-trace': _t, ...headers } = s.headers;
    const body = await refusal(await fetch(`${api.url}/health`, { headers }));
    expect(body.status).toBe(403);
    expect(body.message).toMatch(/does not match/);
  });

  it('refuses a signed payload hash that is not the body\'s', async () => {
    const s = await signRequest(`${api.url}/packs`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, { credentials: KEY, region: REGION });
    const { host: _h, ...headers } = s.headers;
    const body = await refusal(await fetch(`${api.url}/packs`, { method: 'POST', headers, body: '{"a":2}' }));
    expect(body.status).toBe(403);
  });

  it('refuses an Authorization header that is not SigV4', async () => {
    const body = await refusal(await fetch(`${api.url}/health`, { headers: { authorization: 'Bearer abc.def' } }));
    expect(body.status).toBe(403);
    expect(body.message).toMatch(/Authorization header requires 'Credential' parameter/);
  });

  it.each([
    ['an unknown route', 'GET', '/admin'],
    ['a known path with another method', 'PUT', '/packs'],
    ['a path outside the stage', 'GET', '/../health'],
    ['the stage root', 'GET', ''],
  ])('answers %s, signed, with 403 Missing Authentication Token as API Gateway does', async (_name, method, path) => {
    const { res, reached: r } = await reached(() => signed(path, { method }));
    expect(await refusal(res)).toMatchObject({ status: 403, message: 'Missing Authentication Token' });
    expect(r).toBe(false);
  });

  it('refuses a non-JSON body on a route that takes one with 415', async () => {
    const { res, reached: r } = await reached(() => signed('/packs', { method: 'POST', body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
    expect(await refusal(res)).toMatchObject({ status: 415, error: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
    expect(r).toBe(false);
  });
});

describe('CORS', () => {
  it('answers no preflight when no origin is configured', async () => {
    const res = await fetch(`${api.url}/packs`, { method: 'OPTIONS', headers: { origin: 'https://console.example', 'access-control-request-method': 'GET' } });
    expect(res.status).toBe(403);
  });

  it('answers a preflight from a configured origin, unsigned as browsers send it, and refuses other origins', async () => {
    const ok = await fetch(`${corsApi.url}/packs`, { method: 'OPTIONS', headers: { origin: 'https://console.example', 'access-control-request-method': 'GET' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://console.example');
    const other = await fetch(`${corsApi.url}/packs`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('a handler that throws', () => {
  it('is a 502 Internal server error at the gateway, as a failed Lambda integration is', async () => {
    const failing = await startLocalApi({ handler: async () => { throw new Error('the Lambda failed'); }, region: REGION, credentials: KEY });
    try {
      const res = await signedFetch(`${failing.url}/packs`, {}, { credentials: KEY, region: REGION });

      expect(await refusal(res)).toMatchObject({ status: 502, message: 'Internal server error', error: { code: 'INTEGRATION_FAILURE' } });
    } finally {
      await failing.stop();
    }
  });
});
