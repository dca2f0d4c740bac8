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
import { lambdaContext } from './lambda-context.ts';
import { BodyTooLargeError, readBody } from './http.ts';

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

/** A refusal of the gateway itself, before or instead of the Lambda: its status and error type. */
interface Refusal {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

const REFUSED = {
  repeatedHost: { status: 400, type: 'DEFAULT_4XX', message: 'Bad Request: more than one Host header' },
  tooLarge: { status: 413, type: 'REQUEST_TOO_LARGE', message: 'Request Too Long' },
  // API Gateway answers an unknown resource or method like an unsigned request.
  noRoute: { status: 403, type: 'MISSING_AUTHENTICATION_TOKEN', message: 'Missing Authentication Token' },
  notJson: { status: 415, type: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported Media Type' },
  // A Lambda that throws is a 502 at API Gateway.
  lambdaFailed: { status: 502, type: 'INTEGRATION_FAILURE', message: 'Internal server error' },
} as const satisfies Record<string, Refusal>;

/** One request as the gateway sees it on arrival. */
interface Arrival {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly arrived: number;
  readonly requestId: string;
  readonly method: string;
  readonly rawPath: string;
  readonly search: URLSearchParams;
  readonly headers: Record<string, string>;
  readonly origin: string | undefined;
  /** CORS headers for an allowed origin; {} otherwise. */
  readonly corsFor: Record<string, string>;
}

/** The REST proxy event (v1) API Gateway builds for a matched, authorized request. */
interface EventParts {
  readonly a: Arrival;
  readonly stage: string;
  readonly accountId: string;
  readonly path: string;
  readonly route: RouteSpec;
  readonly pathParameters: Record<string, string>;
  readonly accessKeyId: string;
  readonly body: Buffer;
}

function proxyEvent({ a, stage, accountId, path, route, pathParameters, accessKeyId, body }: EventParts): APIGatewayProxyEvent {
  const { req, headers, method, requestId } = a;
  const utf8 = utf8OrUndefined(body);
  const now = new Date();
  const eventHeaders = {
    ...headers,
    'x-forwarded-proto': 'http',
    'x-forwarded-for': req.socket.remoteAddress ?? '127.0.0.1',
    'x-forwarded-port': String(req.socket.localPort ?? ''),
    'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
  };
  const params = Object.entries(pathParameters).map(([k, v]) => [k, decodeSegment(v)] as const);
  const query = queryParams(a.search);
  return {
    resource: route.path,
    path,
    httpMethod: method,
    headers: eventHeaders,
    multiValueHeaders: Object.fromEntries(Object.entries(eventHeaders).map(([k, v]) => [k, [v]])),
    queryStringParameters: query.single,
    multiValueQueryStringParameters: query.multi,
    pathParameters: params.length > 0 ? Object.fromEntries(params) : null,
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
      path: `/${stage}${path}`,
      stage,
      requestId,
      requestTimeEpoch: now.getTime(),
      resourceId: 'local',
      resourcePath: route.path,
      domainName: headers['host'] ?? '127.0.0.1',
      identity: {
        accessKey: accessKeyId,
        accountId,
        apiKey: null,
        apiKeyId: null,
        caller: accessKeyId,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        user: accessKeyId,
        userAgent: headers['user-agent'] ?? null,
        userArn: `arn:aws:iam::${accountId}:user/${accessKeyId}`,
      },
    },
  };
}

function utf8OrUndefined(body: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

const CORS_PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'GET,POST,DELETE,OPTIONS',
  'access-control-allow-headers': 'authorization,content-type,idempotency-key,x-amz-date,x-amz-security-token,x-amz-content-sha256',
  'access-control-max-age': '600',
};

/** The gateway's settings and its request pipeline: refusals in the order API Gateway makes them, then the Lambda. */
class LocalGateway {
  readonly #o: LocalApiOptions;
  readonly #stage: string;
  readonly #accountId: string;
  readonly #credentials: readonly VerifierCredentials[];
  readonly #maxBody: number;
  readonly #cors: ReadonlySet<string>;

  constructor(o: LocalApiOptions) {
    this.#o = o;
    this.#stage = o.stage ?? 'v1';
    this.#accountId = o.accountId ?? '000000000000';
    this.#credentials = Array.isArray(o.credentials) ? o.credentials : [o.credentials as VerifierCredentials];
    this.#maxBody = o.maxBodyBytes ?? GATEWAY_MAX_BODY_BYTES;
    this.#cors = new Set(o.corsOrigins ?? []);
  }

