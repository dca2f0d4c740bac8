/**
 * Per-file access to the emulators started by the global setup: a unique resource
 * prefix per test file, so files running in parallel never share a table or queue.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { provision, type Provisioned } from '../../local/provision.ts';

export function awsEnv(): Record<string, string> {
  const env = inject('awsEnv');
  Object.assign(process.env, env);
  return env;
}

/** Creates a fresh set of tables, queues and the bucket, and exports their env vars. */
export async function provisionFresh(): Promise<Provisioned> {
  awsEnv();
  const ddb = new DynamoDBClient({});
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  const s3 = new S3Client({ forcePathStyle: true });
  try {
    const p = await provision({ ddb, sqs, s3 }, `t${randomUUID().slice(0, 8)}`);
    Object.assign(process.env, p.env);
    return p;
  } finally {
    ddb.destroy();
    sqs.destroy();
    s3.destroy();
  }
}
