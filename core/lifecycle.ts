/**
 * Lifecycle events: what the app hears when a pack or a job reaches a status it cares
 * about. One event per transition, named by a deterministic id, so the emitter can tell a
 * retried Lambda's second emission from a new transition. The `detail` is versioned;
 * docs/events/*.schema.json is generated from the zod schemas here (npm run render:events).
 */
import { z } from 'zod';
import { JOB_STATUSES, PACK_STATUSES, type JobStatus, type PackStatus, type StatusCounts } from './status.ts';

/** The `source` of every lifecycle event on the bus. */
export const EVENT_SOURCE = 'vto.pipeline';
/** The EventBridge rule that feeds the webhook sender's queue: every lifecycle event (the sender picks per pack). */
export const WEBHOOK_RULE_PATTERN = { source: [EVENT_SOURCE] } as const;
/** Bumped on a breaking change of `detail`; additions keep it. */
export const DETAIL_VERSION = '1';

export const PACK_EVENT_TYPES = [
  'pack.started', 'pack.completed', 'pack.completed_with_failures', 'pack.failed', 'pack.stopped', 'pack.cancelled',
] as const;
export const JOB_EVENT_TYPES = ['job.completed', 'job.failed', 'job.recovered', 'job.cancelled'] as const;
export const EVENT_TYPES = [...PACK_EVENT_TYPES, ...JOB_EVENT_TYPES] as const;
export type PackEventType = (typeof PACK_EVENT_TYPES)[number];
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];
export type EventType = (typeof EVENT_TYPES)[number];

/** The EventBridge `detail-type` of each event type: "Pack Completed With Failures". */
export const detailTypeOf = (t: EventType): string =>
  t.split(/[._]/).map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ');

/** The pack status each pack event announces ('running' is announced as started). */
const PACK_EVENT_OF: Partial<Record<PackStatus, PackEventType>> = {
  running: 'pack.started', complete: 'pack.completed', completed_with_failures: 'pack.completed_with_failures',
  failed: 'pack.failed', stopped: 'pack.stopped', cancelled: 'pack.cancelled',
};
const JOB_EVENT_OF: Partial<Record<JobStatus, JobEventType>> = {
  complete: 'job.completed', failed: 'job.failed', cancelled: 'job.cancelled',
};
export const packEventOf = (s: PackStatus): PackEventType | undefined => PACK_EVENT_OF[s];
export const jobEventOf = (s: JobStatus): JobEventType | undefined => JOB_EVENT_OF[s];
/** Pack events that end a run: the one a webhook always receives. */
export const isPackTerminalEvent = (t: EventType) => t.startsWith('pack.') && t !== 'pack.started';

const linksSchema = z.object({
  pack: z.string().describe('The pack in the API: a path under the API root (stack output ApiUrl), e.g. /packs/{id}; GET it signed'),
  job: z.string().optional().describe('The job in the API, e.g. /jobs/{id}'),
}).describe('API resources, never pre-signed URLs: paths under the API root, or absolute URLs when VTO_API_URL is set');

const errorSchema = z.object({ name: z.string().describe('Taxonomy name, e.g. Fatal.InvalidInput'), cause: z.string() });

export const packEventDetailSchema = z.object({
  version: z.literal(DETAIL_VERSION),
  eventId: z.string().describe('Deterministic: the same transition always has the same id'),
  type: z.enum(PACK_EVENT_TYPES),
  occurredAt: z.iso.datetime(),
  packId: z.string(),
  name: z.string(),
  status: z.enum(PACK_STATUSES),
  run: z.int().describe('The pack run (execution) this transition belongs to'),
  jobCount: z.int(),
  counts: z.record(z.enum(JOB_STATUSES), z.int()).optional().describe('Jobs per status, on the events that end a run'),
  error: errorSchema.optional(),
  links: linksSchema,
});

export const jobEventDetailSchema = z.object({
  version: z.literal(DETAIL_VERSION),
  eventId: z.string(),
  type: z.enum(JOB_EVENT_TYPES),
  occurredAt: z.iso.datetime(),
  packId: z.string(),
  jobId: z.string(),
  status: z.enum(JOB_STATUSES),
  run: z.int().describe('The job run (execution) this transition belongs to'),
  error: errorSchema.optional().describe('On job.failed'),
  recovery: z.object({ error: z.string(), strategy: z.string() }).optional().describe('On job.recovered: the failure cured and how'),
  links: linksSchema,
});

