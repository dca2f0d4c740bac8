/**
 * IAM offline: calls are evaluated against the principal's synthesized policies and
 * refused as AWS refuses them, before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { EventBridgeServiceException, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { SFNServiceException, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE, packEvent } from '../../core/lifecycle.ts';
import { EVENT_BUS, physicalName, s3Keys } from '../../core/resources.ts';
import { getObject, putObject } from '../../adapters/artifacts.ts';
import { documentClient, eventBridgeClient, resetClients, sfnClient } from '../../adapters/aws-clients.ts';
import { BreakerStore } from '../../adapters/breaker-store.ts';
import { emitLifecycle, resetEventSettings } from '../../adapters/lifecycle-events.ts';
import { LOCAL_REGION } from '../../local/emulators.ts';
import { LOCAL_ACCOUNT } from '../../local/stack.ts';
import { startLocalBus, type LocalBus } from '../../local/events/bus.ts';
import { asPrincipal, type Enforcement } from '../../local/iam/enforce.ts';
import { authRequests, queueArnOf } from '../../local/iam/requests.ts';
import type { Provisioned } from '../../local/provision.ts';
import { provisionFresh } from '../support/aws.ts';
import { enforceIamHere } from '../support/iam.ts';

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
