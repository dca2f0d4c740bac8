/**
 * Operator-taught classifier patterns (issue 15, item 4): a failure the built-in rules leave
 * `Unclassified`, or name wrongly, is given a taxonomy name by a substring or a regular
 * expression over its text, optionally only when it was met in one stage.
 *
 * Precedence, the one rule: taught patterns are tried first, newest first, and the first
 * that matches names the failure; then the classifier goes on as without them (a taxonomy
 * name in the failure itself, configured patterns, the built-in rules). Newest first, so a
 * later teaching corrects an earlier one without removing it.
 *
 * The set is one versioned document: every change (add, remove) makes the next version and
 * records who and when. The changes here are pure; the adapter stores them with a
 * conditional write on the version (adapters/taught-patterns.ts).
 */
import safeRegex from 'safe-regex2';
import { z } from 'zod';
import type { Facts } from './classifier-facts.ts';
import { STAGES, type Stage } from './strategies.ts';
import { isErrorName, type ErrorName } from './taxonomy.ts';

/** Longest pattern accepted: enough for a wording, short enough to read in a list. */
export const MAX_TAUGHT_PATTERN_CHARS = 300;
/** Patterns kept at once (the document stays a few KB, far below DynamoDB's 400 KB item). */
export const MAX_TAUGHT_PATTERNS = 100;
/** Changes kept in the document's history, newest last. */
export const MAX_TAUGHT_HISTORY = 50;

/** A nested quantifier, e.g. `(a+)+`: backtracks without end on a near miss. */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,\d*\})\)(?:[+*]|\{\d+,\d*\})/;

/**
 * Why a regular expression is refused, or null. Three checks: it compiles; safe-regex2
 * (fastify's, MIT) finds no star height above 1 and at most 25 repetitions; and no group
 * holding a quantifier is itself quantified. The text it runs on is capped too
 * (classifier-facts.ts MAX_TEXT_CHARS).
 */
export function regexProblem(pattern: string, ignoreCase: boolean): string | null {
  try {
    new RegExp(pattern, ignoreCase ? 'i' : '');
  } catch (e) {
    return `is not a valid regular expression (${(e as Error).message})`;
  }
  if (NESTED_QUANTIFIER.test(pattern) || !safeRegex(pattern)) {
    return 'may backtrack catastrophically (a quantifier inside a quantified group, e.g. (a+)+, or too many repetitions); write it without nesting';
  }
  return null;
}

/** How a taught pattern matches a failure's text. */
export const TAUGHT_MATCHES = ['substring', 'regex'] as const;
export type TaughtMatch = (typeof TAUGHT_MATCHES)[number];

/** What an operator sends: the failure's new name, how to match, where (fields, for bodies that add their own). */
export const TAUGHT_PATTERN_FIELDS = {
  name: z.string().refine(isErrorName, { message: 'must be a taxonomy error name (see `vto classify --list`)' }),
  match: z.enum(TAUGHT_MATCHES).default('substring'),
  pattern: z.string().trim().min(1, 'must not be empty').max(MAX_TAUGHT_PATTERN_CHARS, `must be at most ${MAX_TAUGHT_PATTERN_CHARS} characters`),
  ignoreCase: z.boolean().default(true),
  /** Only failures met in this stage (a recorded failure's stage is its last failed ledger entry's). */
  stage: z.enum(STAGES).optional(),
  note: z.string().max(200).optional(),
};

/** The regular expression check, as a refinement of any object holding the fields. */
export function checkTaughtRegex(p: { match: TaughtMatch; pattern: string; ignoreCase: boolean }, ctx: z.RefinementCtx): void {
  if (p.match !== 'regex') return;
  const problem = regexProblem(p.pattern, p.ignoreCase);
  if (problem !== null) ctx.addIssue({ code: 'custom', path: ['pattern'], message: problem });
}

export const taughtPatternInputSchema = z.strictObject(TAUGHT_PATTERN_FIELDS).superRefine(checkTaughtRegex);
export type TaughtPatternInput = z.input<typeof taughtPatternInputSchema>;
export type TaughtPatternSpec = z.output<typeof taughtPatternInputSchema>;

