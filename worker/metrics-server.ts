/**
 * The worker's small HTTP server: GET /metrics (Prometheus text) and GET /healthz.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Health {
  /** starting: waiting for ComfyUI; warming: running the warm-up prompt; ok: polling. */
  readonly status: 'starting' | 'warming' | 'ok' | 'draining' | 'stopped';
  /** Messages held: running, prefetched, or finishing (outputs, answer). */
  readonly busy: number;
  /** Prompts this worker keeps on ComfyUI at once: the running one and the prefetched. */
  readonly slots: number;
  /** Seconds since the worker last held a message (or started polling); null while it holds one. A scaler stops only idle workers. */
  readonly idleSeconds: number | null;
  /** Seconds since the worker started. */
  readonly uptime: number;
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(o: { registry: Registry; health: () => Health; host: string; port: number }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      o.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e)),
      );
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(o.health()));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
