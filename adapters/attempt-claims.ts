/**
 * Claims on GPU task attempts, shared by every worker through the control table. SQS may
 * hand two workers copies of the same attempt (a redelivery, a duplicate send); the claim
 * lets exactly one run it. A claim is a lease: its worker renews it with the message's
 * visibility, so a dead worker's claim lapses with its message's visibility and the worker
 * that receives the message again takes the attempt over.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { access, grant } from './access.ts';
import { documentClient } from './aws-clients.ts';

/** Claims are items of the control table (the worker passes its name). */
export const ATTEMPT_CLAIMS_ACCESS = access(grant('table:control', 'dynamodb', 'GetItem', 'PutItem', 'UpdateItem'));

export interface AttemptClaimsOptions {
  readonly table: string;
  readonly workerId: string;
  /** How long a claim holds without renewal: the worker's lease (its SQS visibility). */
  readonly ttlMs: number;
  readonly client?: DynamoDBDocumentClient;
  readonly now?: () => number;
}

/** `run` tells two tasks of one attempt number apart (a forced retry starts counting again). */
const claimId = (jobId: string, attempt: number, run?: string) => `claim#${jobId}#${attempt}${run === undefined ? '' : `#${run}`}`;

/** Held by this worker now, or by another until `expiresAt` (epoch ms) unless it renews. */
export type ClaimResult =
  | { readonly held: true }
  | { readonly held: false; readonly holder: string; readonly expiresAt: number };

export class AttemptClaims {
  readonly #o: AttemptClaimsOptions;

  constructor(o: AttemptClaimsOptions) {
    this.#o = o;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  #item(jobId: string, attempt: number, run?: string): Record<string, unknown> {
    const expiresAt = this.#now() + this.#o.ttlMs;
    // `expiration` (epoch seconds) lets the table's TTL remove old claims.
    return { id: claimId(jobId, attempt, run), workerId: this.#o.workerId, expiresAt, expiration: Math.ceil(expiresAt / 1000) + 3600 };
  }

  /** Takes the attempt when it is free, lapsed, or already ours; otherwise says who holds it and until when. */
  async claim(jobId: string, attempt: number, run?: string): Promise<ClaimResult> {
    const client = this.#o.client ?? documentClient();
    try {
      await client.send(new PutCommand({
        TableName: this.#o.table,
        Item: this.#item(jobId, attempt, run),
        ConditionExpression: 'attribute_not_exists(id) OR expiresAt < :now OR workerId = :me',
        ExpressionAttributeValues: { ':now': this.#now(), ':me': this.#o.workerId },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      return { held: true };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const item = e.Item === undefined
        ? (await client.send(new GetCommand({ TableName: this.#o.table, Key: { id: claimId(jobId, attempt, run) }, ConsistentRead: true }))).Item
        : unmarshallHolder(e.Item);
      return { held: false, holder: String(item?.['workerId'] ?? '?'), expiresAt: Number(item?.['expiresAt'] ?? this.#now() + this.#o.ttlMs) };
    }
  }

  /** Extends this worker's claim; false when another worker took it over. */
  async renew(jobId: string, attempt: number, run?: string): Promise<boolean> {
    const item = this.#item(jobId, attempt, run);
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

/** The low-level item a failed condition returns (attribute values still typed). */
function unmarshallHolder(item: Record<string, { S?: string; N?: string } | undefined>): Record<string, unknown> {
  return { workerId: item['workerId']?.S, expiresAt: item['expiresAt']?.N === undefined ? undefined : Number(item['expiresAt'].N) };
}