export interface TaughtPattern extends TaughtPatternSpec {
  /** `tp-<version>`: the version that added it, unique for ever. */
  readonly id: string;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface TaughtChange {
  readonly version: number;
  readonly action: 'add' | 'remove';
  readonly id: string;
  readonly name: string;
  readonly by: string;
  readonly at: string;
}

/** The stored document: the patterns in the order they were added, and its history. */
export interface TaughtSet {
  readonly version: number;
  readonly patterns: readonly TaughtPattern[];
  readonly updatedBy: string | null;
  readonly updatedAt: string | null;
  readonly history: readonly TaughtChange[];
}

export const EMPTY_TAUGHT_SET: TaughtSet = { version: 0, patterns: [], updatedBy: null, updatedAt: null, history: [] };

export class TaughtPatternError extends Error {
  override readonly name = 'TaughtPatternError';
  readonly code: 'TooManyPatterns' | 'PatternNotFound';
  constructor(message: string, code: 'TooManyPatterns' | 'PatternNotFound') {
    super(message);
    this.code = code;
  }
}

/** The next version with `input` added (validated again: the set never holds a bad pattern). */
export function addTaught(set: TaughtSet, input: TaughtPatternInput, by: string, at: string): { set: TaughtSet; added: TaughtPattern } {
  if (set.patterns.length >= MAX_TAUGHT_PATTERNS) {
    throw new TaughtPatternError(`At most ${MAX_TAUGHT_PATTERNS} patterns are kept; remove one first`, 'TooManyPatterns');
  }
  const version = set.version + 1;
  const added: TaughtPattern = { ...taughtPatternInputSchema.parse(input), id: `tp-${version}`, createdBy: by, createdAt: at };
  return { set: next(set, version, [...set.patterns, added], { version, action: 'add', id: added.id, name: added.name, by, at }), added };
}

/** The next version without pattern `id`. */
export function removeTaught(set: TaughtSet, id: string, by: string, at: string): { set: TaughtSet; removed: TaughtPattern } {
  const removed = set.patterns.find((p) => p.id === id);
  if (removed === undefined) throw new TaughtPatternError(`No taught pattern ${id}`, 'PatternNotFound');
  const version = set.version + 1;
  return { set: next(set, version, set.patterns.filter((p) => p.id !== id), { version, action: 'remove', id, name: removed.name, by, at }), removed };
}

function next(set: TaughtSet, version: number, patterns: TaughtPattern[], change: TaughtChange): TaughtSet {
  return { version, patterns, updatedBy: change.by, updatedAt: change.at, history: [...set.history, change].slice(-MAX_TAUGHT_HISTORY) };
}

/** Where a failure was met, when the caller knows it. */
export interface FailureSite {
  readonly stage?: Stage | null;
}

export interface TaughtMatcher {
  readonly id: string;
  readonly name: ErrorName;
  /** The matched fragment, or null. */
  test(facts: Facts, site: FailureSite): string | null;
}

/** One pattern as a matcher over the classifier's facts (the failure's capped text). */
export function taughtMatcher(p: TaughtPatternSpec & { id: string }): TaughtMatcher {
  const rx = p.match === 'regex' ? new RegExp(p.pattern, p.ignoreCase ? 'i' : '') : null;
  const needle = p.ignoreCase ? p.pattern.toLowerCase() : p.pattern;
  return {
    id: p.id,
    name: p.name as ErrorName,
    test(facts, site) {
      if (p.stage !== undefined && site.stage !== p.stage) return null;
      if (rx !== null) return rx.exec(facts.text)?.[0] ?? null;
      const hay = p.ignoreCase ? facts.text.toLowerCase() : facts.text;
      return hay.includes(needle) ? p.pattern : null;
    },
  };
}

/** The set's matchers in the order they are tried: newest first. */
export function taughtMatchers(patterns: readonly (TaughtPatternSpec & { id: string })[]): TaughtMatcher[] {
  return patterns.map(taughtMatcher).reverse();
}
