/**
 * Idempotency-Key handling with Powertools idempotency on the control table (key
 * attribute `id`, expiry `expiration`). The key is scoped to the caller and the route;
 * the body is the validated payload: the same key with another body is refused (409).
 * Only successes are remembered: a refusal deletes the record, so a corrected retry runs.
 */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import type { Context } from 'aws-lambda';
import { dynamoClient } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import { access, grant } from '../../adapters/access.ts';

/** Powertools' DynamoDB persistence layer: conditional put, get, update and delete of the record. */
export const IDEMPOTENCY_ACCESS = access(grant('table:control', 'dynamodb', 'PutItem', 'GetItem', 'UpdateItem', 'DeleteItem'));
import { ApiError, conflict } from './errors.ts';
import { apiSettings } from './settings.ts';


export interface IdempotentCall {
  /** The Idempotency-Key header; without one the work just runs. */
  readonly key: string | undefined;
  /** Who asks (the IAM principal): keys of different callers never meet. */
  readonly caller: string;
  /** Route and path ids, e.g. `refinePack:<packId>`. */
  readonly scope: string;
  /** What "the same request" means: the validated body. */
  readonly payload: JSONValue;
  readonly lambda: Context;
}

export interface IdempotentResult<T> {
  readonly value: T;
  readonly replayed: boolean;
}

export async function idempotent<T extends JSONValue>(call: IdempotentCall, work: () => Promise<T>): Promise<IdempotentResult<T>> {
  if (call.key === undefined) return { value: await work(), replayed: false };
  // A config and a store per call: both hold per-invocation state, and the local gateway
  // runs requests side by side in one process.
  const idempotencyConfig = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    payloadValidationJmesPath: 'payload',
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: apiSettings().idempotencyTtlSeconds,
    responseHook: (response) => ({ ...(response as { value: JSONValue }), replayed: true }),
  });
  idempotencyConfig.registerLambdaContext(call.lambda);
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: config().controlTable, keyAttr: 'id', expiryAttr: 'expiration', // Powertools takes a plain DynamoDBClient, not the document client the store uses.
    awsSdkV3Client: dynamoClient(),
  });
  const run = makeIdempotent(
    async (_input: { key: string; payload: JSONValue }): Promise<JSONValue> => ({ value: await work(), replayed: false }),
    { persistenceStore, config: idempotencyConfig, keyPrefix: `idempotency#${call.scope}` },
  );
  try {
    const out = (await run({ key: `${call.caller}#${call.key}`, payload: call.payload })) as unknown as IdempotentResult<T>;
    return { value: out.value, replayed: out.replayed === true };
  } catch (e) {
    throw idempotencyRefusal(e) ?? e;
  }
}

function idempotencyRefusal(e: unknown): ApiError | undefined {
  const name = (e as { name?: unknown }).name;
  if (name === 'IdempotencyValidationError') {
    return conflict('IdempotencyKeyReused', 'This Idempotency-Key was used with a different body; use a new key for a new request');
  }
  if (name === 'IdempotencyAlreadyInProgressError') {
    return conflict('IdempotencyInProgress', 'A request with this Idempotency-Key is still being processed; retry shortly', { 'retry-after': '1' });
  }
  if (name === 'IdempotencyPersistenceLayerError') {
    return new ApiError(503, 'ServiceUnavailable', 'The idempotency store could not be reached; retry', {
      headers: { 'retry-after': String(apiSettings().retryAfterSeconds) }, cause: e,
    });
  }
  return undefined;
}
