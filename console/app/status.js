/** How statuses look and read. Colours come from app.css (.st-<status>, .seg-<status>). */
import { h } from './dom.js';

// Filled once from the server's /config (core/status.ts is the one list), before any page renders.
export const JOB_STATUSES = [];
export const TERMINAL_PACK = [];
export const TERMINAL_JOB = [];
/** Pack statuses POST /packs/{id}/cancel accepts. */
export const CANCELLABLE_PACK = [];

/** Takes the status lists of the console's config. */
export function useStatuses(config) {
  JOB_STATUSES.splice(0, JOB_STATUSES.length, ...config.jobStatuses);
  TERMINAL_PACK.splice(0, TERMINAL_PACK.length, ...config.terminalPackStatuses);
  TERMINAL_JOB.splice(0, TERMINAL_JOB.length, ...config.terminalJobStatuses);
  CANCELLABLE_PACK.splice(0, CANCELLABLE_PACK.length, ...config.cancellablePackStatuses);
}

/** What each status reads as; every job and pack status has one (test/console/app-lists.test.ts). */
export const LABELS = {
  pending: 'pending',
  segmenting: 'segmenting',
  inpainting: 'inpainting',
  compositing: 'compositing',
  qa: 'QA',
  awaiting_fix: 'awaiting fix',
  recovering: 'recovering',
  complete: 'complete',
  failed: 'failed',
  cancelled: 'cancelled',
  running: 'running',
  completed_with_failures: 'completed with failures',
  stopped: 'stopped',
  recovered: 'recovered',
};

export const statusLabel = (s) => LABELS[s] ?? String(s);

/** A status badge; the text says the status, the colour only repeats it. */
export function badge(status, extraClass) {
  return h('span', { class: ['badge', `st-${String(status).replace(/[^a-z_]/g, '')}`, extraClass] }, statusLabel(status));
}

/**
 * The progress bar's segments, in order: done first, then what moves, then what waits.
 * A presentation order of core/status.ts's job statuses (test/console/app-lists.test.ts holds them together).
 */
export const PROGRESS_ORDER = ['complete', 'failed', 'cancelled', 'recovering', 'awaiting_fix', 'segmenting', 'inpainting', 'compositing', 'qa', 'pending'];
