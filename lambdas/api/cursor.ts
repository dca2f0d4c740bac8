/**
 * Page cursors: a DynamoDB start key as base64url JSON. A cursor coming back is parsed
 * with the schema of the index it belongs to, so a forged one is a 400, never a key
 * DynamoDB refuses.
 */
import { z } from 'zod';
import { badRequest } from './errors.ts';
import { ID_PATTERN } from './schemas.ts';

const id = z.string().regex(ID_PATTERN);

export const packCursorSchema = z.strictObject({ packId: id, kind: z.literal('pack'), createdAt: z.iso.datetime() });
export const jobCursorSchema = z.strictObject({ packId: id, jobId: id });

export const encodeCursor = (key: Record<string, unknown>): string => Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');

export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const r = schema.safeParse(parsed);
  if (!r.success) throw badRequest('The cursor is not one this API returned', [{ path: 'query.cursor', message: 'must be the nextCursor of a previous page' }]);
  return r.data;
}
