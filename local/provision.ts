/**
 * Creates the tables, queues and bucket of core/resources.ts on the emulators, with the
 * same keys, indexes and queue settings the CDK stack deploys.
 */
import { CreateTableCommand, UpdateTimeToLiveCommand, type DynamoDBClient, type AttributeDefinition } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { BUCKETS, QUEUES, TABLES, physicalName, type TableDef } from '../core/resources.ts';

export interface Provisioned {
  readonly tables: Record<keyof typeof TABLES, string>;
  readonly queues: Record<keyof typeof QUEUES, { url: string; arn: string; dlqUrl: string; dlqArn: string }>;
  readonly buckets: Record<keyof typeof BUCKETS, string>;
  /** The environment variables handlers and workers read to find these resources. */
  readonly env: Record<string, string>;
}

function attributeDefinitions(t: TableDef): AttributeDefinition[] {
  const attrs = new Map<string, 'S' | 'N'>();
  for (const k of [t.partitionKey, t.sortKey, ...t.indexes.flatMap((i) => [i.partitionKey, i.sortKey])]) {
    if (k) attrs.set(k.name, k.type);
  }
  return [...attrs].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
}

async function createTable(ddb: DynamoDBClient, t: TableDef, name: string): Promise<void> {
  await ddb.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: attributeDefinitions(t),
    KeySchema: [
      { AttributeName: t.partitionKey.name, KeyType: 'HASH' },
      ...(t.sortKey ? [{ AttributeName: t.sortKey.name, KeyType: 'RANGE' as const }] : []),
    ],
    ...(t.indexes.length > 0 && {
      GlobalSecondaryIndexes: t.indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey.name, KeyType: 'HASH' as const },
          ...(i.sortKey ? [{ AttributeName: i.sortKey.name, KeyType: 'RANGE' as const }] : []),
        ],
        Projection: { ProjectionType: 'ALL' as const },
      })),
    }),
  }));
  if (t.ttlAttribute) {
    await ddb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: t.ttlAttribute, Enabled: true } }));
  }
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = res.Attributes?.['QueueArn'];
  if (!arn) throw new Error(`queue ${url} has no ARN`);
  return arn;
}

export async function provision(
  clients: { ddb: DynamoDBClient; sqs: SQSClient; s3: S3Client },
  prefix: string,
): Promise<Provisioned> {
  const tables = {} as Record<keyof typeof TABLES, string>;
  const env: Record<string, string> = {};
  await Promise.all(Object.entries(TABLES).map(async ([key, def]) => {
    const name = physicalName(def.name, prefix);
    await createTable(clients.ddb, def, name);
    tables[key as keyof typeof TABLES] = name;
    env[def.envVar] = name;
  }));

  const queues = {} as Provisioned['queues'];
  for (const [key, def] of Object.entries(QUEUES)) {
    const dlq = await clients.sqs.send(new CreateQueueCommand({ QueueName: physicalName(def.deadLetter.name, prefix) }));
    const dlqUrl = dlq.QueueUrl as string;
    const dlqArn = await queueArn(clients.sqs, dlqUrl);
    const q = await clients.sqs.send(new CreateQueueCommand({
      QueueName: physicalName(def.name, prefix),
      Attributes: {
        VisibilityTimeout: String(def.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(def.retentionSeconds),
        ReceiveMessageWaitTimeSeconds: String(def.receiveWaitSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: def.deadLetter.maxReceiveCount }),
      },
    }));
    const url = q.QueueUrl as string;
    queues[key as keyof typeof QUEUES] = { url, arn: await queueArn(clients.sqs, url), dlqUrl, dlqArn };
    env[def.envVar] = url;
    env[def.deadLetter.envVar] = dlqUrl;
  }

  const buckets = {} as Record<keyof typeof BUCKETS, string>;
  for (const [key, def] of Object.entries(BUCKETS)) {
    const name = physicalName(def.name, prefix);
    await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
    // Versioned as lib/data.ts deploys it (modelled by local/s3-versioning.ts).
    await clients.s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    buckets[key as keyof typeof BUCKETS] = name;
    env[def.envVar] = name;
  }
  return { tables, queues, buckets, env };
}
