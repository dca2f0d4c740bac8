/**
 * Claims on GPU task attempts, shared by every worker through the control table. SQS may
 * hand two workers copies of the same attempt (a redelivery, a duplicate send); the claim
 * lets exactly one run it. A claim lives while its worker renews it with its heartbeats,
 * so a dead worker's claim lapses and never blocks a later attempt.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { access, grant } from './access.ts';
import { documentClient } from './aws-clients.ts';

/** Claims are items of the control table (the worker passes its name). */
export const ATTEMPT_CLAIMS_ACCESS = access(grant('table:control', 'dynamodb', 'PutItem', 'UpdateItem'));

export interface AttemptClaimsOptions {
  readonly table: string;
  readonly workerId: string;
  /** How long a claim holds without renewal; a few heartbeat intervals. */
  readonly ttlMs: number;
  readonly client?: DynamoDBDocumentClient;
  readonly now?: () => number;
}

const claimId = (jobId: string, attempt: number) => `claim#${jobId}#${attempt}`;

export class AttemptClaims {
  readonly #o: AttemptClaimsOptions;

  constructor(o: AttemptClaimsOptions) {
    this.#o = o;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  #item(jobId: string, attempt: number): Record<string, unknown> {
    const expiresAt = this.#now() + this.#o.ttlMs;
    // `expiration` (epoch seconds) lets the table's TTL remove old claims.
    return { id: claimId(jobId, attempt), workerId: this.#o.workerId, expiresAt, expiration: Math.ceil(expiresAt / 1000) + 3600 };
  }

  /** True when this worker holds the attempt now: it was free, lapsed, or already ours. */
  async claim(jobId: string, attempt: number): Promise<boolean> {
    try {
      await (this.#o.client ?? documentClient()).send(new PutCommand({
        TableName: this.#o.table,
        Item: this.#item(jobId, attempt),
        ConditionExpression: 'attribute_not_exists(id) OR expiresAt < :now OR workerId = :me',
        ExpressionAttributeValues: { ':now': this.#now(), ':me': this.#o.workerId },
      }));
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  /** Extends this worker's claim; false when another worker took it over. */
  async renew(jobId: string, attempt: number): Promise<boolean> {
    const item = this.#item(jobId, attempt);
    try {
      await (this.#o.client ?? documentClient()).send(new UpdateCommand({
        TableName: this.#o.table,
        Key: { id: item['id'] },
        UpdateExpression: 'SET expiresAt = :e, expiration = :x',
        ConditionExpression: 'workerId = :me',
        ExpressionAttributeValues: { ':e': item['expiresAt'], ':x': item['expiration'], ':me': this.#o.workerId },
      }));
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }
}
