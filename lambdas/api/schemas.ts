/**
 * Every request and response of the API as a zod schema. Handlers parse with the request
 * schemas and type their answers with the response schemas; the OpenAPI document and the
 * API Gateway models are generated from the same schemas (z.toJSONSchema), so the three
 * cannot disagree.
 */
import { z } from 'zod';
import { MAX_KEPT_RECOVERIES, jobRecordSchema, packRecordSchema, recoveryEntrySchema } from '../../core/job.ts';
import { deliveryFailureSchema } from '../../core/webhook.ts';
import { partialParamsSchema } from '../../core/params.ts';
import { REFINE_SCOPES } from '../../core/refine.ts';
import { GPU_TASK } from '../../core/resources.ts';
import { EVENT_TYPES } from '../../core/lifecycle.ts';
import { JOB_STATUSES, PACK_STATUSES } from '../../core/status.ts';
import { CLEANUP, MAX_JOBS, MAX_NAME_LENGTH, MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES, PAGE, UPLOAD_CONTENT_TYPES } from './limits.ts';
import { inpaintBackendSchema } from '../../core/inpaint-backend.ts';

// ---------------------------------------------------------------- building blocks

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
export const ID_PATTERN = new RegExp(`^${UUID}$`);
export const idSchema = z.string().regex(ID_PATTERN, 'must be an id (a lowercase UUID)');

/** C0/C1 controls, soft hyphen, bidi marks and overrides, zero-width and other invisible format characters. */
const INVISIBLE = '\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u180E\\u200B-\\u200F\\u2028-\\u202E\\u2060-\\u206F\\uFEFF\\uFFF9-\\uFFFB';
const PLAIN_TEXT = new RegExp(`^[^${INVISIBLE}]*$`);

/** Text a person reads: any script and emoji, but nothing invisible and no broken UTF-16. */
export const textSchema = (max: number) =>
  z.string()
    .min(1)
    .max(max)
    .regex(PLAIN_TEXT, 'must not contain control or invisible formatting characters (NUL, bidi marks, zero-width spaces)')
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)')
    .refine((s) => s.trim().length > 0, 'must not be blank');

/** A file name as POST /uploads accepts it: letters, digits, dot, dash, underscore; no path. */
export const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const UPLOAD_KEY_PATTERN = new RegExp(`^packs/${UUID}/uploads/[A-Za-z0-9][A-Za-z0-9._-]{0,199}$`);

export const uploadKeySchema = z.string().max(300)
  .regex(UPLOAD_KEY_PATTERN, 'must be a key returned by POST /uploads (packs/{packId}/uploads/{file})');

const whole = /^[0-9]{1,7}$/;
/** A whole-number query parameter (query values arrive as strings). */
const intQuery = (min: number, max: number) =>
  z.string().regex(whole, 'must be a whole number').transform(Number).pipe(z.int().min(min).max(max));

export const cursorSchema = z.string().min(1).max(2048).regex(/^[A-Za-z0-9_-]+$/, 'must be the nextCursor of a previous page');

const isoTime = z.string().describe('ISO 8601 date-time (UTC)');

// ---------------------------------------------------------------- requests

export const idPathSchema = z.strictObject({ id: idSchema });

export const pipelineSchema = z.strictObject({
  inpaint: inpaintBackendSchema.describe('Where the inpaint runs: ComfyUI on the GPU workers, or the hosted inpaint API'),
  params: partialParamsSchema.optional().describe('Parameters for every job of the pack; a job\'s own params override them'),
  gpuWaitMinutes: z.int().min(GPU_TASK.waitMinutes.min).max(GPU_TASK.waitMinutes.max).optional()
    .describe(`Minutes each GPU task may wait for a free GPU worker before it times out and resumes (default ${GPU_TASK.waitMinutes.default})`),
});

export const jobInputSchema = z.strictObject({
  person: uploadKeySchema.describe('Key of the person image, from POST /uploads'),
  garment: uploadKeySchema.describe('Key of the garment image, from POST /uploads'),
  params: partialParamsSchema.optional(),
});

export const webhookSchema = z.strictObject({
  url: z.string().max(2048).describe('Where the pipeline POSTs the pack\'s terminal event (and the events asked for), signed with Vto-Signature. ' +
    'https only, never a private, loopback or link-local address (offline: http:// to loopback is allowed)'),
  events: z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length).optional()
    .describe('Further event types to deliver, e.g. ["job.completed", "job.failed"]; the pack\'s terminal event is always delivered'),
});

