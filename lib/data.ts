/**
 * The pipeline's state: DynamoDB tables, the artifacts bucket and the GPU queue with its
 * dead-letter queue, all created from the definitions in core/resources.ts so the offline
 * runtime and AWS hold the same keys, indexes, TTLs and queue settings.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUES, TABLES, UNCLAIMED_UPLOAD_TAG, type KeyAttr, type TableDef } from '../core/resources.ts';
import { bucketView } from './cdk-types.ts';

export type TableKey = keyof typeof TABLES;

/** Where job inputs and artifacts live (core s3Keys: `packs/{packId}/…`). */
export const PACKS_PREFIX = 'packs/';

export { UNCLAIMED_UPLOAD_TAG };

export interface PipelineDataProps {
  /**
   * Protects the tables from deletion (DynamoDB deletion protection) and retains tables and
   * queues when the stack is deleted. Turn off only for throwaway development stacks.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Days of point-in-time recovery history kept for every table (1–35).
   * @default 35
   */
  readonly pointInTimeRecoveryDays?: number;
  /**
   * How long an upload tagged {@link UNCLAIMED_UPLOAD_TAG} (no pack uses it) is kept.
   * @default Duration.days(7)
   */
  readonly uploadsExpiration?: Duration;
  /**
   * How long an overwritten or deleted artifact version is kept (the bucket is versioned).
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * How long S3 server access logs are kept.
   * @default Duration.days(365)
   */
  readonly accessLogsExpiration?: Duration;
  /**
   * How long a message stays in the GPU dead-letter queue for inspection and redrive.
   * @default Duration.days(14) (the SQS maximum)
   */
  readonly deadLetterRetention?: Duration;
}

export class PipelineDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineDataError';
  }
}

const attribute = (a: KeyAttr): Attribute => ({
  name: a.name,
  type: a.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER,
});

export class PipelineData extends Construct {
  /** One table per entry of core TABLES, keyed the same way. */
  public readonly tables: { readonly [K in TableKey]: TableV2 };
  /** Person and garment images, masks, checkpoints and outputs (`packs/{packId}/jobs/{jobId}/…`). */
  public readonly artifacts: Bucket;
  /** Receives the artifacts bucket's S3 server access logs. */
  public readonly accessLogs: Bucket;
  /** Inpaint work for the GPU workers (`sendMessage.waitForTaskToken`). */
  public readonly gpuQueue: Queue;
  /** Where a GPU message lands after `maxReceiveCount` deliveries nobody finished. */
  public readonly gpuDeadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: PipelineDataProps = {}) {
    super(scope, id);
    const protect = props.deletionProtection ?? true;
    const removalPolicy = protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const pitrDays = props.pointInTimeRecoveryDays ?? 35;
    if (!Number.isInteger(pitrDays) || pitrDays < 1 || pitrDays > 35) {
      throw new PipelineDataError(`pointInTimeRecoveryDays must be an integer from 1 to 35, got ${pitrDays}`);
    }

    const table = (id: string, def: TableDef) =>
      new TableV2(this, id, {
        partitionKey: attribute(def.partitionKey),
        ...(def.sortKey === undefined ? {} : { sortKey: attribute(def.sortKey) }),
        globalSecondaryIndexes: def.indexes.map((ix) => ({
          indexName: ix.name,
          partitionKey: attribute(ix.partitionKey),
          ...(ix.sortKey === undefined ? {} : { sortKey: attribute(ix.sortKey) }),
        })),
        ...(def.ttlAttribute === undefined ? {} : { timeToLiveAttribute: def.ttlAttribute }),
        billing: Billing.onDemand(),
        encryption: TableEncryptionV2.awsManagedKey(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true, recoveryPeriodInDays: pitrDays },
        deletionProtection: protect,
        removalPolicy,
      });
    this.tables = {
      packs: table('PacksTable', TABLES.packs),
      jobs: table('JobsTable', TABLES.jobs),
      events: table('EventsTable', TABLES.events),
      control: table('ControlTable', TABLES.control),
    };

    this.accessLogs = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: props.accessLogsExpiration ?? Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.artifacts = new Bucket(this, 'Artifacts', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: bucketView(this.accessLogs),
      serverAccessLogsPrefix: 'artifacts/',
      lifecycleRules: [
        { id: 'abort-incomplete-multipart', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          expiredObjectDeleteMarker: true,
        },
        {
          id: 'expire-unclaimed-uploads',
          tagFilters: { [UNCLAIMED_UPLOAD_TAG.key]: UNCLAIMED_UPLOAD_TAG.value },
          expiration: props.uploadsExpiration ?? Duration.days(7),
        },
      ],
      // A bucket holding objects cannot be deleted by CloudFormation; it is always kept.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const gpu = QUEUES.gpu;
    this.gpuDeadLetterQueue = new Queue(this, 'GpuDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
      removalPolicy,
    });
    this.gpuQueue = new Queue(this, 'GpuQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(gpu.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(gpu.retentionSeconds),
      receiveMessageWaitTime: Duration.seconds(gpu.receiveWaitSeconds),
      deadLetterQueue: { queue: this.gpuDeadLetterQueue, maxReceiveCount: gpu.deadLetter.maxReceiveCount },
      removalPolicy,
    });
  }
}
