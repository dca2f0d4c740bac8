/**
 * What IAM authorizes for one SDK call: the action(s) and the resource ARN(s), as the
 * service's authorization reference defines them. A call can need several (a batch write
 * to two tables, a copy that reads one object and writes another); all must be allowed.
 */
import type { SdkCall } from '../../adapters/aws-clients.ts';

export interface AuthRequest {
  readonly action: string;
  readonly resource: string;
}

export interface Place {
  readonly region: string;
  readonly account: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const bare = (command: string) => command.replace(/Command$/, '');

export const tableArn = (p: Place, table: string) => `arn:aws:dynamodb:${p.region}:${p.account}:table/${table}`;
export const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;

/** A queue's ARN from its URL (`…/{account}/{name}`), as SQS names it. */
export function queueArnOf(p: Place, queueUrl: string): string {
  const parts = queueUrl.replace(/\/+$/, '').split('/');
  const name = parts.at(-1) ?? '';
  const account = parts.at(-2) ?? '';
  return `arn:aws:sqs:${p.region}:${/^\d{12}$/.test(account) ? account : p.account}:${name}`;
}

function dynamodb(p: Place, command: string, input: Record<string, unknown>): AuthRequest[] {
  const action = `dynamodb:${command}`;
  const items = input['RequestItems'] as Record<string, unknown> | undefined;
  if (command === 'BatchWriteItem' || command === 'BatchGetItem') {
    return Object.keys(items ?? {}).map((t) => ({ action, resource: tableArn(p, t) }));
  }
  if (command === 'TransactWriteItems' || command === 'TransactGetItems') {
    // Transactions are authorized per item, by the item's own action.
    const kinds: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };
    return ((input['TransactItems'] ?? []) as Record<string, { TableName?: string }>[]).flatMap((item) =>
      Object.entries(item).map(([kind, op]) => ({ action: `dynamodb:${kinds[kind] ?? kind}`, resource: tableArn(p, str(op.TableName)) })));
  }
  if (command === 'ListTables') return [{ action, resource: '*' }];
  const table = tableArn(p, str(input['TableName']));
  const index = str(input['IndexName']);
  return [{ action, resource: index === '' ? table : `${table}/index/${index}` }];
}

/** S3 operations and the IAM action that authorizes each (HeadObject is GetObject, listing is ListBucket). */
const S3_ACTIONS: Readonly<Record<string, string>> = {
  HeadObject: 's3:GetObject', GetObject: 's3:GetObject', PutObject: 's3:PutObject', DeleteObject: 's3:DeleteObject',
  CreateMultipartUpload: 's3:PutObject', UploadPart: 's3:PutObject', CompleteMultipartUpload: 's3:PutObject',
  ListObjects: 's3:ListBucket', ListObjectsV2: 's3:ListBucket', HeadBucket: 's3:ListBucket', ListObjectVersions: 's3:ListBucketVersions',
};

function s3(command: string, input: Record<string, unknown>): AuthRequest[] {
  const bucket = bucketArn(str(input['Bucket']));
  const object = (key: unknown) => `${bucket}/${str(key)}`;
  if (command === 'DeleteObjects') {
    return ((input['Delete'] as { Objects?: { Key?: string; VersionId?: string }[] } | undefined)?.Objects ?? [])
      .map((o) => ({ action: o.VersionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion', resource: object(o.Key) }));
  }
  if (command === 'CopyObject') {
    const source = decodeURIComponent(str(input['CopySource'])).replace(/^\//, '');
    return [{ action: 's3:GetObject', resource: `arn:aws:s3:::${source}` }, { action: 's3:PutObject', resource: object(input['Key']) }];
  }
  const tagging = /^(Get|Put|Delete)ObjectTagging$/.exec(command);
  if (tagging) {
    // A version's tags are their own actions: s3:GetObjectVersionTagging, …
    const action = input['VersionId'] === undefined ? `s3:${command}` : `s3:${tagging[1]}ObjectVersionTagging`;
    return [{ action, resource: object(input['Key']) }];
  }
  const versioned = input['VersionId'] !== undefined && (command === 'GetObject' || command === 'HeadObject' || command === 'DeleteObject');
  const action = S3_ACTIONS[command] ?? `s3:${command}`;
  const onBucket = input['Key'] === undefined;
  const target = onBucket ? bucket : object(input['Key']);
  // A PUT that tags its object needs s3:PutObjectTagging as well.
  const tags = command === 'PutObject' && input['Tagging'] !== undefined ? [{ action: 's3:PutObjectTagging', resource: target }] : [];
  return [{ action: versioned ? `${action}Version` : action, resource: target }, ...tags];
}

const SQS_BATCH: Readonly<Record<string, string>> = {
  SendMessageBatch: 'SendMessage', DeleteMessageBatch: 'DeleteMessage', ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

function sqs(p: Place, command: string, input: Record<string, unknown>): AuthRequest[] {
  const action = `sqs:${SQS_BATCH[command] ?? command}`;
  if (command === 'ListQueues') return [{ action, resource: '*' }];
  if (command === 'GetQueueUrl') return [{ action, resource: `arn:aws:sqs:${p.region}:${p.account}:${str(input['QueueName'])}` }];
  return [{ action, resource: queueArnOf(p, str(input['QueueUrl'])) }];
}

function sfn(command: string, input: Record<string, unknown>): AuthRequest[] {
  const action = `states:${command}`;
  // Task tokens name no resource: SendTask* is granted on `*`.
  const resource = str(input['executionArn']) || str(input['stateMachineArn']) || str(input['mapRunArn']) || '*';
  return [{ action, resource }];
}

function secretsmanager(p: Place, command: string, input: Record<string, unknown>): AuthRequest[] {
  const id = str(input['SecretId']);
  return [{ action: `secretsmanager:${command}`, resource: id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${p.region}:${p.account}:secret:${id}` }];
}

/** PutEvents is authorized on each bus its entries name (a name or an ARN; none is the default bus). */
function events(p: Place, command: string, input: Record<string, unknown>): AuthRequest[] {
  const action = `events:${command}`;
  if (command !== 'PutEvents') return [{ action, resource: '*' }];
  const busArn = (bus: string) => (bus.startsWith('arn:') ? bus : `arn:aws:events:${p.region}:${p.account}:event-bus/${bus || 'default'}`);
  const buses = ((input['Entries'] ?? []) as { EventBusName?: string }[]).map((e) => busArn(str(e.EventBusName)));
  return [...new Set(buses)].map((resource) => ({ action, resource }));
}

/** The IAM requests one call makes; an unknown client is authorized as `{service}:{Command}` on `*`. */
export function authRequests(p: Place, call: SdkCall): AuthRequest[] {
  const command = bare(call.command);
  const input = call.input as Record<string, unknown>;
  switch (call.client) {
    case 'DynamoDBClient': return dynamodb(p, command, input);
    case 'S3Client': return s3(command, input);
    case 'SQSClient': return sqs(p, command, input);
    case 'SFNClient': return sfn(command, input);
    case 'SecretsManagerClient': return secretsmanager(p, command, input);
    case 'EventBridgeClient': return events(p, command, input);
    case 'CloudWatchClient': return [{ action: `cloudwatch:${command}`, resource: '*' }];
    default: return [{ action: `${call.client.replace(/Client$/, '').toLowerCase()}:${command}`, resource: '*' }];
  }
}