  get stage(): string {
    return this.#stage;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const a = this.#arrival(req, res);
    if (hasRepeatedHost(req.rawHeaders)) {
      req.resume();
      return refuse(a, REFUSED.repeatedHost, { ...a.corsFor, connection: 'close' });
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.#maxBody);
    } catch (e) {
      if (e instanceof BodyTooLargeError) return refuse(a, REFUSED.tooLarge, a.corsFor);
      throw e;
    }
    const stagePrefix = `/${this.#stage}`;
    // Resources match on the path as sent; a parameter is one segment even if it holds %2F.
    const path = a.rawPath === stagePrefix ? '/' : a.rawPath.startsWith(`${stagePrefix}/`) ? a.rawPath.slice(stagePrefix.length) : undefined;
    if (a.method === 'OPTIONS' && this.#cors.size > 0 && path !== undefined && matchRoute('GET', path) !== undefined) return this.#preflight(a);
    const match = path === undefined ? undefined : matchRoute(a.method, path);
    if (path === undefined || match === undefined || !('operationId' in match)) return refuse(a, REFUSED.noRoute, a.corsFor);
    const verdict = await verifySigV4(
      { method: a.method, rawPath: a.rawPath, query: queryParams(a.search).signing, headers: a.headers, body },
      { region: this.#o.region, service: 'execute-api', credentials: this.#credentials },
    );
    if (!verdict.ok) return refuse(a, { status: 403, type: verdict.type, message: verdict.message }, a.corsFor);
    const route: RouteSpec = ROUTES[match.operationId];
    if (route.body !== undefined && body.length > 0 && !isJsonContentType(a.headers['content-type'])) return refuse(a, REFUSED.notJson, a.corsFor);
    const event = proxyEvent({ a, stage: this.#stage, accountId: this.#accountId, path, route, pathParameters: match.pathParameters, accessKeyId: verdict.accessKeyId, body });
    await this.#invoke(a, event);
  }

  #arrival(req: IncomingMessage, res: ServerResponse): Arrival {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const headers = flatHeaders(req.headers);
    const origin = headers['origin'];
    return {
      req, res,
      arrived: performance.now(),
      requestId: randomUUID(),
      method: (req.method ?? 'GET').toUpperCase(),
      rawPath: q < 0 ? rawUrl : rawUrl.slice(0, q),
      search: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)),
      headers,
      origin,
      corsFor: origin !== undefined && this.#cors.has(origin) ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {},
    };
  }

  /** An unsigned CORS preflight, as browsers send it: answered for allowed origins only. */
  #preflight(a: Arrival): void {
    if (a.origin === undefined || !this.#cors.has(a.origin)) return refuse(a, REFUSED.noRoute);
    a.res.writeHead(204, { ...a.corsFor, ...CORS_PREFLIGHT_HEADERS });
    a.res.end();
  }

  async #invoke(a: Arrival, event: APIGatewayProxyEvent): Promise<void> {
    let result: APIGatewayProxyResult;
    const invoked = performance.now();
    try {
      result = await this.#o.handler(event, lambdaContext({
        functionName: 'vto-api',
        functionArn: `arn:aws:lambda:${this.#o.region}:${this.#accountId}:function:vto-api`,
        deadline: Date.now() + (this.#o.timeoutSeconds ?? 29) * 1000,
      }));
    } catch {
      return refuse(a, REFUSED.lambdaFailed, a.corsFor);
    }
    const out = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
    const resultHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(result.headers ?? {})) resultHeaders[k] = String(v);
    a.res.writeHead(result.statusCode, { ...resultHeaders, 'x-amzn-requestid': a.requestId, 'content-length': String(out.length), ...serverTiming(a.arrived, invoked) });
    a.res.end(out);
  }
}

/** A gateway refusal with the body the CDK gateway responses give: {"message", "error": {"code", "message"}, "requestId"}. */
function refuse(a: Arrival, { status, type, message }: Refusal, headers: Record<string, string> = {}): void {
  a.res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': a.requestId, 'x-amzn-errortype': type, ...headers });
  a.res.end(JSON.stringify({ message, error: { code: type, message }, requestId: a.requestId }));
}

export async function startLocalApi(o: LocalApiOptions): Promise<LocalApi> {
  const gateway = new LocalGateway(o);
  const server: Server = createServer((req, res) => {
    gateway.handle(req, res).catch(() => {
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
    url: `http://127.0.0.1:${port}/${gateway.stage}`,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
