/**
 * What GET /health knows of the GPU fleet, read from the control table in one bounded scan:
 * the workers' presence items (adapters/worker-presence.ts) and every circuit breaker item,
 * including the per-ComfyUI-host breakers (`breaker#comfyui#<host>`) whose hosts are not
 * known in advance. The control table is small (flags, breakers, presences, short-lived
 * claims and idempotency records), and the scan stops after a few pages.
 */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { BreakerState, WorkerPresenceView } from '../core/health.ts';
import { access, grant } from './access.ts';
import { documentClient } from './aws-clients.ts';
import { PRESENCE_PREFIX } from './worker-presence.ts';

/** One bounded scan of the control table for presences and breakers (GET /health). */
export const FLEET_STATE_ACCESS = access(grant('table:control', 'dynamodb', 'Scan'));

const BREAKER_PREFIX = 'breaker#';
const MAX_PAGES = 10;

const presenceSchema = z.object({
  workerId: z.string(), host: z.string(), slots: z.number().int().min(0), seenAt: z.string(), expiresAt: z.number(),
});
const breakerSchema = z.object({
  state: z.enum(['closed', 'open', 'half_open']), failures: z.number().int().min(0).optional(), openedAt: z.string().optional(),
});

export interface FleetItems {
  readonly workers: WorkerPresenceView[];
  readonly breakers: BreakerState[];
}

export async function readFleetItems(table: string, o: { client?: DynamoDBDocumentClient; timeoutMs?: number } = {}): Promise<FleetItems> {
  const client = o.client ?? documentClient();
  const signal = AbortSignal.timeout(o.timeoutMs ?? 3000);
  const workers: WorkerPresenceView[] = [];
  const breakers: BreakerState[] = [];
  let start: Record<string, unknown> | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await client.send(new ScanCommand({
      TableName: table,
      FilterExpression: 'begins_with(id, :w) OR begins_with(id, :b)',
      ExpressionAttributeValues: { ':w': PRESENCE_PREFIX, ':b': BREAKER_PREFIX },
      ConsistentRead: true,
      ...(start !== undefined && { ExclusiveStartKey: start }),
    }), { abortSignal: signal });
    for (const item of res.Items ?? []) {
      const id = String(item['id']);
      if (id.startsWith(PRESENCE_PREFIX)) {
        const p = presenceSchema.safeParse(item);
        if (p.success) workers.push(p.data);
      } else {
        const b = breakerSchema.safeParse(item);
        if (!b.success) continue;
        breakers.push({
          dependency: id.slice(BREAKER_PREFIX.length), state: b.data.state,
          ...(b.data.failures !== undefined && { failures: b.data.failures }),
          ...(b.data.state !== 'closed' && b.data.openedAt !== undefined && { openedAt: b.data.openedAt }),
        });
      }
    }
    start = res.LastEvaluatedKey;
    if (start === undefined) break;
  }
  return { workers, breakers };
}
