/** Reading requests and writing answers, bounded. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConsoleError, errorBody } from './errors.ts';

export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () => new ConsoleError(413, 'PayloadTooLarge', `The request body is larger than ${maxBytes} bytes.`);
    if (declared > maxBytes) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

export function sendError(res: ServerResponse, e: ConsoleError, requestId: string, headers: Record<string, string>): void {
  sendJson(res, e.status, errorBody(e, requestId), { ...headers, ...e.headers });
}