export const createPackBodySchema = z.strictObject({
  name: textSchema(MAX_NAME_LENGTH),
  webhook: webhookSchema.optional(),
  packId: idSchema.optional().describe('The pack id POST /uploads reserved; the keys must lie under packs/{packId}/uploads/. Defaults to the pack of the keys.'),
  pipeline: pipelineSchema,
  jobs: z.array(jobInputSchema).min(1).max(MAX_JOBS),
});
export type CreatePackBody = z.infer<typeof createPackBodySchema>;

export const uploadFileSchema = z.strictObject({
  name: z.string().regex(FILE_NAME_PATTERN, 'must be 1–128 letters, digits, dots, dashes or underscores, starting with a letter or digit'),
  contentType: z.enum(UPLOAD_CONTENT_TYPES),
  size: z.int().min(1).max(MAX_UPLOAD_BYTES).describe('Exact size in bytes; the pre-signed URL accepts only this Content-Length'),
});

export const uploadsBodySchema = z.strictObject({
  packId: idSchema.optional().describe('Add files to a pack id reserved earlier; omitted, a new pack id is reserved'),
  files: z.array(uploadFileSchema).min(1).max(MAX_UPLOAD_FILES),
}).superRefine((body, ctx) => {
  const seen = new Set<string>();
  body.files.forEach((f, i) => {
    if (seen.has(f.name)) ctx.addIssue({ code: 'custom', path: ['files', i, 'name'], message: 'is given twice' });
    seen.add(f.name);
  });
});
export type UploadsBody = z.infer<typeof uploadsBodySchema>;

export const refineBodySchema = z.strictObject({ scope: z.enum(REFINE_SCOPES) });
export const retryBodySchema = z.strictObject({
  force: z.boolean().optional().describe('Run even a job whose failure is not recoverable or that is complete, with its attempt counters reset'),
});
export const emergencyStopBodySchema = z.strictObject({ reason: textSchema(500).optional() });
export const emptyBodySchema = z.strictObject({});

export const listPacksQuerySchema = z.strictObject({
  limit: intQuery(1, PAGE.max).optional(),
  cursor: cursorSchema.optional(),
});
export const listJobsQuerySchema = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  limit: intQuery(1, PAGE.max).optional(),
  cursor: cursorSchema.optional(),
});
export const statisticsQuerySchema = z.strictObject({
  since: z.iso.datetime({ offset: true }).optional().describe('Start of the window (default: 24 hours ago; at most 31 days ago)'),
});
export const cleanupQuerySchema = z.strictObject({
  hours: intQuery(CLEANUP.minHours, CLEANUP.maxHours).describe('Clean terminal jobs last updated more than this many hours ago'),
});
export const emptyQuerySchema = z.strictObject({});

// ---------------------------------------------------------------- responses

export const issueSchema = z.object({
  path: z.string().describe('Where: body.<field path>, query.<name>, path.<name> or header.<name>'),
  message: z.string(),
});

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().describe('Stable machine-readable code, e.g. ValidationFailed, NotFound, PackRunning, EmergencyStopped'),
    message: z.string(),
    issues: z.array(issueSchema).optional(),
  }),
  requestId: z.string(),
  message: z.string().optional().describe('Set on refusals by API Gateway itself (signature, throttling), with the same text as error.message'),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const statusCountsSchema = z.record(z.enum(JOB_STATUSES), z.int());

const storedPack = packRecordSchema.shape;

/** A pack as the API shows it: fields of the stored record (core/job.ts), with counts, progress and links. */
export const packViewSchema = packRecordSchema.pick({
  packId: true, name: true, status: true, createdAt: true, updatedAt: true, inpaint: true, jobCount: true, runs: true,
  executionArn: true, sourcePackId: true, refineScope: true, error: true,
}).extend({
  counts: statusCountsSchema.optional().describe('Jobs per status (always on GET /packs/{id}; on lists, as of the last finalize)'),
  progress: z.object({ done: z.int(), total: z.int(), percent: z.number() }).optional(),
  consoleUrl: z.string().optional().describe('The pack\'s current execution in the Step Functions console'),
  webhook: z.object({
    url: storedPack.webhook.unwrap().shape.url, events: z.array(z.enum(EVENT_TYPES)),
    failures: storedPack.webhookFailureCount.unwrap().describe('Deliveries given up on (GET /packs/{id}/webhook-failures lists them)'),
  }).optional(),
});
export type PackView = z.infer<typeof packViewSchema>;

