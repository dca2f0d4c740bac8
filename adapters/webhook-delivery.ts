/**
 * Delivering one lifecycle event to its pack's webhook: find the pack's webhook, check the
 * URL again after DNS, sign the body, POST it with a timeout, and decide: delivered,
 * retried later (the SQS message comes back after a backoff) or dead-lettered (kept on
 * the pack for GET /packs/{id}/webhook-failures and sent to the dead-letter queue).
 */
import { lookup } from 'node:dns/promises';
import { ChangeMessageVisibilityCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { QUEUES, SECRETS } from '../core/resources.ts';
import { jobEventDetailSchema, packEventDetailSchema, type LifecycleDetail } from '../core/lifecycle.ts';
import {
  DELIVERY_HEADER, EVENT_TYPE_HEADER, RETRY_WINDOW_SECONDS, SIGNATURE_HEADER, deliveryId, hostOf, isForbiddenAddress, isLoopbackAddress,
  packWebhookSchema, retryDelaySeconds, signatureHeader, verdictOf, wants, webhookUrlProblem, type DeliveryFailure, type PackWebhook,
} from '../core/webhook.ts';
import { access, grant } from './access.ts';
import { documentClient, secretsClient, sqsClient } from './aws-clients.ts';
import { config } from './config.ts';
import { logger } from './logging.ts';
import { loadSettings } from '../core/settings.ts';
import { cachedPerProcess } from './process-caches.ts';

/**
 * Every call the sender makes: the pack's webhook and its failures, the signing key, a retry's
 * backoff (delayMessage) and a dead letter. Receiving and deleting its batches is Lambda's
 * event source, whose grant CDK adds with it (lib/events.ts).
 */
export const WEBHOOK_SENDER_ACCESS = access(
  grant('table:packs', 'dynamodb', 'GetItem', 'UpdateItem'),
  grant('secret:webhook', 'secretsmanager', 'GetSecretValue'),
  grant('queue:webhooks', 'sqs', 'ChangeMessageVisibility'),
  grant('queue:webhooksDeadLetter', 'sqs', 'SendMessage'),
);

const settingsSchema = z.object({
  [QUEUES.webhooks.envVar]: z.string().min(1),
  [QUEUES.webhooks.deadLetter.envVar]: z.string().min(1),
  /** Secrets Manager secret holding the signing secret (AWS). */
  [SECRETS.webhook.envVar]: z.string().min(1).optional(),
  /** The signing secret itself (offline only: .vto/endpoints.json `webhookSecret`). */
  VTO_WEBHOOK_SECRET: z.string().min(16).optional(),
  /** Offline: http:// to loopback is allowed. */
  VTO_WEBHOOK_ALLOW_LOOPBACK: z.enum(['true', 'false']).default('false'),
  /** How long delivery is retried after the event reached the queue (real seconds, scaled). */
  VTO_WEBHOOK_RETRY_WINDOW_SECONDS: z.coerce.number().positive().default(RETRY_WINDOW_SECONDS),
  VTO_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().max(30_000).default(10_000),
  VTO_TIME_SCALE: z.coerce.number().positive().max(1).default(1),
}).refine((e) => e[SECRETS.webhook.envVar] !== undefined || e.VTO_WEBHOOK_SECRET !== undefined, {
  message: `${SECRETS.webhook.envVar} (or, offline, VTO_WEBHOOK_SECRET) is required`, path: [SECRETS.webhook.envVar],
});

export interface SenderSettings {
  queueUrl: string; deadLetterUrl: string; secretArn: string | undefined; secret: string | undefined;
  allowLoopbackHttp: boolean; retryWindowMs: number; timeoutMs: number; timeScale: number;
}

export const senderSettings = cachedPerProcess((env): SenderSettings => {
  const e = loadSettings(settingsSchema, env);
  return {
    queueUrl: e[QUEUES.webhooks.envVar] as string, deadLetterUrl: e[QUEUES.webhooks.deadLetter.envVar] as string,
    secretArn: e[SECRETS.webhook.envVar], secret: e.VTO_WEBHOOK_SECRET, allowLoopbackHttp: e.VTO_WEBHOOK_ALLOW_LOOPBACK === 'true',
    retryWindowMs: e.VTO_WEBHOOK_RETRY_WINDOW_SECONDS * 1000 * e.VTO_TIME_SCALE, timeoutMs: e.VTO_WEBHOOK_TIMEOUT_MS, timeScale: e.VTO_TIME_SCALE,
  };
});
export const resetSenderSettings = senderSettings.reset;

const SECRET_CACHE_MS = 5 * 60_000;
let secret: { value: string; until: number } | undefined;

async function signingSecret(s: SenderSettings): Promise<string> {
  if (s.secret !== undefined) return s.secret;
  if (secret && secret.until > Date.now()) return secret.value;
  const res = await secretsClient().send(new GetSecretValueCommand({ SecretId: s.secretArn }), { abortSignal: AbortSignal.timeout(5000) });
  if (!res.SecretString) throw new Error('the webhook signing secret is empty');
  secret = { value: res.SecretString, until: Date.now() + SECRET_CACHE_MS };
  return secret.value;
}

/** The most failed deliveries kept on a pack item (the dead-letter queue holds them all). */
export const MAX_FAILURES_KEPT = 100;


export const envelopeSchema = z.object({ id: z.string().optional(), detail: z.union([packEventDetailSchema, jobEventDetailSchema]) });

export interface QueueMessage { readonly body: string; readonly receiptHandle: string; readonly receiveCount: number; readonly sentAt: number }

export type DeliveryOutcome =
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'delivered'; readonly status: number; readonly deliveryId: string }
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly reason: string }
  | { readonly kind: 'dead'; readonly reason: string };