export type PackEventDetail = z.infer<typeof packEventDetailSchema>;
export type JobEventDetail = z.infer<typeof jobEventDetailSchema>;
export type LifecycleDetail = PackEventDetail | JobEventDetail;

const links = (apiUrl: string | undefined, packId: string, jobId?: string) =>
  apiUrl === undefined ? { pack: `/packs/${packId}`, ...(jobId !== undefined && { job: `/jobs/${jobId}` }) }
    : { pack: `${apiUrl}/packs/${packId}`, ...(jobId !== undefined && { job: `${apiUrl}/jobs/${jobId}` }) };

export interface PackFacts {
  readonly packId: string; readonly name: string; readonly status: PackStatus; readonly runs?: number; readonly executionArn?: string;
  readonly jobCount: number; readonly counts?: StatusCounts; readonly error?: { name: string; cause: string };
}

/** The event a pack's new status announces, or undefined when it announces none. */
export function packEvent(p: PackFacts, occurredAt: string, apiUrl?: string): PackEventDetail | undefined {
  const type = packEventOf(p.status);
  if (type === undefined) return undefined;
  const run = p.runs ?? 0;
  // A pack's run is its execution: the same outcome written twice for one run (PackFinalize, then
  // the watchdog's settlement) is one transition.
  const runName = p.executionArn === undefined ? `run-${run}` : p.executionArn.slice(p.executionArn.lastIndexOf(':') + 1);
  return {
    version: DETAIL_VERSION, eventId: `${type}/${p.packId}/${runName}`, type, occurredAt,
    packId: p.packId, name: p.name, status: p.status, run, jobCount: p.jobCount,
    ...(type !== 'pack.started' && p.counts !== undefined && { counts: p.counts }),
    ...(p.status === 'failed' && p.error !== undefined && { error: { name: p.error.name, cause: p.error.cause.slice(0, 1000) } }),
    links: links(apiUrl, p.packId),
  };
}

export interface JobFacts {
  readonly jobId: string; readonly packId: string; readonly status: JobStatus; readonly runs?: number;
  readonly error?: { name: string; cause: string };
}

/**
 * The event a job's new status announces. A job reaches a terminal status only by a
 * conditional write that a retry cannot repeat, so the write's time names the transition.
 */
export function jobEvent(j: JobFacts, occurredAt: string, apiUrl?: string): JobEventDetail | undefined {
  const type = jobEventOf(j.status);
  if (type === undefined) return undefined;
  const run = j.runs ?? 0;
  return {
    version: DETAIL_VERSION, eventId: `${type}/${j.jobId}/${occurredAt}`, type, occurredAt,
    packId: j.packId, jobId: j.jobId, status: j.status, run,
    ...(type === 'job.failed' && j.error !== undefined && { error: { name: j.error.name, cause: j.error.cause.slice(0, 1000) } }),
    links: links(apiUrl, j.packId, j.jobId),
  };
}

/**
 * A recovery entry (index `entry` of the job's history) resolved recovered. The event is
 * named by the entry's time, not its index: the history is trimmed to its newest entries,
 * which shifts every index, and a later entry at an earlier one's index is another recovery.
 */
export function recoveredEvent(j: JobFacts & { readonly recoveries: readonly { readonly at: string }[] }, entry: number, recovery: { error: string; strategy: string }, occurredAt: string, apiUrl?: string): JobEventDetail {
  const at = j.recoveries[entry]?.at;
  if (at === undefined) throw new RangeError(`job ${j.jobId} has no recovery entry ${entry}`);
  return {
    version: DETAIL_VERSION, eventId: `job.recovered/${j.jobId}/${at}`, type: 'job.recovered', occurredAt,
    packId: j.packId, jobId: j.jobId, status: j.status, run: j.runs ?? 0, recovery, links: links(apiUrl, j.packId, j.jobId),
  };
}
