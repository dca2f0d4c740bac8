/**
 * Verifies an AWS Signature Version 4 Authorization header the way API Gateway does for
 * IAM-authorised methods: the credential scope (date, region, service), the clock skew,
 * the access key, then the signature recomputed over the same signed headers, query,
 * path and body, compared in constant time. Refusals carry API Gateway's messages.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface VerifierCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SignedRequestParts {
  readonly method: string;
  /** The path exactly as received (percent-encoded), without the query. */
  readonly rawPath: string;
  readonly query: Readonly<Record<string, string | string[]>>;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** API Gateway's gateway-response types for these refusals. */
export type SigV4Refusal =
  | 'MISSING_AUTHENTICATION_TOKEN'
  | 'INCOMPLETE_SIGNATURE'
  | 'UNAUTHORIZED_CLIENT'
  | 'INVALID_SIGNATURE'
  | 'EXPIRED_TOKEN';

export type SigV4Verdict =
  | { readonly ok: true; readonly accessKeyId: string }
  | { readonly ok: false; readonly type: SigV4Refusal; readonly message: string };

export const MISSING_TOKEN_MESSAGE = 'Missing Authentication Token';
export const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const INVALID_TOKEN_MESSAGE = 'The security token included in the request is invalid.';

/** How far the signing time may be from the server's clock. */
export const MAX_SKEW_MS = 5 * 60_000;

const refuse = (type: SigV4Refusal, message: string): SigV4Verdict => ({ ok: false, type, message });

interface ParsedAuthorization {
  credential: string;
  signedHeaders: string;
  signature: string;
}

function parseAuthorization(value: string): ParsedAuthorization | string {
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(value.trim());
  if (!m) return `Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=${value.slice(0, 100)}`;
  const fields: Record<string, string> = {};
  for (const part of (m[1] ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((k) => !fields[k]);
  if (missing.length > 0) return missing.map((k) => `Authorization header requires '${k}' parameter.`).join(' ');
  return { credential: fields['Credential']!, signedHeaders: fields['SignedHeaders']!, signature: fields['Signature']! };
}

/** `20261125T081500Z` → Date, or undefined. */
function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const fmt = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  // Compare equal lengths only; a length mismatch still costs one comparison.
  return x.length === y.length ? timingSafeEqual(x, y) : (timingSafeEqual(x, x), false);
}

/** Header values as one string each, names in lower case (Node joins repeated ones with ", "). */
export function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** What a node:http request puts under its signature: the path as received, the query (a repeated name as a list). */
export function signedPartsOf(req: IncomingMessage, body: Buffer): SignedRequestParts {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(q < 0 ? '' : url.slice(q + 1))) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return { method: (req.method ?? 'GET').toUpperCase(), rawPath: q < 0 ? url : url.slice(0, q), query, headers: flatHeaders(req.headers), body };
}

/**
 * Whether a request names its Host more than once (RFC 9112 §3.2: answer 400). Node keeps
 * only the first in `headers`, so a signature could cover one host while a proxy routes by
 * the other; `rawHeaders` still holds both.
 */
export function hasRepeatedHost(rawHeaders: readonly string[]): boolean {
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === 'host') hosts++;
  return hosts > 1;
}

export async function verifySigV4(
  req: SignedRequestParts,
  opts: { region: string; service: string; credentials: readonly VerifierCredentials[]; now?: Date },
): Promise<SigV4Verdict> {
  const authorization = req.headers['authorization'];
  if (authorization === undefined || authorization.trim() === '') return refuse('MISSING_AUTHENTICATION_TOKEN', MISSING_TOKEN_MESSAGE);
  const auth = parseAuthorization(authorization);
  if (typeof auth === 'string') return refuse('INCOMPLETE_SIGNATURE', auth);

  const [accessKeyId, day, region, service, terminator, ...rest] = auth.credential.split('/');
  if (!accessKeyId || !day || !region || !service || terminator !== 'aws4_request' || rest.length > 0) {
    return refuse('INCOMPLETE_SIGNATURE', `Credential should be scoped to a valid region. ${auth.credential.slice(0, 200)}`);
  }
  const amzDate = req.headers['x-amz-date'];
  const signingDate = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (signingDate === undefined) {
    return refuse('INCOMPLETE_SIGNATURE', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (region !== opts.region) return refuse('INVALID_SIGNATURE', `Credential should be scoped to a valid region, not '${region.slice(0, 40)}'.`);
  if (service !== opts.service) return refuse('INVALID_SIGNATURE', `Credential should be scoped to correct service: '${opts.service}'.`);
  if (day !== amzDate?.slice(0, 8)) return refuse('INVALID_SIGNATURE', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${day.slice(0, 8)}' != '${amzDate?.slice(0, 8) ?? ''}'.`);
  const now = opts.now ?? new Date();
  if (signingDate.getTime() < now.getTime() - MAX_SKEW_MS) {
    return refuse('INVALID_SIGNATURE', `Signature expired: ${amzDate} is now earlier than ${fmt(new Date(now.getTime() - MAX_SKEW_MS))} (${fmt(now)} - 5 min.)`);
  }
  if (signingDate.getTime() > now.getTime() + MAX_SKEW_MS) {
    return refuse('INVALID_SIGNATURE', `Signature not yet current: ${amzDate} is still later than ${fmt(new Date(now.getTime() + MAX_SKEW_MS))} (${fmt(now)} + 5 min.)`);
  }
  const secret = opts.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (!secret) return refuse('UNAUTHORIZED_CLIENT', INVALID_TOKEN_MESSAGE);

  // SigV4 signs lower-case header names and lower-case hex; AWS takes no other spelling.
  const signedNames = auth.signedHeaders.split(';');
  if (!signedNames.includes('host') || signedNames.some((h) => h === '' || h !== h.toLowerCase())) return refuse('INVALID_SIGNATURE', SIGNATURE_MISMATCH_MESSAGE);
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = req.headers[name];
    // A header that was signed but is not here cannot verify.
    if (value === undefined) return refuse('INVALID_SIGNATURE', SIGNATURE_MISMATCH_MESSAGE);
    headers[name] = value;
  }
  // A signed payload hash must be the body's: otherwise the body could be swapped under it.
  const declaredHash = headers['x-amz-content-sha256'];
  if (declaredHash !== undefined && declaredHash !== createHash('sha256').update(req.body).digest('hex')) {
    return refuse('INVALID_SIGNATURE', SIGNATURE_MISMATCH_MESSAGE);
  }
  const signer = new SignatureV4({ service, region, credentials: secret, sha256: Sha256, applyChecksum: false });
  const recomputed = await signer.sign(new HttpRequest({
    method: req.method,
    protocol: 'https:',
    hostname: headers['host'] ?? '',
    path: req.rawPath,
    query: { ...req.query },
    headers,
    body: req.body,
  }), { signingDate, signableHeaders: new Set(signedNames) });
  const expected = /SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(recomputed.headers['authorization'] ?? '');
  const ok = expected !== null && expected[1] === auth.signedHeaders && safeEqual(expected[2] ?? '', auth.signature);
  return ok ? { ok: true, accessKeyId } : refuse('INVALID_SIGNATURE', SIGNATURE_MISMATCH_MESSAGE);
}
