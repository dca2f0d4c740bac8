/**
 * Reading a GPU queue message: the body against gpuTaskMessageSchema, plus the few
 * things the worker wants from around it (redelivery count, time enqueued, action label).
 */
import { createHash } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import { gpuTaskMessageSchema, type GpuTaskMessage, type GpuTaskMessageBody } from '../core/gpu-message.ts';

export type ParsedMessage =
  | { readonly ok: true; readonly task: GpuTaskMessage; readonly action: string }
  | { readonly ok: false; readonly taskToken: string | null; readonly problems: readonly string[] };

export function parseTaskBody(body: string | undefined): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch (e) {
    return { ok: false, taskToken: null, problems: [`body is not JSON: ${(e as Error).message}`] };
  }
  const token = json !== null && typeof json === 'object' ? (json as Record<string, unknown>)['taskToken'] : undefined;
  const taskToken = typeof token === 'string' && token.length > 0 ? token : null;
  const r = gpuTaskMessageSchema.safeParse(json);
  if (!r.success) {
    return { ok: false, taskToken, problems: r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`) };
  }
  return { ok: true, task: r.data, action: r.data.action };
}

/** Seconds the task waited before this receive: from enqueuedAt, else SQS SentTimestamp. */
export function queueSeconds(task: GpuTaskMessageBody, message: Message, receivedAt: number): number | null {
  const enqueued = task.enqueuedAt !== undefined ? Date.parse(task.enqueuedAt) : Number(message.Attributes?.SentTimestamp ?? NaN);
  return Number.isFinite(enqueued) ? Math.max(0, (receivedAt - enqueued) / 1000) : null;
}

export function receiveCount(message: Message): number {
  const n = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
  return Number.isFinite(n) ? n : 1;
}

/**
 * One GPU task: its job's attempt, and the task token that Step Functions issued for it. A
 * forced retry starts the job's attempts again from 1, so (jobId, attempt) alone would take
 * the new run for a copy of the old one; the token tells them apart, and every copy of one
 * message carries the same token.
 */
export const attemptKey = (task: Pick<GpuTaskMessage, 'jobId' | 'attempt' | 'taskToken'>) => `${task.jobId}#${task.attempt}#${runOf(task)}`;

/** A short, stable digest of the task token (the token itself is a secret-like bearer value). */
export const runOf = (task: Pick<GpuTaskMessage, 'taskToken'>) => createHash('sha256').update(task.taskToken).digest('hex').slice(0, 16);
