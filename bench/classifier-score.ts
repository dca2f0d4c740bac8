/**
 * Scores the classifier on labelled failure texts: how many it names right, and the two
 * errors that matter for recovery — a non-recoverable failure called recoverable (a false
 * recovery: the pipeline would retry what cannot succeed) and a recoverable one left
 * unrecovered (Unclassified or fatal: a person is paged for nothing).
 */
import type { Verdict } from '../core/classifier.ts';
import { entryFor, type ErrorName, type Family } from '../core/taxonomy.ts';

export interface LabelledText {
  readonly key: string;
  readonly text: string;
  readonly expected: ErrorName;
}

export interface Miss {
  readonly key: string;
  readonly expected: ErrorName;
  readonly got: ErrorName;
  readonly matched: string | null;
  readonly text: string;
}

export interface Score {
  readonly size: number;
  readonly right: number;
  /** Non-recoverable texts named recoverable. */
  readonly falseRecoveries: readonly Miss[];
  /** Recoverable texts named non-recoverable (Unclassified or fatal). */
  readonly unrecovered: readonly Miss[];
  readonly misses: readonly Miss[];
  /** expected family → named family → count. */
  readonly confusion: ReadonlyMap<Family, ReadonlyMap<Family, number>>;
}

export function score(cases: readonly LabelledText[], classify: (text: string) => Verdict): Score {
  let right = 0;
  const misses: Miss[] = [];
  const confusion = new Map<Family, Map<Family, number>>();
  for (const c of cases) {
    const v = classify(c.text);
    const want = entryFor(c.expected);
    const row = confusion.get(want.family) ?? new Map<Family, number>();
    row.set(v.family, (row.get(v.family) ?? 0) + 1);
    confusion.set(want.family, row);
    if (v.name === c.expected) right++;
    else misses.push({ key: c.key, expected: c.expected, got: v.name, matched: v.matched, text: c.text });
  }
  return {
    size: cases.length,
    right,
    falseRecoveries: misses.filter((m) => !entryFor(m.expected).recoverable && entryFor(m.got).recoverable),
    unrecovered: misses.filter((m) => entryFor(m.expected).recoverable && !entryFor(m.got).recoverable),
    misses,
    confusion,
  };
}

/** Percentage with one decimal, e.g. 95.9. */
export const percent = (part: number, whole: number): number => (whole === 0 ? 0 : Math.round((1000 * part) / whole) / 10);
