/**
 * The app's side of the pipeline on AWS: the event bus lifecycle events go to, and the
 * signed webhooks fed from it. Every function that changes a pack's or a job's status
 * emits (adapters/lifecycle-events.ts): it gets the bus name here; PutEvents on the bus and
 * write access to the control table (the claim that makes each transition announce once)
 * come with its declared access (LIFECYCLE_EVENTS_ACCESS, granted by lib/grants.ts on the
 * bus's name, eventBusName). Events link to API paths, not URLs: the state functions cannot
 * be given the API's URL (the API depends on the machines, which depend on them). A rule on
 * the bus feeds an SQS queue; the sender reads it (SQS event source, partial batch failures), signs with the secret from
 * Secrets Manager, retries with backoff for 24 h by setting the message's visibility, and
 * moves what it gives up on to the dead-letter queue and onto the pack. Those calls are
 * granted as declared beside them (WEBHOOK_SENDER_ACCESS), through grantAccess.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { WEBHOOK_RULE_PATTERN } from '../core/lifecycle.ts';
import { BUCKETS, QUEUES, SECRETS, TABLES } from '../core/resources.ts';
import { EVENT_BUS_ENV } from '../adapters/lifecycle-events.ts';
import { WEBHOOK_SENDER_ACCESS } from '../adapters/webhook-delivery.ts';
import { eventBusName, grantAccess } from './grants.ts';
import type { PipelineData, TableKey } from './data.ts';
import { acknowledge } from './nag.ts';
import { PipelineFunction } from './pipeline-function.ts';

export const WEBHOOK_SENDER_ENTRY = 'lambdas/handlers/webhook-sender.ts';

export interface PipelineEventsProps {
  readonly data: PipelineData;
  /** Every function that changes a pack's or a job's status. */
  readonly emitters: readonly PipelineFunction[];
  readonly layers?: readonly ILayerVersion[];
  /** Deploy-time settings every function gets (lib/settings.ts). @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  readonly logRetention?: RetentionDays;
  readonly logRemovalPolicy?: RemovalPolicy;
}

export class PipelineEvents extends Construct {
  public readonly bus: EventBus;
  public readonly webhookQueue: Queue;
  public readonly webhookDeadLetterQueue: Queue;
  public readonly webhookSecret: Secret;
  public readonly sender: PipelineFunction;

  constructor(scope: Construct, id: string, props: PipelineEventsProps) {
    super(scope, id);
    const { data } = props;
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;
    this.bus = new EventBus(this, 'Bus', { eventBusName: eventBusName(this), description: 'VTO lifecycle events: packs started and ended, jobs completed, failed, recovered, cancelled (source vto.pipeline)' });

    for (const e of props.emitters) e.function.addEnvironment(EVENT_BUS_ENV, this.bus.eventBusName);

    const def = QUEUES.webhooks;
    this.webhookDeadLetterQueue = new Queue(this, 'WebhookDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14), removalPolicy,
    });
    this.webhookQueue = new Queue(this, 'WebhookQueue', {
      encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true,
      visibilityTimeout: Duration.seconds(def.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(def.retentionSeconds),
      receiveMessageWaitTime: Duration.seconds(def.receiveWaitSeconds),
      deadLetterQueue: { queue: this.webhookDeadLetterQueue, maxReceiveCount: def.deadLetter.maxReceiveCount },
      removalPolicy,
    });
    new Rule(this, 'WebhookRule', {
      eventBus: this.bus,
      description: 'Lifecycle events to the webhook sender; it delivers those a pack asked for',
      eventPattern: { source: [...WEBHOOK_RULE_PATTERN.source] },
      targets: [new SqsQueue(this.webhookQueue, { deadLetterQueue: this.webhookDeadLetterQueue, retryAttempts: 185, maxEventAge: Duration.hours(24) })],
    });

    this.webhookSecret = new Secret(this, 'WebhookSecret', {
      description: 'Signs webhook deliveries (Vto-Signature: HMAC-SHA256). Apps verify with this value.',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    acknowledge(this.webhookSecret, {
      id: 'AwsSolutions-SMG4',
      reason: 'Every receiving app holds this value to verify signatures; an automatic rotation would break them all at once. Rotate it by hand with the apps.',
    });

    const environment: Record<string, string> = {
      ...props.environment,
      [def.envVar]: this.webhookQueue.queueUrl,
      [def.deadLetter.envVar]: this.webhookDeadLetterQueue.queueUrl,
      [SECRETS.webhook.envVar]: this.webhookSecret.secretArn,
    };
    for (const key of Object.keys(TABLES) as TableKey[]) environment[TABLES[key].envVar] = data.tables[key].tableName;
    environment[BUCKETS.artifacts.envVar] = data.artifacts.bucketName;
    this.sender = new PipelineFunction(this, 'WebhookSender', {
      entry: WEBHOOK_SENDER_ENTRY,
      description: 'VTO webhook sender: POSTs signed lifecycle events to packs\' webhooks, retried with backoff for 24 h',
      // Up to 10 deliveries of 10 s each per batch.
      timeoutSeconds: 50,
      environment,
      layers: props.layers ?? [],
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      logRemovalPolicy: removalPolicy,
    });
    // The event source adds its own grant (Receive, Delete, ChangeMessageVisibility,
    // GetQueueAttributes, GetQueueUrl on the webhook queue): Lambda's poller calls those with
    // the function's role, not the sender's code, so they are not part of its declaration.
    this.sender.function.addEventSource(new SqsEventSource(this.webhookQueue, { batchSize: 10, reportBatchItemFailures: true }));
    // What the sender's code calls, and nothing else: declared beside it (adapters/webhook-delivery.ts).
    grantAccess(this.sender, WEBHOOK_SENDER_ACCESS, {
      data, secrets: { webhook: this.webhookSecret }, webhookQueues: { queue: this.webhookQueue, deadLetter: this.webhookDeadLetterQueue },
    });
  }
}
