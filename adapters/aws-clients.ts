/**
 * AWS SDK clients, created once per process. Endpoints come from the standard
 * `AWS_ENDPOINT_URL_*` variables, so the same code talks to AWS, LocalStack or the
 * offline emulators. Every call has a bounded timeout and bounded SDK retries.
 *
 * Every client carries one middleware that hands each call to the process's call check, if
 * one is set. None is set on AWS (IAM decides there); the offline stack and the tests set
 * one that evaluates the call against the synthesized IAM policies (local/iam/).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { InitializeHandler, InitializeHandlerArguments, MiddlewareStack, Pluggable } from '@smithy/types';
import { onReset } from './process-caches.ts';

/** One SDK call as a check sees it, before anything is sent. */
export interface SdkCall {
  /** The client's name, e.g. `DynamoDBClient`. */
  readonly client: string;
  /** The command's name, e.g. `PutItemCommand` (a document client's PutCommand arrives as PutItemCommand). */
  readonly command: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/** Throws to refuse the call; returns to let it go. */
export type CallCheck = (call: SdkCall) => void;

let callCheck: CallCheck | undefined;

/** Sets (or with no argument clears) the check every client of the process runs before each call. */
export function setCallCheck(check?: CallCheck): void {
  callCheck = check;
}

/** The middleware, for clients made elsewhere (tests inject their own). */
export const callCheckPlugin: Pluggable<object, object> = {
  applyToStack(stack: MiddlewareStack<object, object>) {
    stack.add((next: InitializeHandler<object, object>, context) => async (args: InitializeHandlerArguments<object>) => {
      callCheck?.({ client: String(context.clientName), command: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    }, { step: 'initialize', name: 'vtoCallCheck', priority: 'high', override: true });
  },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- every client's stack, whatever its command types
function checked<T extends { middlewareStack: MiddlewareStack<any, any> }>(client: T): T {
  client.middlewareStack.use(callCheckPlugin);
  return client;
}

const requestHandler = () => new NodeHttpHandler({ connectionTimeout: 3000, requestTimeout: 10_000 });

let ddbRaw: DynamoDBClient | undefined;
let ddb: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;
let sqs: SQSClient | undefined;
let sfn: SFNClient | undefined;
let secrets: SecretsManagerClient | undefined;
let eventBridge: EventBridgeClient | undefined;

/** The plain DynamoDB client, for libraries that take one (Powertools idempotency). */
export function dynamoClient(): DynamoDBClient {
  ddbRaw ??= checked(new DynamoDBClient({ maxAttempts: 3, requestHandler: requestHandler() }));
  return ddbRaw;
}

export function documentClient(): DynamoDBDocumentClient {
  ddb ??= DynamoDBDocumentClient.from(dynamoClient(), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return ddb;
}

export function s3Client(): S3Client {
  // Path style keeps bucket names out of hostnames, which emulators need; AWS accepts it.
  s3 ??= checked(new S3Client({ maxAttempts: 3, forcePathStyle: process.env['AWS_ENDPOINT_URL_S3'] !== undefined, requestHandler: requestHandler() }));
  return s3;
}

export function sqsClient(): SQSClient {
  // Queue URLs from emulators name hosts that do not resolve; the configured endpoint does.
  sqs ??= checked(new SQSClient({ maxAttempts: 3, useQueueUrlAsEndpoint: false, requestHandler: new NodeHttpHandler({ connectionTimeout: 3000, requestTimeout: 30_000 }) }));
  return sqs;
}

export function sfnClient(): SFNClient {
  sfn ??= checked(new SFNClient({ maxAttempts: 3, requestHandler: requestHandler() }));
  return sfn;
}

export function secretsClient(): SecretsManagerClient {
  secrets ??= checked(new SecretsManagerClient({ maxAttempts: 3, requestHandler: requestHandler() }));
  return secrets;
}

export function eventBridgeClient(): EventBridgeClient {
  // One attempt more than the others: a lost lifecycle event is not retried by anyone else.
  eventBridge ??= checked(new EventBridgeClient({ maxAttempts: 4, requestHandler: requestHandler() }));
  return eventBridge;
}

/**
 * Drops the cached clients. A process that starts a second offline stack after stopping the
 * first (a benchmark's variants) would otherwise keep calling the first stack's endpoints.
 */
export function resetClients(): void {
  for (const c of [ddb, ddbRaw, s3, sqs, sfn, secrets, eventBridge]) c?.destroy();
  ddb = ddbRaw = s3 = sqs = sfn = secrets = eventBridge = undefined;
}
onReset(resetClients);
