/**
 * Executions in memory, bounded: past `max`, the oldest finished ones are dropped
 * (running ones never are). Listing is newest first, paged by a token that names the
 * last execution returned, so pages stay stable while executions start.
 */
import { InvalidToken } from './api-errors.ts';
import type { Execution } from './execution.ts';
import type { ExecutionStatus } from './types.ts';

export interface ListQuery {
  stateMachineArn: string;
  statusFilter?: ExecutionStatus | undefined;
  maxResults?: number | undefined;
  nextToken?: string | undefined;
}

export class ExecutionStore {
  private readonly byArn = new Map<string, Execution>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.byArn.size;
  }

  get(arn: string): Execution | undefined {
    return this.byArn.get(arn);
  }

  add(e: Execution): void {
    this.byArn.set(e.arn, e);
    this.evict();
  }

  running(): Execution[] {
    return [...this.byArn.values()].filter((e) => e.running);
  }

  /** Drops the oldest finished executions while over the cap. */
  evict(): void {
    if (this.byArn.size <= this.max) return;
    for (const [arn, e] of this.byArn) {
      if (this.byArn.size <= this.max) break;
      if (!e.running) this.byArn.delete(arn);
    }
  }

  list(q: ListQuery): { executions: Execution[]; nextToken?: string } {
    const max = q.maxResults && q.maxResults > 0 ? Math.min(q.maxResults, 1000) : 100;
    const before = q.nextToken === undefined ? Number.POSITIVE_INFINITY : decodeToken(q.nextToken);
    const matching = [...this.byArn.values()]
      .filter((e) => e.stateMachineArn === q.stateMachineArn && e.seq < before && (q.statusFilter === undefined || e.status === q.statusFilter))
      .reverse();
    const page = matching.slice(0, max);
    const last = page.at(-1);
    return { executions: page, ...(matching.length > max && last ? { nextToken: encodeToken(last.seq) } : {}) };
  }
}

const encodeToken = (seq: number): string => Buffer.from(JSON.stringify({ e: seq })).toString('base64url');

function decodeToken(token: string): number {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof v === 'object' && v !== null && 'e' in v && Number.isInteger(v.e)) return v.e as number;
  } catch {
    // falls through to the error below
  }
  throw new InvalidToken(`Invalid nextToken: '${token}'`);
}
