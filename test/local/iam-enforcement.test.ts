/**
 * IAM offline: calls are evaluated against the principal's synthesized policies and
 * refused as AWS refuses them, before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { EventBridgeServiceException, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { SFNServiceException, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE, packEvent } from '../../core/lifecycle.ts';
import { EVENT_BUS, SECRETS, physicalName, s3Keys } from '../../core/resources.ts';
import { getObject, putObject } from '../../adapters/artifacts.ts';
import { documentClient, eventBridgeClient, resetClients, sfnClient, sqsClient } from '../../adapters/aws-clients.ts';
import { BreakerStore } from '../../adapters/breaker-store.ts';
import { emitLifecycle, resetEventSettings } from '../../adapters/lifecycle-events.ts';
import { resetSenderSettings } from '../../adapters/webhook-delivery.ts';
import { handler as webhookSender } from '../../lambdas/handlers/webhook-sender.ts';
import { LOCAL_REGION } from '../../local/emulators.ts';
import { LOCAL_ACCOUNT } from '../../local/stack.ts';
import { startLocalBus, type LocalBus } from '../../local/events/bus.ts';
import { startQueuePoller, type QueuePoller } from '../../local/events/queue-poller.ts';
import { asPrincipal, enforceIam, runsAs, type Enforcement } from '../../local/iam/enforce.ts';
import { PolicyEvaluator } from '../../local/iam/evaluate.ts';
import { WEBHOOK_SENDER_PRINCIPAL, loadPolicies } from '../../local/iam/policies.ts';
import { authRequests, queueArnOf } from '../../local/iam/requests.ts';
import type { Provisioned } from '../../local/provision.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { provisionFresh } from '../support/aws.ts';
import { eventually } from '../support/eventually.ts';
import { enforceIamHere } from '../support/iam.ts';
import { startReceiver, type Receiver } from '../integration/support/webhook-receiver.ts';

let resources: Provisioned;
let iam: Enforcement;
let bus: LocalBus;
const place = { region: 'us-east-1', account: '000000000000' };
const tableArn = (name: string) => `arn:aws:dynamodb:us-east-1:000000000000:table/${name}`;
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

beforeAll(async () => {
  resources = await provisionFresh();
  // The lifecycle bus as the offline stack runs it: its name is what the policies' bus ARN is bound to.
  bus = await startLocalBus({ busName: physicalName(EVENT_BUS.name, `b${randomUUID().slice(0, 8)}`), region: LOCAL_REGION, accountId: LOCAL_ACCOUNT });
  Object.assign(process.env, { [EVENT_BUS.envVar]: bus.busName, AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url });
  resetClients();
  resetEventSettings();
  iam = await enforceIamHere();
});

afterAll(async () => {
  iam?.stop();
  await bus?.stop();
});

describe('the circuit breakers\' writes', () => {
  it('are allowed to SegmentationCall, whose access now declares its breaker store (denied before: issue 12 item 2)', async () => {
    // Prepare
    iam.clear();
    const breakers = new BreakerStore({ table: resources.tables.control });

    // Act
    await asPrincipal('SegmentationCall', () => breakers.onFailure('segmentation'));

    // Assess
    expect(iam.denials()).toEqual([]);
    expect((await breakers.read('segmentation')).breaker.failures).toBe(1);
  });
});

describe('a call outside the grants', () => {
  it('is refused as DynamoDB refuses it, and recorded', async () => {
    // Prepare
    iam.clear();
    const packs = tableArn(resources.tables.packs);

    // Act
    const refused = await refusal(asPrincipal('SegmentationCall', () =>
      documentClient().send(new DeleteCommand({ TableName: resources.tables.packs, Key: { packId: 'p1' } }))));

    // Assess
    expect(refused).toBeInstanceOf(DynamoDBServiceException);
    expect(refused).toMatchObject({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'User: arn:aws:sts::000000000000:assumed-role/vto-SegmentationCall-role/vto-SegmentationCall is not authorized to perform: '
        + `dynamodb:DeleteItem on resource: ${packs} because no identity-based policy allows the dynamodb:DeleteItem action`,
    });
    expect(iam.denials()).toEqual([expect.objectContaining({ principal: 'SegmentationCall', action: 'dynamodb:DeleteItem', resource: packs })]);
  });

  it('is refused as S3 refuses it: PackLoad may not read artifacts', async () => {
    // Prepare
    const key = s3Keys.upload('p-iam', 'person.png');
    await putObject(key, Buffer.from('x'));

    // Act
    const refused = await refusal(asPrincipal('PackLoad', () => getObject(key)));

    // Assess
    expect(refused).toBeInstanceOf(S3ServiceException);
    expect(refused).toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
      message: expect.stringContaining(`s3:GetObject on resource: "arn:aws:s3:::${resources.buckets.artifacts}/${key}" because no identity-based policy allows`),
    });
  });

  it('is refused as Step Functions refuses it: a stage function may not start executions', async () => {
    // Act
    const refused = await refusal(asPrincipal('JobStart', () =>
      sfnClient().send(new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:vto-job', input: '{}' }))));

    // Assess
    expect(refused).toBeInstanceOf(SFNServiceException);
    expect(refused).toMatchObject({ name: 'AccessDeniedException', message: expect.stringContaining('states:StartExecution on resource: arn:aws:states:us-east-1:000000000000:stateMachine:vto-job') });
  });

  it('is not checked when no principal makes it (a test or an operator seeding data)', async () => {
    await expect(documentClient().send(new DeleteCommand({ TableName: resources.tables.packs, Key: { packId: 'p1' } }))).resolves.toBeDefined();
  });
});

describe('lifecycle events put on the bus', () => {
  const busArn = () => `arn:aws:events:us-east-1:000000000000:event-bus/${bus.busName}`;

  it('are refused as EventBridge refuses them to a principal without the grant (the GPU worker emits none)', async () => {
    // Prepare
    iam.clear();
    const entry = { EventBusName: bus.busName, Source: EVENT_SOURCE, DetailType: 'Pack Started', Detail: '{}' };

    // Act
    const refused = await refusal(asPrincipal('GpuWorker', () => eventBridgeClient().send(new PutEventsCommand({ Entries: [entry] }))));

    // Assess
    expect(refused).toBeInstanceOf(EventBridgeServiceException);
    expect(refused).toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
      message: 'User: arn:aws:sts::000000000000:assumed-role/vto-GpuWorker-role/vto-GpuWorker is not authorized to perform: '
        + `events:PutEvents on resource: ${busArn()} because no identity-based policy allows the events:PutEvents action`,
    });
    expect(iam.denials()).toEqual([expect.objectContaining({ principal: 'GpuWorker', action: 'events:PutEvents', resource: busArn() })]);
    expect(bus.events()).toEqual([]);
  });

  it('reach the bus from a function granted them by its declared access (PackFinalize), with nothing refused', async () => {
    // Prepare
    iam.clear();
    const detail = packEvent({ packId: `p-${randomUUID()}`, name: 'iam', status: 'complete', jobCount: 1 }, new Date().toISOString())!;

    // Act
    await asPrincipal('PackFinalize', () => emitLifecycle(detail));

    // Assess (the local bus keeps an event before it answers PutEvents)
    expect(bus.events().map((e) => e.event.detail['eventId'])).toEqual([detail.eventId]);
    expect(iam.denials()).toEqual([]);
  });

  it('are refused on another bus than the one granted', async () => {
    const refused = await refusal(asPrincipal('PackFinalize', () => eventBridgeClient().send(new PutEventsCommand({
      Entries: [{ EventBusName: 'default', Source: EVENT_SOURCE, DetailType: 'Pack Started', Detail: '{}' }],
    }))));
    expect(refused).toMatchObject({ name: 'AccessDeniedException', message: expect.stringContaining('events:PutEvents on resource: arn:aws:events:us-east-1:000000000000:event-bus/default') });
  });
});

describe('the webhook sender, run as its role as Lambda\'s SQS event source runs it', () => {
  const SECRET = 'a-webhook-signing-secret-of-some-length';
  let receiver: Receiver;
  let raw: SQSClient;
  let poller: QueuePoller;
  const saved = { secret: process.env['VTO_WEBHOOK_SECRET'], loopback: process.env['VTO_WEBHOOK_ALLOW_LOOPBACK'], scale: process.env['VTO_TIME_SCALE'] };
  const restore = (name: string, v: string | undefined) => (v === undefined ? delete process.env[name] : (process.env[name] = v));

  /** A pack with a webhook, and its terminal event on the webhook queue as the bus rule puts it there. */
  async function queueDelivery(path: string): Promise<string> {
    const packId = `p-${randomUUID()}`;
    await documentClient().send(new PutCommand({ TableName: resources.tables.packs, Item: { packId, kind: 'pack', webhook: { url: `${receiver.url}${path}`, events: [] } } }));
    const detail = packEvent({ packId, name: 'iam', status: 'complete', jobCount: 1 }, new Date().toISOString())!;
    await raw.send(new SendMessageCommand({
      QueueUrl: resources.queues.webhooks.url, MessageBody: JSON.stringify({ id: randomUUID(), source: EVENT_SOURCE, 'detail-type': 'Pack Completed', detail }),
    }));
    return packId;
  }
  const deliveriesTo = (path: string) => receiver.received.filter((r) => r.path === path);

  beforeAll(async () => {
    receiver = await startReceiver(SECRET);
    // A retry's backoff of 30 s becomes 1 s.
    Object.assign(process.env, { VTO_WEBHOOK_SECRET: SECRET, VTO_WEBHOOK_ALLOW_LOOPBACK: 'true', VTO_TIME_SCALE: '0.02' });
    resetSenderSettings();
    raw = new SQSClient({ useQueueUrlAsEndpoint: false });
    // The poller's own receive and delete are Lambda's (not checked); the handler runs as the sender.
    poller = startQueuePoller({
      sqs: raw, queueUrl: resources.queues.webhooks.url, queueArn: resources.queues.webhooks.arn, name: 'vto-webhook-sender',
      handler: runsAs(WEBHOOK_SENDER_PRINCIPAL, webhookSender),
    });
  });

  afterAll(async () => {
    await poller?.stop();
    raw?.destroy();
    await receiver?.stop();
    restore('VTO_WEBHOOK_SECRET', saved.secret);
    restore('VTO_WEBHOOK_ALLOW_LOOPBACK', saved.loopback);
    restore('VTO_TIME_SCALE', saved.scale);
    resetSenderSettings();
  });

  it('delivers, retries after a backoff and dead-letters with every call allowed by its declared grants', { timeout: 60_000 }, async () => {
    // Prepare
    iam.clear();
    receiver.script('/flaky', [503, 200]);
    receiver.script('/gone', [410]);

    // Act
    await queueDelivery('/ok');
    await queueDelivery('/flaky');
    const gone = await queueDelivery('/gone');
    await eventually(() => [deliveriesTo('/ok').length, deliveriesTo('/flaky').length, deliveriesTo('/gone').length], (n) => n.join() === '1,2,1', 'the deliveries', { timeoutMs: 45_000 });
    const pack = await eventually(async () => (await documentClient().send(new GetCommand({ TableName: resources.tables.packs, Key: { packId: gone } }))).Item,
      (item) => item?.['webhookFailureCount'] === 1, 'the dead letter on the pack', { timeoutMs: 10_000 });
    const deadLetters = await raw.send(new ReceiveMessageCommand({ QueueUrl: resources.queues.webhooks.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));

    // Assess: GetItem, ChangeMessageVisibility (the 503's backoff), SendMessage to the dead-letter queue, UpdateItem, none refused.
    expect(iam.denials()).toEqual([]);
    expect(deliveriesTo('/flaky').map((r) => r.answered)).toEqual([503, 200]);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    expect(pack?.['webhookFailures']).toEqual([expect.objectContaining({ status: 410, url: `${receiver.url}/gone` })]);
    expect((deadLetters.Messages ?? []).map((m) => (JSON.parse(m.Body ?? '{}') as { detail: { packId: string } }).detail.packId)).toEqual([gone]);
  });

  it('is refused what its role does not grant, as SQS refuses it: sending to the GPU queue', async () => {
    // Prepare
    iam.clear();
    const gpu = queueArnOf(place, resources.queues.gpu.url);

    // Act
    const refused = await refusal(asPrincipal(WEBHOOK_SENDER_PRINCIPAL, () =>
      sqsClient().send(new SendMessageCommand({ QueueUrl: resources.queues.gpu.url, MessageBody: '{}' }))));

    // Assess
    expect(refused).toBeInstanceOf(SQSServiceException);
    expect(refused).toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
      message: 'User: arn:aws:sts::000000000000:assumed-role/vto-WebhookSender-role/vto-WebhookSender is not authorized to perform: '
        + `sqs:SendMessage on resource: ${gpu} because no identity-based policy allows the sqs:SendMessage action`,
    });
    expect(iam.denials()).toEqual([expect.objectContaining({ principal: WEBHOOK_SENDER_PRINCIPAL, action: 'sqs:SendMessage', resource: gpu })]);
  });

  it('may read its signing secret and no other (the offline sender signs with VTO_WEBHOOK_SECRET, so only the policy says so)', async () => {
    // Prepare
    const arn = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`;
    const evaluator = new PolicyEvaluator(await loadPolicies(), place, { [SECRETS.webhook.envVar]: arn('vto-webhook-AbCdEf'), [SECRETS.hostedInpaint.envVar]: arn('vto-hosted-AbCdEf') });
    const read = (name: string) => evaluator.verdict(WEBHOOK_SENDER_PRINCIPAL, { action: 'secretsmanager:GetSecretValue', resource: arn(name) });

    // Act + Assess
    expect([read('vto-webhook-AbCdEf'), read('vto-hosted-AbCdEf')]).toEqual(['allowed', 'implicitDeny']);
    expect(evaluator.verdict(WEBHOOK_SENDER_PRINCIPAL, { action: 'secretsmanager:DescribeSecret', resource: arn('vto-webhook-AbCdEf') })).toBe('implicitDeny');
  });

  it('is refused its first call when its role has no grants: the handler\'s calls are checked as the sender', async () => {
    // Prepare: the same policies with the sender's statements taken away.
    const policies = await loadPolicies();
    iam.stop();
    const bare = enforceIam({ policies: { principals: { ...policies.principals, [WEBHOOK_SENDER_PRINCIPAL]: [] } }, ...place });
    const packId = `p-${randomUUID()}`;
    const detail = packEvent({ packId, name: 'iam', status: 'complete', jobCount: 1 }, new Date().toISOString())!;
    const record = {
      messageId: 'm1', receiptHandle: 'r1', body: JSON.stringify({ detail }), md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: resources.queues.webhooks.arn, awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'local', ApproximateFirstReceiveTimestamp: String(Date.now()) }, messageAttributes: {},
    };

    try {
      // Act
      const answer = await runsAs(WEBHOOK_SENDER_PRINCIPAL, webhookSender)({ Records: [record] }, lambdaContext({ functionName: 'vto-webhook-sender', deadline: Date.now() + 30_000 }));

      // Assess: refused, so the message is handed back for another try.
      expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
      expect(bare.denials()).toEqual([expect.objectContaining({ principal: WEBHOOK_SENDER_PRINCIPAL, action: 'dynamodb:GetItem', resource: tableArn(resources.tables.packs) })]);
    } finally {
      bare.stop();
      iam = await enforceIamHere();
    }
  });
});

describe('what IAM authorizes for a call', () => {
  it('names every table of a batch write, the index of a query, and the bucket of a listing', () => {
    expect(authRequests(place, { client: 'DynamoDBClient', command: 'BatchWriteItemCommand', input: { RequestItems: { a: [], b: [] } } }))
      .toEqual([{ action: 'dynamodb:BatchWriteItem', resource: tableArn('a') }, { action: 'dynamodb:BatchWriteItem', resource: tableArn('b') }]);
    expect(authRequests(place, { client: 'DynamoDBClient', command: 'QueryCommand', input: { TableName: 'jobs', IndexName: 'byPack' } }))
      .toEqual([{ action: 'dynamodb:Query', resource: `${tableArn('jobs')}/index/byPack` }]);
    expect(authRequests(place, { client: 'S3Client', command: 'ListObjectsV2Command', input: { Bucket: 'b', Prefix: 'packs/' } }))
      .toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::b' }]);
    expect(authRequests(place, { client: 'S3Client', command: 'HeadObjectCommand', input: { Bucket: 'b', Key: 'k' } }))
      .toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }]);
  });

  it('asks for the version actions when a call names a version, and for s3:PutObjectTagging when a PUT tags', () => {
    const s3 = (command: string, input: Record<string, unknown>) => authRequests(place, { client: 'S3Client', command: `${command}Command`, input });
    expect(s3('DeleteObjects', { Bucket: 'b', Delete: { Objects: [{ Key: 'k', VersionId: 'v' }, { Key: 'm' }] } }))
      .toEqual([{ action: 's3:DeleteObjectVersion', resource: 'arn:aws:s3:::b/k' }, { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/m' }]);
    expect(s3('ListObjectVersions', { Bucket: 'b', Prefix: 'packs/' })).toEqual([{ action: 's3:ListBucketVersions', resource: 'arn:aws:s3:::b' }]);
    expect(s3('DeleteObjectTagging', { Bucket: 'b', Key: 'k' })).toEqual([{ action: 's3:DeleteObjectTagging', resource: 'arn:aws:s3:::b/k' }]);
    expect(s3('GetObjectTagging', { Bucket: 'b', Key: 'k', VersionId: 'v' })).toEqual([{ action: 's3:GetObjectVersionTagging', resource: 'arn:aws:s3:::b/k' }]);
    expect(s3('PutObject', { Bucket: 'b', Key: 'k', Tagging: 'a=1' }))
      .toEqual([{ action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }, { action: 's3:PutObjectTagging', resource: 'arn:aws:s3:::b/k' }]);
  });

  it('authorizes PutEvents on each bus its entries name, by name or ARN, the default bus when none', () => {
    const arn = (name: string) => `arn:aws:events:us-east-1:000000000000:event-bus/${name}`;
    expect(authRequests(place, { client: 'EventBridgeClient', command: 'PutEventsCommand', input: { Entries: [{ EventBusName: 'a' }, { EventBusName: arn('b') }, {}, { EventBusName: 'a' }] } }))
      .toEqual([{ action: 'events:PutEvents', resource: arn('a') }, { action: 'events:PutEvents', resource: arn('b') }, { action: 'events:PutEvents', resource: arn('default') }]);
  });

  it('authorizes task-token answers on "*" and queue calls on the queue ARN SQS reports', () => {
    expect(authRequests(place, { client: 'SFNClient', command: 'SendTaskSuccessCommand', input: { taskToken: 't', output: '{}' } }))
      .toEqual([{ action: 'states:SendTaskSuccess', resource: '*' }]);
    expect(queueArnOf(place, resources.queues.gpu.url)).toBe(resources.queues.gpu.arn);
  });
});
