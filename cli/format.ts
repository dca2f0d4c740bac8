/**
 * Plain-text building blocks of the CLI's human output: aligned tables and key/value
 * blocks, counts, durations, percentages and ages. Pure functions, so they are tested
 * without a terminal.
 */
import { JOB_STATUSES, type StatusCounts } from '../core/status.ts';

export type Align = 'left' | 'right';

export interface TableOptions {
  /** Per column; numbers read best right-aligned. @default 'left' */
  readonly align?: readonly Align[];
  /** Per column: longer cells are cut with an ellipsis. */
  readonly maxWidth?: readonly (number | undefined)[];
}

/** Display width of a string: one per code point (the CLI prints no wide characters of its own). */
const width = (s: string) => [...s].length;

export function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** One cell per column, each a single line: newlines and tabs in values become spaces. */
const cellText = (v: string | number | undefined) => (v === undefined ? '' : String(v).replace(/[\r\n\t]+/g, ' '));

/**
 * Columns separated by two spaces, headers in capitals over the rows, no trailing spaces.
 * An empty row list prints the headers only.
 */
export function table(headers: readonly string[], rows: readonly (readonly (string | number | undefined)[])[], o: TableOptions = {}): string {
  const cut = (v: string | number | undefined, i: number) => {
    const max = o.maxWidth?.[i];
    const text = cellText(v);
    return max === undefined ? text : truncate(text, max);
  };
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => headers.map((_, i) => cut(r[i], i)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => width(r[i]!))));
  return cells.map((r) => r.map((c, i) => {
    const pad = ' '.repeat(widths[i]! - width(c));
    return (o.align?.[i] ?? 'left') === 'right' ? pad + c : c + pad;
  }).join('  ').trimEnd()).join('\n');
}

/** `key  value` lines with the values aligned; undefined values are left out. */
export function keyValues(pairs: readonly (readonly [string, string | number | undefined])[]): string {
  const shown = pairs.filter((p): p is readonly [string, string | number] => p[1] !== undefined);
  const w = Math.max(0, ...shown.map(([k]) => width(k)));
  return shown.map(([k, v]) => `${k}${' '.repeat(w - width(k))}  ${cellText(v)}`).join('\n');
}

/** Non-zero counts in the pipeline's order: `complete 3, failed 1`; `none` when all are zero. */
export function formatCounts(counts: Partial<StatusCounts>): string {
  const parts = JOB_STATUSES.filter((s) => (counts[s] ?? 0) > 0).map((s) => `${s} ${counts[s]}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** A 0..1 ratio as a percentage with one decimal; `n/a` for null. */
export function formatRatio(r: number | null): string {
  return r === null ? 'n/a' : `${(Math.round(r * 1000) / 10).toFixed(1)} %`;
}

/** Milliseconds as a person reads them: `850 ms`, `12.3 s`, `4 min 10 s`, `2 h 5 min`; `n/a` for null. */
export function formatMs(ms: number | null): string {
  if (ms === null) return 'n/a';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** How long ago an ISO time was, relative to `now`: `just now`, `42 s ago`, `3 min ago`, `5 h ago`, `2 d ago`. */
export function ago(iso: string, now: Date = new Date()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now.getTime() - t) / 1000);
  if (s < 0) return 'in the future';
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** An ISO time without milliseconds, readable: `2025-06-01 08:49:04Z`. */
export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** A section title followed by its body, or nothing when the body is empty. */
export function section(title: string, body: string): string {
  return body === '' ? '' : `\n${title}\n${body}`;
}
