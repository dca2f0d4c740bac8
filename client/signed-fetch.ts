/**
 * fetch with AWS Signature Version 4 (service execute-api by default): what the CLI, the
 * console server and the tests use to call the API, offline as on AWS.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SigningOptions {
  readonly credentials: SigningCredentials;
  readonly region: string;
  /** @default 'execute-api' */
  readonly service?: string;
  /** Abort after this long unless `init.signal` is given. @default 30000 */
  readonly timeoutMs?: number;
  /** Sign as of this time (tests of clock skew). @default now */
  readonly signingDate?: Date;
}

export interface SignedInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  readonly signal?: AbortSignal;
}

/** Query parameters as SigV4 canonicalizes them: repeated names become lists. */
function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return query;
}

/** The request `signedFetch` would send: method, URL and headers, signed. */
export async function signRequest(url: string | URL, init: SignedInit, opts: SigningOptions): Promise<{ url: URL; method: string; headers: Record<string, string> }> {
  const u = new URL(url);
  const method = (init.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = { host: u.host };
  for (const [k, v] of Object.entries(init.headers ?? {})) headers[k.toLowerCase()] = v;
  const signer = new SignatureV4({ service: opts.service ?? 'execute-api', region: opts.region, credentials: opts.credentials, sha256: Sha256 });
  const signed = await signer.sign(new HttpRequest({
    method,
    protocol: u.protocol,
    hostname: u.hostname,
    ...(u.port !== '' && { port: Number(u.port) }),
    // Already percent-encoded once, as the SDKs pass it: the signer encodes again (SigV4 for non-S3 services).
    path: u.pathname,
    query: queryOf(u),
    headers,
    ...(init.body !== undefined && { body: init.body }),
  }), { ...(opts.signingDate !== undefined && { signingDate: opts.signingDate }) });
  return { url: u, method, headers: signed.headers };
}

export async function signedFetch(url: string | URL, init: SignedInit, opts: SigningOptions): Promise<Response> {
  const signed = await signRequest(url, init, opts);
  // fetch sets Host itself, to the same value that was signed.
  const { host: _host, ...headers } = signed.headers;
  return fetch(signed.url, {
    method: signed.method,
    headers,
    // A copy on an ArrayBuffer of its own: what fetch's body type accepts.
    ...(init.body !== undefined && { body: typeof init.body === 'string' ? init.body : Uint8Array.from(init.body) }),
    signal: init.signal ?? AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
}
