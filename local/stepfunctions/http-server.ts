/**
 * The AWS JSON 1.0 endpoint: `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`.
 * API errors go out as `{"__type":"com.amazonaws.states#<code>","message":...}`, from
 * which the SDK throws the exception of that name.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SerializationException, SfnApiError } from './api-errors.ts';
import type { JsonObject } from './types.ts';

const MAX_BODY_BYTES = 2 * 1024 * 1024;
const TARGET_PREFIX = 'AWSStepFunctions.';

export type ActionRunner = (action: string, body: JsonObject) => JsonObject;

export interface JsonServer {
  readonly url: string;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new SerializationException(`Request body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: JsonObject): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse, run: ActionRunner): Promise<void> {
  try {
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
      throw new SerializationException('Expected POST with X-Amz-Target: AWSStepFunctions.<Action>');
    }
    const text = await readBody(req);
    let body: unknown = {};
    if (text.trim().length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new SerializationException('The request body is not JSON');
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SerializationException('The request body must be a JSON object');
    send(res, 200, run(target.slice(TARGET_PREFIX.length), body as JsonObject));
  } catch (e) {
    if (e instanceof SfnApiError) send(res, e.status, { __type: `com.amazonaws.states#${e.code}`, message: e.message });
    else send(res, 500, { __type: 'com.amazonaws.states#InternalFailure', message: e instanceof Error ? e.message : String(e) });
  }
}

export function startJsonServer(port: number, run: ActionRunner): Promise<JsonServer> {
  const server = createServer((req, res) => void handle(req, res, run));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const { port: bound } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${bound}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // SDK clients keep connections alive; they must not hold the server (or the process) open.
            server.closeAllConnections();
          }),
      });
    });
  });
}
