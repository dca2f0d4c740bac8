/**
 * Job and pack statuses and the transitions allowed between them. Every status change
 * in DynamoDB is a conditional write whose condition comes from this table.
 */
export const JOB_STATUSES = [
  'pending', 'segmenting', 'inpainting', 'compositing', 'qa', 'awaiting_fix', 'recovering', 'complete', 'failed', 'cancelled',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const PACK_STATUSES = ['pending', 'running', 'complete', 'completed_with_failures', 'failed', 'stopped', 'cancelled'] as const;
export type PackStatus = (typeof PACK_STATUSES)[number];

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['complete', 'failed', 'cancelled'];
export const isTerminalJob = (s: JobStatus) => TERMINAL_JOB_STATUSES.includes(s);
export const TERMINAL_PACK_STATUSES: readonly PackStatus[] = ['complete', 'completed_with_failures', 'failed', 'stopped', 'cancelled'];
/** Job statuses a cancel may end: every status short of terminal. */
export const CANCELLABLE_JOB_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter((s) => !TERMINAL_JOB_STATUSES.includes(s));
/** Pack statuses a cancel may end: running or about to, and emergency-stopped (so resume leaves it). */
export const CANCELLABLE_PACK_STATUSES: readonly PackStatus[] = ['pending', 'running', 'stopped'];

const WORKING: readonly JobStatus[] = ['segmenting', 'inpainting', 'compositing', 'qa'];

/** from → allowed next statuses. A reset to `pending` (restart, retry, watchdog) is allowed from anywhere. */
const JOB_TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  // A run may resume at any stage whose predecessors are checkpointed.
  // Every unfinished status may be cancelled; cancelled is terminal (only a reset leaves it).
  pending: [...WORKING, 'failed', 'cancelled'],
  segmenting: ['segmenting', 'inpainting', 'recovering', 'failed', 'cancelled'],
  inpainting: ['inpainting', 'compositing', 'recovering', 'failed', 'cancelled'],
  compositing: ['compositing', 'qa', 'recovering', 'failed', 'cancelled'],
  // A QA call retried after a transient analyzer failure enters qa again.
  qa: ['qa', 'complete', 'awaiting_fix', 'failed', 'cancelled'],
  awaiting_fix: ['recovering', 'inpainting', 'failed', 'cancelled'],
  recovering: [...WORKING, 'recovering', 'failed', 'cancelled'],
  complete: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return to === 'pending' || JOB_TRANSITIONS[from].includes(to);
}

/** The statuses a job may be in for a change to `to` to be legal (the DynamoDB condition). */
export function allowedSources(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canTransition(from, to));
}

export type StatusCounts = Record<JobStatus, number>;

export function emptyCounts(): StatusCounts {
  return Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as StatusCounts;
}

/** A run is working on a job in these (not waiting for one, not ended). */
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter((s) => s !== 'pending' && !TERMINAL_JOB_STATUSES.includes(s));

/**
 * The status a pack has given its jobs' live counts: a finished pack with a job being
 * worked on (retried or re-run on its own after the pack's run ended) is running. A stopped
 * pack stays stopped: its jobs keep the stages they were stopped in until resumed.
 */
export function livePackStatus(stored: PackStatus, counts: StatusCounts): PackStatus {
  if (!TERMINAL_PACK_STATUSES.includes(stored) || stored === 'stopped') return stored;
  return ACTIVE_JOB_STATUSES.some((s) => counts[s] > 0) ? 'running' : stored;
}

/**
 * A pack's status from its jobs' counts once its run has ended. A cancelled job delivered
 * nothing, like a failed one, but was wanted by nobody: every job cancelled → `cancelled`;
 * no job complete and some failed → `failed`; some complete and some failed or cancelled →
 * `completed_with_failures`. (POST /packs/{id}/cancel ends its pack `cancelled` whatever
 * its finished jobs delivered.)
 */
export function packOutcome(counts: StatusCounts): PackStatus {
  const total = JOB_STATUSES.reduce((n, s) => n + counts[s], 0);
  if (total === 0) return 'complete';
  if (counts.complete + counts.failed + counts.cancelled !== total) return 'running';
  if (counts.complete === total) return 'complete';
  if (counts.cancelled === total) return 'cancelled';
  if (counts.complete === 0) return 'failed';
  return 'completed_with_failures';
}
