/**
 * Operator-taught classifier patterns in the control table: one item (`classifier#patterns`)
 * holding the whole versioned set (core/taught-patterns.ts), changed only by a conditional
 * put on its version, so two saves never clobber each other (the loser reads again and
 * applies its change on top, a bounded number of times).
 *
 * Lambdas and GPU workers classify with a cached copy read at most every TAUGHT_TTL_MS, so
 * a saved pattern is in use everywhere within a minute. A failed read keeps the last copy
 * (or none): classifying never fails because the set could not be read.
 *
 * No Lambda-only imports: the GPU worker uses it too (bin/worker.ts).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { createClassifier, type Classifier, type ClassifierOptions } from '../core/classifier.ts';
import { EMPTY_TAUGHT_SET, taughtPatternInputSchema, type TaughtSet } from '../core/taught-patterns.ts';
import { access, grant } from './access.ts';

export const TAUGHT_PATTERNS_ACCESS = {
  read: access(grant('table:control', 'dynamodb', 'GetItem')),
  write: access(grant('table:control', 'dynamodb', 'GetItem', 'PutItem')),
} as const;

export const TAUGHT_PATTERNS_ID = 'classifier#patterns';
/** How long a cached copy is used before it is read again (the "within a minute" bound, with room for the read). */
export const TAUGHT_TTL_MS = 30_000;
/** Saves that lost the race to another save and are applied again on top of it. */
const MAX_SAVE_ATTEMPTS = 4;

const storedPatternSchema = z.object({ id: z.string(), createdBy: z.string(), createdAt: z.string() }).passthrough();
const storedSetSchema = z.object({
  version: z.number().int().min(0),
  patterns: z.array(z.unknown()).default([]),
  updatedBy: z.string().nullable().default(null),
  updatedAt: z.string().nullable().default(null),
  history: z.array(z.object({ version: z.number(), action: z.enum(['add', 'remove']), id: z.string(), name: z.string(), by: z.string(), at: z.string() })).default([]),
});

/** The stored item as a set; a pattern that no longer validates (e.g. a taxonomy name since removed) is left out. */
export function parseTaughtSet(item: Record<string, unknown> | undefined): TaughtSet {
  if (item === undefined) return EMPTY_TAUGHT_SET;
  const s = storedSetSchema.parse(item);
  const patterns = s.patterns.flatMap((raw) => {
    const meta = storedPatternSchema.safeParse(raw);
    if (!meta.success) return [];
    const { id, createdBy, createdAt, ...rest } = meta.data;
    const spec = taughtPatternInputSchema.safeParse(rest);
    return spec.success ? [{ ...spec.data, id, createdBy, createdAt }] : [];
  });
  return { version: s.version, patterns, updatedBy: s.updatedBy, updatedAt: s.updatedAt, history: s.history };
}

export class TaughtPatternsConflictError extends Error {
  override readonly name = 'TaughtPatternsConflictError';
}

export class TaughtPatternStore {
  readonly #client: () => DynamoDBDocumentClient;
  readonly #table: () => string;

  constructor(o: { client: () => DynamoDBDocumentClient; table: () => string }) {
    this.#client = o.client;
    this.#table = o.table;
  }

  async read(): Promise<TaughtSet> {
    const res = await this.#client().send(new GetCommand({ TableName: this.#table(), Key: { id: TAUGHT_PATTERNS_ID }, ConsistentRead: true }));
    return parseTaughtSet(res.Item);
  }

  /**
   * Applies `change` to the set as stored and writes the result on its version; when another
   * save got there first, reads again and applies `change` to that.
   */
  async change<T>(change: (set: TaughtSet) => { set: TaughtSet; result: T }): Promise<{ set: TaughtSet; result: T }> {
    for (let attempt = 1; ; attempt++) {
      const before = await this.read();
      const out = change(before);
      try {
        await this.#client().send(new PutCommand({
          TableName: this.#table(),
          Item: { id: TAUGHT_PATTERNS_ID, ...out.set },
          ConditionExpression: before.version === 0 ? 'attribute_not_exists(id)' : 'version = :v',
          ...(before.version !== 0 && { ExpressionAttributeValues: { ':v': before.version } }),
        }));
        return out;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        if (attempt >= MAX_SAVE_ATTEMPTS) throw new TaughtPatternsConflictError(`the taught patterns changed under ${MAX_SAVE_ATTEMPTS} saves in a row; try again`);
      }
    }
  }
}

export interface TaughtCacheOptions {
  readonly read: () => Promise<TaughtSet>;
  /** The classifier's other options (a worker's configured patterns). */
  readonly base?: Omit<ClassifierOptions, 'taught'>;
  readonly ttlMs?: number;
  readonly now?: () => number;
  readonly onError?: (e: unknown) => void;
}

export interface TaughtCache {
  /** The classifier with the taught set as read at most `ttlMs` ago. */
  classifier(): Promise<Classifier>;
  /** The version in use (0: none taught, or never read). */
  version(): number;
  forget(): void;
}

/** A classifier rebuilt only when the set's version changes; reads at most once per TTL, one read at a time. */
export function taughtCache(o: TaughtCacheOptions): TaughtCache {
  const ttl = o.ttlMs ?? TAUGHT_TTL_MS;
  const now = o.now ?? Date.now;
  let current = { version: 0, classifier: createClassifier(o.base ?? {}) };
  let readAt: number | null = null;
  let reading: Promise<void> | null = null;
  const refresh = async () => {
    try {
      const set = await o.read();
      if (set.version !== current.version) current = { version: set.version, classifier: createClassifier({ ...o.base, taught: set.patterns }) };
    } catch (e) {
      o.onError?.(e);
    } finally {
      // A failed read is not retried before the TTL either: classifying must not wait on a sick table.
      readAt = now();
      reading = null;
    }
  };
  return {
    async classifier() {
      if (readAt === null || now() - readAt >= ttl) await (reading ??= refresh());
      return current.classifier;
    },
    version: () => current.version,
    forget() {
      readAt = null;
    },
  };
}
