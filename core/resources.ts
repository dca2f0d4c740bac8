/**
 * Resource names and settings, defined once. The CDK stack (lib/) creates these and the
 * offline runtime (local/) creates the same on the emulators; handlers and workers find
 * them through the environment variables named here.
 */

export interface KeyAttr { readonly name: string; readonly type: 'S' | 'N' }
export interface IndexDef { readonly name: string; readonly partitionKey: KeyAttr; readonly sortKey?: KeyAttr }
export interface TableDef {
  /** Suffix of the physical name (offline: `vto-<name>`; on AWS CloudFormation names it). */
  readonly name: string;
  readonly envVar: string;
  readonly partitionKey: KeyAttr;
  readonly sortKey?: KeyAttr;
  readonly indexes: readonly IndexDef[];
  readonly ttlAttribute?: string;
}

export const TABLES = {
  packs: {
    name: 'packs', envVar: 'PACKS_TABLE',
    partitionKey: { name: 'packId', type: 'S' },
    // Packs are listed newest first; `kind` is the constant "pack".
    indexes: [{ name: 'byCreatedAt', partitionKey: { name: 'kind', type: 'S' }, sortKey: { name: 'createdAt', type: 'S' } }],
  },
  jobs: {
    name: 'jobs', envVar: 'JOBS_TABLE',
    partitionKey: { name: 'jobId', type: 'S' },
    indexes: [
      { name: 'byPack', partitionKey: { name: 'packId', type: 'S' }, sortKey: { name: 'jobId', type: 'S' } },
      // The watchdog's stale-job lookup: status = X and updatedAt < deadline. Never a scan.
      { name: 'byStatus', partitionKey: { name: 'status', type: 'S' }, sortKey: { name: 'updatedAt', type: 'S' } },
    ],
  },
  events: {
    name: 'recovery-events', envVar: 'EVENTS_TABLE',
    // One partition per hour bucket ("2026-11-25T07"), so statistics read buckets, not the table.
    partitionKey: { name: 'bucket', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    indexes: [],
    ttlAttribute: 'expiresAt',
  },
  control: {
    // Circuit breakers, control flags and idempotency records (Powertools' `id`/`expiration`).
    name: 'control', envVar: 'CONTROL_TABLE',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [],
    ttlAttribute: 'expiration',
  },
} as const satisfies Record<string, TableDef>;

export interface QueueDef {
  readonly name: string;
  readonly envVar: string;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  readonly receiveWaitSeconds: number;
  readonly deadLetter: { readonly name: string; readonly maxReceiveCount: number; readonly envVar: string };
}

export const QUEUES = {
  gpu: {
    name: 'gpu-jobs', envVar: 'GPU_QUEUE_URL',
    // The worker extends visibility while it works; this only covers a worker that died
    // before its first extension.
    visibilityTimeoutSeconds: 60,
    retentionSeconds: 4 * 24 * 3600,
    receiveWaitSeconds: 20,
    deadLetter: { name: 'gpu-jobs-dlq', maxReceiveCount: 5, envVar: 'GPU_DLQ_URL' },
  },
  webhooks: {
    // Lifecycle events on their way to packs' webhooks (an EventBridge rule's target). The
    // sender bounds retries to 24 h itself and moves what it gives up on to the dead-letter
    // queue; the redrive count only catches a sender that keeps crashing on one message.
    name: 'webhook-deliveries', envVar: 'WEBHOOK_QUEUE_URL',
    visibilityTimeoutSeconds: 60,
    retentionSeconds: 4 * 24 * 3600,
    receiveWaitSeconds: 20,
    deadLetter: { name: 'webhook-deliveries-dlq', maxReceiveCount: 50, envVar: 'WEBHOOK_DLQ_URL' },
  },
} as const satisfies Record<string, QueueDef>;

export const BUCKETS = {
  artifacts: { name: 'artifacts', envVar: 'ARTIFACTS_BUCKET' },
} as const;

export const STATE_MACHINES = {
  pack: { name: 'pack', file: 'pack.asl.json', envVar: 'PACK_STATE_MACHINE_ARN' },
  job: { name: 'job', file: 'job.asl.json', envVar: 'JOB_STATE_MACHINE_ARN' },
} as const;

/** The GPU inpaint task's deadlines (real seconds; the offline runtime scales them). */
export const GPU_TASK = {
  heartbeatSeconds: 60,
  timeoutSeconds: 1800,
  /** The worker heartbeats at this fraction of HeartbeatSeconds: well inside it. */
  heartbeatFraction: 1 / 3,
} as const;

/** Hosted inpaint: seconds between polls and most polls before Gpu.Timeout. */
export const HOSTED_POLL = { waitSeconds: 5, maxPolls: 120 } as const;

/** Concurrency of the pack machine's Map over jobs. */
export const PACK_MAP_CONCURRENCY = 10;

/** Local name of a resource on the emulators and prefix of names on AWS. */
export const RESOURCE_PREFIX = 'vto';
export const physicalName = (name: string, prefix = RESOURCE_PREFIX) => `${prefix}-${name}`;

/** S3 layout: everything of a job lives under its prefix. */
export const s3Keys = {
  packPrefix: (packId: string) => `packs/${packId}/`,
  jobPrefix: (packId: string, jobId: string) => `packs/${packId}/jobs/${jobId}/`,
  upload: (packId: string, name: string) => `packs/${packId}/uploads/${name}`,
  artifact: (packId: string, jobId: string, file: string) => `packs/${packId}/jobs/${jobId}/${file}`,
};