export const webhookFailureSchema = deliveryFailureSchema;
export const webhookFailuresSchema = z.object({
  packId: z.string(),
  total: z.int().describe('Every delivery given up on; items holds the first 100'),
  items: z.array(webhookFailureSchema),
});

export const packListSchema = z.object({ items: z.array(packViewSchema), nextCursor: z.string().optional() });

const stored = jobRecordSchema.shape;

/** A job as lists show it: fields of the stored record (core/job.ts), needsIntervention always present. */
export const jobSummarySchema = jobRecordSchema.pick({
  jobId: true, packId: true, status: true, createdAt: true, updatedAt: true, inpaint: true, inputs: true, params: true,
  runs: true, recoveriesUsed: true, error: true,
}).extend({
  needsIntervention: z.boolean(),
});
export type JobSummary = z.infer<typeof jobSummarySchema>;

export const jobListSchema = z.object({ items: z.array(jobSummarySchema), nextCursor: z.string().optional() });

const artifactLinkSchema = z.object({ key: z.string(), url: z.string().describe('Pre-signed GET URL, valid for a few minutes') });

/** A job with its history: more fields of the stored record, and pre-signed links to its images. */
export const jobViewSchema = jobSummarySchema.extend({
  originalParams: stored.originalParams,
  attempts: z.record(z.string(), z.int()),
  triedModels: stored.triedModels,
  checkpoints: z.record(z.string(), z.string()).describe('S3 keys of finished stage outputs, by stage'),
  qaReport: stored.qaReport,
  recoveries: z.array(recoveryEntrySchema).describe(`The newest failures met, at most ${MAX_KEPT_RECOVERIES}; older resolved ones are counted in recoveryCount and kept in the recovery-events table`),
  recoveryCount: z.int().describe('Every failure the job met, including those no longer listed in recoveries'),
  outputs: z.object({ result: artifactLinkSchema.optional(), mask: artifactLinkSchema.optional(), inpainted: artifactLinkSchema.optional() }),
  inputLinks: z.object({ person: artifactLinkSchema, garment: artifactLinkSchema }).describe('Pre-signed GET links of the input images'),
  executionArn: stored.executionArn,
  consoleUrl: z.string().optional(),
  gpuSeconds: stored.gpuSeconds,
  deferredReruns: z.int().optional().describe('Times the watchdog ran the failed job again once its temporary cause had passed (at most 3)'),
});
export type JobView = z.infer<typeof jobViewSchema>;

export const packCreatedSchema = z.object({
  packId: z.string(),
  name: z.string(),
  status: z.enum(PACK_STATUSES),
  jobIds: z.array(z.string()),
  statusUrl: z.string().describe('Poll this (GET) for progress'),
  executionArn: z.string(),
  sourcePackId: z.string().optional(),
  refineScope: z.enum(REFINE_SCOPES).optional(),
});
export type PackCreated = z.infer<typeof packCreatedSchema>;

export const packRestartedSchema = z.object({
  packId: z.string(),
  status: z.enum(PACK_STATUSES),
  resetJobs: z.int(),
  executionArn: z.string(),
  statusUrl: z.string(),
});

export const jobRetriedSchema = z.object({
  jobId: z.string(),
  packId: z.string(),
  status: z.enum(JOB_STATUSES),
  forced: z.boolean(),
  executionArn: z.string(),
  statusUrl: z.string(),
});

export const jobCancelledSchema = z.object({
  jobId: z.string(),
  packId: z.string(),
  status: z.literal('cancelled'),
  alreadyCancelled: z.boolean().describe('The job was cancelled before this request: nothing changed'),
  statusUrl: z.string(),
});

export const packCancelledSchema = z.object({
  packId: z.string(),
  status: z.literal('cancelled'),
  alreadyCancelled: z.boolean().describe('The pack was cancelled before this request: nothing changed'),
  jobsCancelled: z.int().describe('Jobs this request moved to cancelled; finished jobs keep their status and outputs'),
  counts: statusCountsSchema,
  statusUrl: z.string(),
});

export const packErasureSchema = z.object({
  packId: z.string(),
  state: z.enum(['erasing', 'erased']).describe('erased: nothing of the pack is left; erasing: the rest is erased in the background (poll erasureUrl until 404)'),
  requestedAt: isoTime,
  deleted: z.object({
    versions: z.int().describe('Object versions and delete markers deleted by this request'),
    jobs: z.int(),
    eventsAnonymized: z.int().describe('Recovery events kept for statistics without the pack and job ids'),
    controlItems: z.int().describe('Idempotency records and lifecycle-event claims naming the pack or its jobs'),
  }),
  erasureUrl: z.string(),
});

