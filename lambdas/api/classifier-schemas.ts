/**
 * Requests and answers of the classifier pattern routes (operator-taught patterns,
 * core/taught-patterns.ts), beside schemas.ts: the same zod-to-OpenAPI path.
 */
import { z } from 'zod';
import { STAGES } from '../../core/strategies.ts';
import { TAUGHT_MATCHES, TAUGHT_PATTERN_FIELDS, checkTaughtRegex } from '../../core/taught-patterns.ts';
import { TAUGHT_SCAN } from './limits.ts';

const scanLimit = z.int().min(1).max(TAUGHT_SCAN.max).default(TAUGHT_SCAN.default)
  .describe(`Recorded failures looked at: the newest failed jobs, at most ${TAUGHT_SCAN.max}`);

export const RECORDED_ACTIONS = ['leave', 'reclassify', 'rerun'] as const;

export const patternDryRunBodySchema = z.strictObject({ ...TAUGHT_PATTERN_FIELDS, limit: scanLimit }).superRefine(checkTaughtRegex);

export const patternAddBodySchema = z.strictObject({
  ...TAUGHT_PATTERN_FIELDS,
  limit: scanLimit,
  recorded: z.enum(RECORDED_ACTIONS).default('reclassify').describe(
    'What happens to the recorded failures it matches: leave them; reclassify them (their stored failure takes the new name, and deferred recovery treats them as any failure of that name); ' +
    'or rerun: reclassify, then re-run at once those whose new name is a temporary cause, bounded as deferred recovery is (at most its re-runs per job, the dependency healthy, auto-recovery\'s breaker closed)',
  ),
}).superRefine(checkTaughtRegex);

export const patternIdPathSchema = z.strictObject({ id: z.string().regex(/^tp-\d{1,9}$/, 'must be a pattern id such as tp-3') });

const patternSpecSchema = z.object({
  name: z.string(),
  match: z.enum(TAUGHT_MATCHES),
  pattern: z.string(),
  ignoreCase: z.boolean(),
  stage: z.enum(STAGES).optional(),
  note: z.string().optional(),
});
export const taughtPatternSchema = patternSpecSchema.extend({ id: z.string(), createdBy: z.string(), createdAt: z.string() });

const nameChangeSchema = z.object({ name: z.string(), recoverable: z.boolean() });
export const patternMatchSchema = z.object({
  jobId: z.string(),
  packId: z.string(),
  failedAt: z.string().nullable(),
  stage: z.enum(STAGES).nullable(),
  before: nameChangeSchema,
  after: nameChangeSchema,
  rerunnable: z.boolean().describe('Deferred recovery could re-run it under the new name (a temporary cause, re-runs left)'),
  matched: z.string(),
});

export const patternListSchema = z.object({
  version: z.int(),
  updatedBy: z.string().nullable(),
  updatedAt: z.string().nullable(),
  patterns: z.array(taughtPatternSchema).describe('In the order they were added; they are tried newest first, before the built-in rules'),
  history: z.array(z.object({ version: z.int(), action: z.enum(['add', 'remove']), id: z.string(), name: z.string(), by: z.string(), at: z.string() })),
});

export const patternDryRunSchema = z.object({
  pattern: patternSpecSchema,
  scanned: z.int().describe('Recorded failures looked at'),
  more: z.boolean().describe('Older failed jobs exist beyond `scanned`'),
  matches: z.array(patternMatchSchema),
  changed: z.int().describe('Matches whose name would change'),
  rerunnable: z.int(),
});

const rerunSchema = z.object({ jobId: z.string(), action: z.enum(['rerun', 'leave', 'skipped', 'error']), reason: z.string() });
export const patternAddedSchema = z.object({
  version: z.int(),
  pattern: taughtPatternSchema,
  scanned: z.int(),
  matches: z.array(patternMatchSchema),
  reclassified: z.array(z.string()).describe('Jobs whose stored failure now has the new name'),
  reruns: z.array(rerunSchema).describe('With recorded=rerun: what deferred recovery did with each reclassified job'),
});

export const patternRemovedSchema = z.object({ version: z.int(), removed: taughtPatternSchema });
