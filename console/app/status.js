/** How statuses look and read. Colours come from app.css (.st-<status>, .seg-<status>). */
import { h } from './dom.js';

export const JOB_STATUSES = ['pending', 'segmenting', 'inpainting', 'compositing', 'qa', 'awaiting_fix', 'recovering', 'complete', 'failed'];
export const TERMINAL_PACK = ['complete', 'completed_with_failures', 'failed', 'stopped'];
export const TERMINAL_JOB = ['complete', 'failed'];

const LABELS = {
  pending: 'pending',
  segmenting: 'segmenting',
  inpainting: 'inpainting',
  compositing: 'compositing',
  qa: 'QA',
  awaiting_fix: 'awaiting fix',
  recovering: 'recovering',
  complete: 'complete',
  failed: 'failed',
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

/** Job statuses that are being worked on, for the progress bar's "in progress" share. */
export const WORKING = ['segmenting', 'inpainting', 'compositing', 'qa'];

/** The progress bar's segments, in order: done first, then what moves, then what waits. */
export const PROGRESS_ORDER = ['complete', 'failed', 'recovering', 'awaiting_fix', 'segmenting', 'inpainting', 'compositing', 'qa', 'pending'];
