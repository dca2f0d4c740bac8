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
    // The lease on a held message: the worker renews it while it works, so a dead worker's
    // attempt reappears for another worker within the lease.
    visibilityTimeoutSeconds: 30,
    retentionSeconds: 4 * 24 * 3600,
    receiveWaitSeconds: 20,
    // Every worker death hands the attempt on with one more receive: several deaths are
    // survived; a message that still lands here leaves its task to end in States.Timeout
    // (the task's wait budget), which resumes the job from its checkpoint.
    deadLetter: { name: 'gpu-jobs-dlq', maxReceiveCount: 10, envVar: 'GPU_DLQ_URL' },
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

/**
 * Secrets Manager secrets the code reads, by access-target key (`secret:webhook`): each
 * reader finds its secret's ARN in `envVar`, and offline policies bind the grant to it.
 */
export const SECRETS = {
  /** The hosted inpaint provider's API key (created by the stack or given at deploy). */
  hostedInpaint: { envVar: 'HOSTED_INPAINT_SECRET_ARN' },
  /** The key webhook deliveries are signed with (offline the sender reads VTO_WEBHOOK_SECRET instead). */
  webhook: { envVar: 'VTO_WEBHOOK_SECRET_ARN' },
} as const;

/** The lifecycle events bus: named `{stack}-events` on AWS, `vto-events` offline; functions read its name from `envVar`. */
export const EVENT_BUS = { name: 'events', envVar: 'EVENT_BUS_NAME' } as const;

export const STATE_MACHINES = {
  pack: { name: 'pack', file: 'pack.asl.json', envVar: 'PACK_STATE_MACHINE_ARN' },
  job: { name: 'job', file: 'job.asl.json', envVar: 'JOB_STATE_MACHINE_ARN' },
} as const;

/**
 * The GPU inpaint task's bounds (real seconds; the offline runtime scales them). Waiting in
 * the queue for a worker is not failing: the task has no HeartbeatSeconds, whose clock
 * would start at SendMessage. A dead worker is noticed by its lease instead (the message's
 * visibility and the attempt claim), and TimeoutSeconds bounds wait and run together.
 */
export const GPU_TASK = {
  /** Lease of a held message (SQS visibility) and of its attempt claim; the worker renews both well inside it. */
  leaseSeconds: QUEUES.gpu.visibilityTimeoutSeconds,
  /** Basis of the worker's SendTaskHeartbeat period: a heartbeat refused tells it the task is closed. */
  heartbeatSeconds: 60,
  /** The worker heartbeats at this fraction of heartbeatSeconds. */
  heartbeatFraction: 1 / 3,
  /** The run's bound once a worker holds the task; the worker's own generation deadline is 90 % of it. */
  timeoutSeconds: 1800,
  /**
   * Minutes a GPU task may wait for a worker, set per pack (pipeline.gpuWaitMinutes). The
   * default lets a fleet scale from zero and work through a burst; the maximum keeps a
   * forgotten pack from holding executions for days.
   */
  waitMinutes: { default: 30, min: 1, max: 240 },
} as const;

/** The GPU task's TimeoutSeconds for a wait budget: the wait, then the run. */
export const gpuTaskTimeoutSeconds = (waitMinutes: number = GPU_TASK.waitMinutes.default) =>
  Math.round(waitMinutes * 60) + GPU_TASK.timeoutSeconds;

/** Hosted inpaint: seconds between polls and most polls before Gpu.Timeout. */
export const HOSTED_POLL = { waitSeconds: 5, maxPolls: 120 } as const;

/** Concurrency of the pack machine's Map over jobs. */
export const PACK_MAP_CONCURRENCY = 10;

/** Local name of a resource on the emulators and prefix of names on AWS. */
export const RESOURCE_PREFIX = 'vto';
export const physicalName = (name: string, prefix = RESOURCE_PREFIX) => `${prefix}-${name}`;

/**
 * The object tag that marks an upload no pack has claimed yet. Uploads live under
 * `packs/{packId}/uploads/`, which no lifecycle prefix can select, so abandoned ones are
 * expired by tag (lib/data.ts): the API presigns uploads with this tag and removes it from
 * the uploads a created pack uses (its inputs, which must outlive restarts and refinements).
 */
export const UNCLAIMED_UPLOAD_TAG = { key: 'vto:upload', value: 'unclaimed' } as const;

/** S3 layout: everything of a job lives under its prefix. */
export const s3Keys = {
  packPrefix: (packId: string) => `packs/${packId}/`,
  jobPrefix: (packId: string, jobId: string) => `packs/${packId}/jobs/${jobId}/`,
  upload: (packId: string, name: string) => `packs/${packId}/uploads/${name}`,
  artifact: (packId: string, jobId: string, file: string) => `packs/${packId}/jobs/${jobId}/${file}`,
};