export const erasureViewSchema = z.object({
  packId: z.string(),
  state: z.enum(['present', 'erasing']).describe('present: what DELETE /packs/{id} would erase; erasing: what is left to erase'),
  requestedAt: isoTime.optional(),
  jobs: z.int(),
  objects: z.int().describe('Object keys under the pack (uploads, masks, GPU outputs, results)'),
  versions: z.int().describe('Stored object versions and delete markers under the pack'),
});

const tally = { errors: z.int(), recovered: z.int(), failed: z.int() };
export const statisticsSchema = z.object({
  since: isoTime,
  until: isoTime,
  errors: z.int(),
  recoveries: z.int(),
  failures: z.int(),
  recoveryRate: z.number().nullable().describe('recovered / (recovered + failed) over recoverable error names, 0..1'),
  byError: z.array(z.object({ error: z.string(), recoverable: z.boolean(), strategy: z.string(), ...tally })),
  byStrategy: z.array(z.object({ strategy: z.string(), ...tally })),
  timeToRecoverMs: z.object({ count: z.int(), p50: z.number().nullable(), p95: z.number().nullable() }),
  series: z.array(z.object({ hour: z.string().describe('YYYY-MM-DDTHH (UTC)'), ...tally })),
  deferredReruns: z.object({ started: z.int(), recovered: z.int(), failed: z.int() })
    .describe('Deferred re-runs of failed jobs (temporary cause passed, dependency healthy again): started, and how those that ended came out'),
});

export const emergencyStoppedSchema = z.object({
  emergencyStopped: z.literal(true),
  since: isoTime,
  reason: z.string().optional(),
  packsStopped: z.array(z.string()),
  executionsStopped: z.int(),
});

export const resumedSchema = z.object({
  emergencyStopped: z.literal(false),
  packsResumed: z.array(z.string()),
  jobsResumed: z.int(),
  failures: z.array(z.object({ id: z.string(), message: z.string() })).describe('Packs that could not be started again: restart them with restart-incomplete'),
});

const dependencySchema = z.object({ name: z.string(), ok: z.boolean(), latencyMs: z.number(), detail: z.string().optional() });
const breakerSchema = z.object({
  dependency: z.string(),
  state: z.enum(['closed', 'open', 'half_open']),
  failures: z.int().optional(),
  openedAt: isoTime.optional(),
});

export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded', 'down']),
  score: z.number().describe('0–100'),
  checkedAt: isoTime,
  emergencyStopped: z.boolean(),
  emergencyStop: z.object({ since: isoTime, reason: z.string().optional() }).optional(),
  dependencies: z.array(dependencySchema),
  queues: z.object({
    gpu: z.object({ visible: z.int(), inFlight: z.int(), delayed: z.int() }).nullable(),
    deadLetter: z.object({ visible: z.int() }).nullable(),
  }),
  stuckJobs: z.object({ count: z.int(), thresholdSeconds: z.int(), byStatus: z.record(z.string(), z.int()) }),
  circuitBreakers: z.array(breakerSchema).describe('Every circuit breaker; ComfyUI has one per host (comfyui#<host>)'),
  fleet: z.object({
    workersAlive: z.int(),
    workersLost: z.int().describe('Workers whose presence lapsed without stopping (killed, crashed) and that no worker replaced yet'),
    slots: z.int().describe('Jobs the alive workers hold at once'),
    workers: z.array(z.object({
      workerId: z.string(), host: z.string().describe('The ComfyUI host it drives'), slots: z.int(),
      state: z.enum(['alive', 'lost']), seenAt: isoTime,
    })),
  }).nullable().describe('The GPU fleet from the workers\' presence in the control table; null when it could not be read'),
});

export const uploadsCreatedSchema = z.object({
  packId: z.string(),
  expiresAt: isoTime,
  files: z.array(z.object({
    name: z.string(),
    key: z.string().describe('Use this key as person or garment in POST /packs'),
    url: z.string(),
    method: z.literal('PUT'),
    headers: z.record(z.string(), z.string()).describe('Send exactly these headers with the PUT; they are signed'),
  })),
});

export const cleanupResultSchema = z.object({
  hours: z.int(),
  cutoff: isoTime,
  jobsCleaned: z.int(),
  objectsDeleted: z.int(),
  more: z.boolean().describe('More jobs qualify: call again'),
});

export const openApiDocumentSchema = z.record(z.string(), z.unknown()).describe('This API\'s OpenAPI 3 document');