async function packWebhook(packId: string): Promise<PackWebhook | undefined> {
  const res = await documentClient().send(new GetCommand({ TableName: config().packsTable, Key: { packId }, ProjectionExpression: 'webhook' }));
  const webhook = res.Item?.['webhook'];
  return webhook === undefined ? undefined : packWebhookSchema.parse(webhook);
}

/** Resolves the host and refuses private addresses (offline, loopback is allowed). */
async function addressProblem(url: URL, allowLoopback: boolean): Promise<string | undefined> {
  const host = hostOf(url);
  const addresses = await lookup(host, { all: true, verbatim: true });
  for (const a of addresses) {
    if (allowLoopback && isLoopbackAddress(a.address)) continue;
    if (isForbiddenAddress(a.address)) return `${host} resolves to ${a.address}, a private, loopback or link-local address`;
  }
  return undefined;
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status?: number; error?: string }> {
  try {
    const res = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { error: err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${err.cause?.code ?? err.name}: ${err.message}` };
  }
}

async function deadLetter(packId: string, failure: DeliveryFailure, detail: LifecycleDetail, s: SenderSettings): Promise<void> {
  await sqsClient().send(new SendMessageCommand({ QueueUrl: s.deadLetterUrl, MessageBody: JSON.stringify({ failure, detail }) }));
  await documentClient().send(new UpdateCommand({
    TableName: config().packsTable, Key: { packId },
    // Kept on the pack up to a bound; the count is always right.
    UpdateExpression: 'SET webhookFailures = list_append(if_not_exists(webhookFailures, :empty), :f) ADD webhookFailureCount :one',
    ConditionExpression: 'attribute_exists(packId) AND (attribute_not_exists(webhookFailures) OR size(webhookFailures) < :max)',
    ExpressionAttributeValues: { ':f': [failure], ':empty': [], ':one': 1, ':max': MAX_FAILURES_KEPT },
  })).catch(async (e: unknown) => {
    if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
    await documentClient().send(new UpdateCommand({
      TableName: config().packsTable, Key: { packId }, UpdateExpression: 'ADD webhookFailureCount :one',
      ConditionExpression: 'attribute_exists(packId)', ExpressionAttributeValues: { ':one': 1 },
    })).catch(() => undefined);
  });
}

/** Delivers one queued event; the caller deletes the message unless the outcome is `retry`. */
export async function deliver(m: QueueMessage, now = Date.now()): Promise<DeliveryOutcome> {
  const s = senderSettings();
  const parsed = envelopeSchema.safeParse(JSON.parse(m.body));
  if (!parsed.success) return { kind: 'skipped', reason: `not a lifecycle event: ${parsed.error.issues[0]?.message ?? ''}` };
  const detail = parsed.data.detail;
  const webhook = await packWebhook(detail.packId);
  if (!webhook) return { kind: 'skipped', reason: 'the pack has no webhook' };
  if (!wants(webhook, detail.type)) return { kind: 'skipped', reason: `the webhook did not ask for ${detail.type}` };

  const id = deliveryId(detail.eventId, webhook.url);
  const firstAttemptAt = new Date(m.sentAt).toISOString();
  const fail = async (reason: string, status?: number): Promise<DeliveryOutcome> => {
    await deadLetter(detail.packId, {
      deliveryId: id, eventId: detail.eventId, type: detail.type, url: webhook.url, reason,
      ...(status !== undefined && { status }), attempts: m.receiveCount, firstAttemptAt, failedAt: new Date(now).toISOString(),
    }, detail, s);
    logger.warn('webhook delivery dead-lettered', { deliveryId: id, packId: detail.packId, reason });
    return { kind: 'dead', reason };
  };

  const url = new URL(webhook.url);
  const policy = webhookUrlProblem(webhook.url, { allowLoopbackHttp: s.allowLoopbackHttp });
  if (policy !== undefined) return fail(`the URL ${policy}`);
  let refused: string | undefined;
  try {
    refused = await addressProblem(url, s.allowLoopbackHttp);
  } catch (e) {
    // DNS may be down for a while: retried like a receiver that does not answer.
    const delay = nextDelay(m, now, s);
    if (delay === undefined) return fail(`the host does not resolve: ${(e as Error).message}`);
    return { kind: 'retry', delaySeconds: delay, reason: `the host does not resolve: ${(e as Error).message}` };
  }
  if (refused !== undefined) return fail(refused);

  const body = JSON.stringify(detail);
  const t = Math.floor(now / 1000);
  const answer = await post(webhook.url, body, {
    'content-type': 'application/json', 'user-agent': 'vto-webhooks/1',
    [SIGNATURE_HEADER]: signatureHeader(await signingSecret(s), body, t),
    [DELIVERY_HEADER]: id, [EVENT_TYPE_HEADER]: detail.type,
  }, s.timeoutMs);
  const verdict = verdictOf(answer.status);
  if (verdict === 'delivered') return { kind: 'delivered', status: answer.status!, deliveryId: id };
  const reason = answer.status === undefined ? answer.error ?? 'no answer' : `the receiver answered ${answer.status}`;
  if (verdict === 'dead') return fail(reason, answer.status);
  const delay = nextDelay(m, now, s);
  if (delay === undefined) return fail(`retried for ${Math.round(s.retryWindowMs / 1000)} s; last: ${reason}`, answer.status);
  return { kind: 'retry', delaySeconds: delay, reason };
}

/** Seconds until the next attempt, or undefined once the retry window has passed. */
function nextDelay(m: QueueMessage, now: number, s: SenderSettings): number | undefined {
  const delaySeconds = Math.max(1, Math.round(retryDelaySeconds(m.receiveCount) * s.timeScale));
  if (now + delaySeconds * 1000 - m.sentAt > s.retryWindowMs) return undefined;
  return delaySeconds;
}

/** Holds a message back for its backoff: it is received again after `seconds`. */
export async function delayMessage(receiptHandle: string, seconds: number): Promise<void> {
  await sqsClient().send(new ChangeMessageVisibilityCommand({ QueueUrl: senderSettings().queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
}
