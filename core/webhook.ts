/**
 * Webhooks, as rules free of I/O: which URLs a pack may name, how a delivery is signed,
 * which answers are retried and after how long, and which events a pack's webhook gets.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { EVENT_TYPES, isPackTerminalEvent, type EventType } from './lifecycle.ts';

export const SIGNATURE_HEADER = 'Vto-Signature';
export const DELIVERY_HEADER = 'Vto-Delivery-Id';
export const EVENT_TYPE_HEADER = 'Vto-Event-Type';
/** A receiver should refuse signatures older than this (replays). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export interface WebhookUrlPolicy {
  /** Offline: `http://` to a loopback address is allowed (and only there). */
  readonly allowLoopbackHttp: boolean;
}

/** Addresses a webhook may never reach on AWS: private, loopback, link-local, shared, unspecified, multicast. */
const FORBIDDEN = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) FORBIDDEN.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['::ffff:0:0', 96], ['64:ff9b::', 96]] as const) FORBIDDEN.addSubnet(net, bits, 'ipv6');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const LOCAL_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/i;

export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return FORBIDDEN.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The host of a URL without IPv6 brackets. */
export const hostOf = (u: URL) => u.hostname.replace(/^\[|\]$/g, '');

/**
 * Why a webhook URL is refused, or undefined when it is acceptable. Names are checked
 * again after DNS resolution when delivering (a public name may resolve privately).
 */
export function webhookUrlProblem(raw: string, policy: WebhookUrlPolicy): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (u.username !== '' || u.password !== '') return 'must not contain credentials';
  const host = hostOf(u);
  const loopback = host === 'localhost' || isLoopbackAddress(host);
  if (u.protocol === 'http:') {
    if (policy.allowLoopbackHttp && loopback) return undefined;
    return policy.allowLoopbackHttp ? 'must use https (http only to a loopback address offline)' : 'must use https';
  }
  if (u.protocol !== 'https:') return 'must use https';
  if (policy.allowLoopbackHttp && loopback) return undefined;
  if (isIP(host) !== 0 ? isForbiddenAddress(host) : LOCAL_NAMES.test(host)) return 'must not name a private, loopback or link-local address';
  return undefined;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** What a receiver does: parse the header, recompute, compare in constant time, refuse stale ones. */
export function verifySignature(secret: string, body: string, header: string, nowSeconds: number, toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts['t']);
  const v1 = parts['v1'];
  if (!Number.isInteger(t) || typeof v1 !== 'string' || !/^[0-9a-f]{64}$/.test(v1)) return false;
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signatureHeader(secret, body, t).slice(`t=${t},v1=`.length), 'hex');
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

/** One id per event and URL, the same on every retry, so a receiver can drop repeats. */
export function deliveryId(eventId: string, url: string): string {
  const h = createHash('sha256').update(`${eventId}\n${url}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A pack's webhook as the pack item keeps it. */
export const packWebhookSchema = z.object({
  url: z.string(),
  /** Event types delivered besides the pack's terminal event. */
  events: z.array(z.enum(EVENT_TYPES)).default([]),
});
export type PackWebhook = z.infer<typeof packWebhookSchema>;

/** A delivery given up on, as the pack item keeps it (up to a bound) for GET /packs/{id}/webhook-failures. */
export const deliveryFailureSchema = z.object({
  deliveryId: z.string().describe('The Vto-Delivery-Id every attempt carried'),
  eventId: z.string(),
  type: z.enum(EVENT_TYPES),
  url: z.string(),
  reason: z.string(),
  status: z.int().exactOptional().describe('The receiver\'s last HTTP status, when it answered'),
  attempts: z.int(),
  firstAttemptAt: z.string().describe('ISO 8601 date-time (UTC)'),
  failedAt: z.string().describe('ISO 8601 date-time (UTC)'),
});
export type DeliveryFailure = z.infer<typeof deliveryFailureSchema>;

/** Whether a pack's webhook gets an event: the pack's terminal event always, others when asked for. */
export function wants(webhook: PackWebhook, type: EventType): boolean {
  return isPackTerminalEvent(type) || webhook.events.includes(type);
}

export type Verdict = 'delivered' | 'retry' | 'dead';

/** 2xx delivered; 429, 5xx and no answer (timeout, connection) retried; anything else is final. */
export function verdictOf(status: number | undefined): Verdict {
  if (status === undefined) return 'retry';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 429 || status >= 500) return 'retry';
  return 'dead';
}

/** Real seconds before attempt `attempt + 1`: 30 s doubling to an hour. */
export const RETRY_BASE_SECONDS = 30;
export const RETRY_MAX_DELAY_SECONDS = 3600;
/** Delivery is retried for this long after the event first reached the queue. */
export const RETRY_WINDOW_SECONDS = 24 * 3600;

export function retryDelaySeconds(attempt: number): number {
  return Math.min(RETRY_MAX_DELAY_SECONDS, RETRY_BASE_SECONDS * 2 ** Math.max(0, attempt - 1));
}
