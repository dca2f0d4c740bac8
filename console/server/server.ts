/**
 * The operator console's server: node:http on 127.0.0.1. It serves the static app,
 * forwards /api/* to the API signed with the operator's credentials (proxy.ts), and
 * answers routes of its own under /console/api/: the app's config and, offline, an
 * execution's history from the local Step Functions endpoint and a pack's lifecycle
 * events from the local event bus. Every answer carries the
 * security headers; every refusal has the API's error shape.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appConfig } from './app-config.ts';
import { ConsoleError } from './errors.ts';
import { historyReader } from './execution-history.ts';
import { sendError, sendJson } from './http-io.ts';
import { NO_LOCAL_EVENTS, packEventsReader } from './pack-events.ts';
import { DEFAULT_PROXY_LIMITS, proxyApi, type ProxyLimits } from './proxy.ts';
import { allowedHosts, checkHost, checkSameOrigin, securityHeaders } from './security.ts';
import { staticFiles } from './static-files.ts';
import type { ConsoleTarget } from './target.ts';

export interface ConsoleServerOptions {
  readonly target: ConsoleTarget;
  /** @default 0 (a free port) */
  readonly port?: number;
  readonly limits?: Partial<ProxyLimits>;
  /** The app's folder. @default console/app */
  readonly appDir?: string;
}

export interface ConsoleServer {
  /** e.g. http://127.0.0.1:4780/ */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** Where `vto console` listens unless told otherwise. */
export const DEFAULT_CONSOLE_PORT = 4780;

export async function startConsoleServer(o: ConsoleServerOptions): Promise<ConsoleServer> {
  const limits: ProxyLimits = { ...DEFAULT_PROXY_LIMITS, ...o.limits };
  const files = staticFiles(o.appDir);
  const history = historyReader(o.target, limits.readTimeoutMs);
  const events = packEventsReader(o.target, limits.readTimeoutMs);
  const headers = securityHeaders(o.target.imageOrigins);
  const config = JSON.stringify(appConfig(o.target));
  let hosts = new Set<string>();

  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    checkHost(req, hosts);
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const search = q < 0 ? '' : raw.slice(q);

    if (path.startsWith('/api/')) {
      checkSameOrigin(req);
      await proxyApi(req, res, { apiPath: path.slice('/api'.length), search, target: o.target, limits, requestId, headers });
      return;
    }
    if (path.startsWith('/console/api/')) {
      checkSameOrigin(req);
      if (method !== 'GET') throw new ConsoleError(405, 'MethodNotAllowed', `${method} is not allowed on ${path}; allowed: GET.`, { headers: { allow: 'GET' } });
      if (path === '/console/api/config') return sendJson(res, 200, config, headers);
      if (path === '/console/api/execution-history') {
        if (history === undefined) {
          throw new ConsoleError(404, 'LocalHistoryUnavailable', 'Execution histories are read from the local Step Functions endpoint, offline only; open the execution in the AWS Step Functions console.');
        }
        const arn = new URLSearchParams(search).get('executionArn') ?? '';
        return sendJson(res, 200, JSON.stringify(await history.read(arn)), headers);
      }
      if (path === '/console/api/events') {
        if (events === undefined) throw new ConsoleError(404, 'LocalEventsUnavailable', NO_LOCAL_EVENTS);
        return sendJson(res, 200, JSON.stringify(await events.read(search.slice(1))), headers);
      }
      throw new ConsoleError(404, 'NotFound', `The console has no route ${path.slice(0, 200)}.`);
    }
    if (method !== 'GET' && method !== 'HEAD') throw new ConsoleError(405, 'MethodNotAllowed', `${method} is not allowed on ${path.slice(0, 200)}; allowed: GET, HEAD.`, { headers: { allow: 'GET, HEAD' } });
    const file = files.get(path);
    if (file === undefined) throw new ConsoleError(404, 'NotFound', `The console has no file ${path.slice(0, 200)}.`);
    res.writeHead(200, { ...headers, 'content-type': file.type, 'content-length': String(file.body.length), 'cache-control': 'no-cache' });
    res.end(method === 'HEAD' ? undefined : file.body);
  };

  const server = createServer((req, res) => {
    const requestId = `console-${randomUUID()}`;
    handle(req, res, requestId).catch((e: unknown) => {
      const err = e instanceof ConsoleError ? e : new ConsoleError(500, 'ConsoleInternalError', `The console server failed: ${(e as Error).message ?? String(e)}`);
      if (!(e instanceof ConsoleError)) process.stderr.write(`vto console: ${requestId}: ${(e as Error).stack ?? String(e)}\n`);
      sendError(res, err, requestId, headers);
    });
  });
  // Slow clients cannot hold sockets for ever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(port);
  return {
    url: `http://${HOST}:${port}/`,
    port,
    stop: () => new Promise<void>((resolve) => {
      history?.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
