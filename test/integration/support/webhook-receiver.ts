/**
 * A webhook receiver as an app would write one: it verifies Vto-Signature itself (HMAC
 * SHA-256 of "<t>.<raw body>" with the shared secret, constant-time compare, 5-minute
 * tolerance), remembers every request, and answers each path with a scripted status.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly path: string;
  readonly at: number;
  readonly deliveryId: string;
  readonly eventType: string;
  readonly signatureValid: boolean;
  readonly body: Record<string, unknown>;
  readonly answered: number;
}

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** The statuses a path answers, in order; the last one repeats. Unscripted paths answer 200. */
  script(path: string, statuses: number[]): void;
  stop(): Promise<void>;
}

function verify(secret: string, raw: string, header: string | undefined): boolean {
  const fields = new Map((header ?? '').split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(fields.get('t'));
  const v1 = fields.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const received: Received[] = [];
  const scripts = new Map<string, number[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const script = scripts.get(path) ?? [200];
      const answered = script.length > 1 ? script.shift()! : script[0]!;
      received.push({
        path, at: Date.now(), answered,
        deliveryId: String(req.headers['vto-delivery-id'] ?? ''), eventType: String(req.headers['vto-event-type'] ?? ''),
        signatureValid: verify(secret, raw, req.headers['vto-signature'] as string | undefined),
        body: JSON.parse(raw) as Record<string, unknown>,
      });
      res.writeHead(answered, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    script: (path, statuses) => scripts.set(path, [...statuses]),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
