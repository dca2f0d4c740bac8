/**
 * What keeps the console's powers on this machine: the headers every answer carries (a
 * strict Content-Security-Policy among them), and the checks that refuse requests from
 * other sites (cross-site request forgery) and from other host names (DNS rebinding).
 * The console signs requests with the operator's credentials, so a page elsewhere must
 * not be able to make the operator's browser send it one.
 */
import type { IncomingMessage } from 'node:http';
import { ConsoleError } from './errors.ts';

/** The header the app sends with every data request. A cross-site page cannot add it without a CORS preflight, which this server never grants. */
export const CONSOLE_HEADER = 'x-vto-console';

/**
 * No inline script or style, nothing loaded from elsewhere except the images the API
 * pre-signs, no framing, and Trusted Types so that no string can become markup or script.
 */
export function contentSecurityPolicy(imageOrigins: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${["'self'", ...imageOrigins].join(' ')}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
}

export function securityHeaders(imageOrigins: readonly string[]): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(imageOrigins),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Pre-signed image URLs and job ids stay out of Referer headers.
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  };
}

/** The Host values this server answers to: its own loopback address and port. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

/** Refuses a request for another host name: a DNS-rebinding page would send its own. */
export function checkHost(req: IncomingMessage, hosts: ReadonlySet<string>): void {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!hosts.has(host)) {
    throw new ConsoleError(421, 'MisdirectedRequest', `This console answers only on ${[...hosts][0] ?? 'its loopback address'}; the request was for "${host.slice(0, 100)}".`);
  }
}

/** The console is served over plain HTTP on loopback, so its page's origin is `http://` + its Host. */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    // Scheme, host and port, each normalised (case, default port) the way browsers send them.
    return new URL(origin).origin === new URL(`http://${host}`).origin;
  } catch {
    return false;
  }
}

/** Data requests must come from the console's own page. */
export function checkSameOrigin(req: IncomingMessage): void {
  if (req.headers[CONSOLE_HEADER] !== '1') {
    throw new ConsoleError(403, 'ConsoleHeaderMissing', `Data requests must come from the console's own page (header ${CONSOLE_HEADER}: 1).`);
  }
  const origin = req.headers.origin;
  if (origin === 'null') throw new ConsoleError(403, 'CrossOriginRefused', 'Requests from an opaque origin are refused.');
  if (origin !== undefined && !isOwnOrigin(origin, req.headers.host)) {
    throw new ConsoleError(403, 'CrossOriginRefused', `Requests from ${origin.slice(0, 100)} are refused: only the console's own page may call it.`);
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new ConsoleError(403, 'CrossOriginRefused', `Cross-site requests (${String(site).slice(0, 30)}) are refused.`);
  }
}
