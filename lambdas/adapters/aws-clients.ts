/**
 * AWS SDK clients, created once per process. Endpoints come from the standard
 * `AWS_ENDPOINT_URL_*` variables, so the same code talks to AWS, LocalStack or the
 * offline emulators. Every call has a bounded timeout and bounded SDK retries.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const requestHandler = () => new NodeHttpHandler({ connectionTimeout: 3000, requestTimeout: 10_000 });

let ddb: DynamoDBDocumentClient | undefined;
let s3: S3Client | undefined;
let sqs: SQSClient | undefined;
let sfn: SFNClient | undefined;

export function documentClient(): DynamoDBDocumentClient {
  ddb ??= DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 3, requestHandler: requestHandler() }), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return ddb;
}

export function s3Client(): S3Client {
  // Path style keeps bucket names out of hostnames, which emulators need; AWS accepts it.
  s3 ??= new S3Client({ maxAttempts: 3, forcePathStyle: process.env['AWS_ENDPOINT_URL_S3'] !== undefined, requestHandler: requestHandler() });
  return s3;
}

export function sqsClient(): SQSClient {
  // Queue URLs from emulators name hosts that do not resolve; the configured endpoint does.
  sqs ??= new SQSClient({ maxAttempts: 3, useQueueUrlAsEndpoint: false, requestHandler: new NodeHttpHandler({ connectionTimeout: 3000, requestTimeout: 30_000 }) });
  return sqs;
}

export function sfnClient(): SFNClient {
  sfn ??= new SFNClient({ maxAttempts: 3, requestHandler: requestHandler() });
  return sfn;
}
