/**
 * The AWS JSON 1.0 endpoint: `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`.
 * Every request must be signed with SigV4 (service `states`, this region, a known key),
 * checked by the local gateway's verifier before anything runs: a refusal is the 400
 * `com.amazon.coral.service#<Exception>` AWS answers. API errors go out as
 * `{"__type":"com.amazonaws.states#<code>","message":...}`, from which the SDK throws the
 * exception of that name.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signedPartsOf, verifySigV4, type SigV4Refusal, type VerifierCredentials } from '../sigv4-verify.ts';
import { BodyTooLargeError, readBody } from '../http.ts';
import { SerializationException, SfnApiError } from './api-errors.ts';
import type { JsonObject } from './types.ts';

const MAX_BODY_BYTES = 2 * 1024 * 1024;
const TARGET_PREFIX = 'AWSStepFunctions.';
const SERVICE = 'states';

/** An action call whose signature was verified. */
export interface SfnRequest {
  readonly action: string;
  readonly body: JsonObject;
  /** The access key id that signed the request (mapping it to an IAM principal is the caller's). */
  readonly accessKeyId: string;
}

export type ActionRunner = (request: SfnRequest) => JsonObject;

export interface JsonServerAuth {
  readonly region: string;
  /** The signers accepted. */
  readonly credentials: readonly VerifierCredentials[];
}

/** The exception names AWS JSON services answer each refusal with (all HTTP 400). */
const AUTH_EXCEPTIONS: Record<SigV4Refusal, string> = {
  MISSING_AUTHENTICATION_TOKEN: 'MissingAuthenticationTokenException',
  INCOMPLETE_SIGNATURE: 'IncompleteSignatureException',
  UNAUTHORIZED_CLIENT: 'UnrecognizedClientException',
  INVALID_SIGNATURE: 'InvalidSignatureException',
  EXPIRED_TOKEN: 'ExpiredTokenException',
};

export interface JsonServer {
  readonly url: string;
  close(): Promise<void>;
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

async function handle(req: IncomingMessage, res: ServerResponse, auth: JsonServerAuth, run: ActionRunner): Promise<void> {
  try {
    const raw = await readBody(req, MAX_BODY_BYTES).catch((e: unknown) => {
      throw e instanceof BodyTooLargeError ? new SerializationException(`Request body larger than ${MAX_BODY_BYTES} bytes`) : e;
    });
    const verdict = await verifySigV4(signedPartsOf(req, raw), { region: auth.region, service: SERVICE, credentials: auth.credentials });
    if (!verdict.ok) {
      send(res, 400, { __type: `com.amazon.coral.service#${AUTH_EXCEPTIONS[verdict.type]}`, message: verdict.message });
      return;
    }
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
      throw new SerializationException('Expected POST with X-Amz-Target: AWSStepFunctions.<Action>');
    }
    const text = raw.toString('utf8');
    let body: unknown = {};
    if (text.trim().length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new SerializationException('The request body is not JSON');
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SerializationException('The request body must be a JSON object');
    send(res, 200, run({ action: target.slice(TARGET_PREFIX.length), body: body as JsonObject, accessKeyId: verdict.accessKeyId }));
  } catch (e) {
    if (e instanceof SfnApiError) send(res, e.status, { __type: `com.amazonaws.states#${e.code}`, message: e.message });
    else send(res, 500, { __type: 'com.amazonaws.states#InternalFailure', message: e instanceof Error ? e.message : String(e) });
  }
}

export function startJsonServer(port: number, auth: JsonServerAuth, run: ActionRunner): Promise<JsonServer> {
  const server = createServer((req, res) => void handle(req, res, auth, run));
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
