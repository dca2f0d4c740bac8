/**
 * A local API Gateway for the REST API: a node:http server on 127.0.0.1 that does what
 * the deployed stage does before the Lambda runs — refuse a repeated Host (400), match the
 * resource (unknown routes get 403 Missing Authentication Token), verify the SigV4
 * signature (IAM authorization), refuse oversize bodies (413) and non-JSON bodies (415) —
 * then turns the request into a REST proxy event (v1), invokes the same handler in process
 * with a Lambda-like context, and writes its answer back. Gateway refusals have the body the CDK gateway responses
 * give them: {"message", "error": {"code", "message"}, "requestId"}.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { GATEWAY_MAX_BODY_BYTES } from '../lambdas/api/limits.ts';
import { isJsonContentType } from '../lambdas/api/request.ts';
import { ROUTES, matchRoute, type RouteSpec } from '../lambdas/api/spec.ts';
import { flatHeaders, hasRepeatedHost, verifySigV4, type VerifierCredentials } from './sigv4-verify.ts';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface LocalApiOptions {
  /** The API's Lambda handler (lambdas/api/handler.ts `handler`). */
  readonly handler: ProxyHandler;
  readonly region: string;
  /** Accepted signers (the offline stack's local access key and secret). */
  readonly credentials: VerifierCredentials | readonly VerifierCredentials[];
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default 'v1' */
  readonly stage?: string;
  /** @default 10 MiB, API Gateway's payload cap */
  readonly maxBodyBytes?: number;
  /** Browser origins answered on CORS preflight (OPTIONS, unsigned as browsers send it). @default none */
  readonly corsOrigins?: readonly string[];
  /** Lambda timeout seen by the handler. @default 29 s, API Gateway's integration timeout */
  readonly timeoutSeconds?: number;
  readonly accountId?: string;
}

export interface LocalApi {
  /** Root URL including the stage, e.g. http://127.0.0.1:PORT/v1 (like an execute-api URL). */
  readonly url: string;
  stop(): Promise<void>;
}

class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      req.resume();
      reject(new BodyTooLarge());
      return;
    }
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function lambdaContext(functionName: string, timeoutSeconds: number, accountId: string, region: string): Context {
  const requestId = randomUUID();
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function queryParams(search: URLSearchParams): { single: Record<string, string> | null; multi: Record<string, string[]> | null; signing: Record<string, string | string[]> } {
  const multi: Record<string, string[]> = {};
  for (const [k, v] of search) (multi[k] ??= []).push(v);
  const keys = Object.keys(multi);
  if (keys.length === 0) return { single: null, multi: null, signing: {} };
  // API Gateway's queryStringParameters keeps the last value of a repeated name.
  const single = Object.fromEntries(keys.map((k) => [k, multi[k]!.at(-1)!]));
  const signing = Object.fromEntries(keys.map((k) => [k, multi[k]!.length === 1 ? multi[k]![0]! : multi[k]!]));
  return { single, multi, signing };
}

const decodeSegment = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

// ---------------------------------------------------------------- server timing
/**
 * Server-Timing of an answer the handler gave: `handler` is the Lambda handler's own time
 * (what the API's server-time figure measures, bench/api-latency.ts), `gateway` the whole
 * stay in this server (body read, SigV4 check, event building, handler). Local only: API
 * Gateway adds no such header.
 */
function serverTiming(arrived: number, invoked: number): { 'server-timing': string } {
  const now = performance.now();
  return { 'server-timing': `handler;dur=${(now - invoked).toFixed(2)}, gateway;dur=${(now - arrived).toFixed(2)}` };
}
// ----------------------------------------------------------------

export async function startLocalApi(o: LocalApiOptions): Promise<LocalApi> {
  const stage = o.stage ?? 'v1';
  const accountId = o.accountId ?? '000000000000';
  const credentials = Array.isArray(o.credentials) ? o.credentials : [o.credentials as VerifierCredentials];
  const maxBody = o.maxBodyBytes ?? GATEWAY_MAX_BODY_BYTES;
  const cors = new Set(o.corsOrigins ?? []);

  const gatewayRefusal = (res: ServerResponse, status: number, type: string, message: string, requestId: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': requestId, 'x-amzn-errortype': type, ...extra });
    res.end(JSON.stringify({ message, error: { code: type, message }, requestId }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const arrived = performance.now();
    const requestId = randomUUID();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const search = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    const method = (req.method ?? 'GET').toUpperCase();
    const headers = flatHeaders(req.headers);
    const origin = headers['origin'];
    const corsFor = origin !== undefined && cors.has(origin) ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {};

    if (hasRepeatedHost(req.rawHeaders)) {
      req.resume();
      return gatewayRefusal(res, 400, 'DEFAULT_4XX', 'Bad Request: more than one Host header', requestId, { ...corsFor, connection: 'close' });
    }
    let body: Buffer;
    try {
      body = await readBody(req, maxBody);
    } catch (e) {
      if (e instanceof BodyTooLarge) return gatewayRefusal(res, 413, 'REQUEST_TOO_LARGE', 'Request Too Long', requestId, corsFor);
      throw e;
    }
    const stagePrefix = `/${stage}`;
    // Resources match on the path as sent; a parameter is one segment even if it holds %2F.
    const path = rawPath === stagePrefix ? '/' : rawPath.startsWith(`${stagePrefix}/`) ? rawPath.slice(stagePrefix.length) : undefined;
    if (method === 'OPTIONS' && cors.size > 0 && path !== undefined && matchRoute('GET', path) !== undefined) {
      if (origin === undefined || !cors.has(origin)) return gatewayRefusal(res, 403, 'MISSING_AUTHENTICATION_TOKEN', 'Missing Authentication Token', requestId);
      res.writeHead(204, {
        ...corsFor,
        'access-control-allow-methods': 'GET,POST,DELETE,OPTIONS',
        'access-control-allow-headers': 'authorization,content-type,idempotency-key,x-amz-date,x-amz-security-token,x-amz-content-sha256',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    const match = path === undefined ? undefined : matchRoute(method, path);
    if (path === undefined || match === undefined || !('operationId' in match)) {
      // API Gateway answers an unknown resource or method like an unsigned request.
      return gatewayRefusal(res, 403, 'MISSING_AUTHENTICATION_TOKEN', 'Missing Authentication Token', requestId, corsFor);
    }
    const query = queryParams(search);
    const verdict = await verifySigV4(
      { method, rawPath, query: query.signing, headers, body },
      { region: o.region, service: 'execute-api', credentials },
    );
    if (!verdict.ok) return gatewayRefusal(res, 403, verdict.type, verdict.message, requestId, corsFor);

    const route: RouteSpec = ROUTES[match.operationId];
    if (route.body !== undefined && body.length > 0 && !isJsonContentType(headers['content-type'])) {
      return gatewayRefusal(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type', requestId, corsFor);
    }

    let utf8: string | undefined;
    try {
      utf8 = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      utf8 = undefined;
    }
    const now = new Date();
    const eventHeaders = {
      ...headers,
      'x-forwarded-proto': 'http',
      'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1',
      'x-forwarded-port': String(req.socket.localPort ?? ''),
      'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
    };
    const params = Object.entries(match.pathParameters).map(([k, v]) => [k, decodeSegment(v)] as const);
    const pathParameters = params.length > 0 ? Object.fromEntries(params) : null;
    const event: APIGatewayProxyEvent = {
      resource: route.path,
      path,
      httpMethod: method,
      headers: eventHeaders,
      multiValueHeaders: Object.fromEntries(Object.entries(eventHeaders).map(([k, v]) => [k, [v]])),
      queryStringParameters: query.single,
      multiValueQueryStringParameters: query.multi,
      pathParameters,
      stageVariables: null,
      // Text as text; bytes that are not UTF-8 are passed as base64 so nothing is lost in a lossy decode.
      body: body.length === 0 ? null : utf8 ?? body.toString('base64'),
      isBase64Encoded: body.length > 0 && utf8 === undefined,
      requestContext: {
        accountId,
        apiId: 'local',
        authorizer: null,
        protocol: 'HTTP/1.1',
        httpMethod: method,
        path: `${stagePrefix}${path}`,
        stage,
        requestId,
        requestTimeEpoch: now.getTime(),
        resourceId: 'local',
        resourcePath: route.path,
        domainName: headers['host'] ?? '127.0.0.1',
        identity: {
          accessKey: verdict.accessKeyId,
          accountId,
          apiKey: null,
          apiKeyId: null,
          caller: verdict.accessKeyId,
          clientCert: null,
          cognitoAuthenticationProvider: null,
          cognitoAuthenticationType: null,
          cognitoIdentityId: null,
          cognitoIdentityPoolId: null,
          principalOrgId: null,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          user: verdict.accessKeyId,
          userAgent: headers['user-agent'] ?? null,
          userArn: `arn:aws:iam::${accountId}:user/${verdict.accessKeyId}`,
        },
      },
    };
    let result: APIGatewayProxyResult;
    const invoked = performance.now();
    try {
      result = await o.handler(event, lambdaContext('vto-api', o.timeoutSeconds ?? 29, accountId, o.region));
    } catch {
      // A Lambda that throws is a 502 at API Gateway.
      return gatewayRefusal(res, 502, 'INTEGRATION_FAILURE', 'Internal server error', requestId, corsFor);
    }
    const out = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
    const resultHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(result.headers ?? {})) resultHeaders[k] = String(v);
    res.writeHead(result.statusCode, { ...resultHeaders, 'x-amzn-requestid': requestId, 'content-length': String(out.length), ...serverTiming(arrived, invoked) });
    res.end(out);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal server error', error: { code: 'DEFAULT_5XX', message: 'Internal server error' }, requestId: '' }));
      } else {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${stage}`,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
