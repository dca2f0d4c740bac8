/**
 * `vto classify`: what the pipeline would do with a raw error text. Prints one JSON line
 * {name, family, recoverable, strategy, matched}; exit 0 whatever the verdict.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createClassifier, customPatternsSchema, type Verdict } from '../core/classifier.ts';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A zod issue path as a reader writes it: `[0].name`. */
export const formatPath = (path: readonly PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');

export function loadPatterns(file: string): z.infer<typeof customPatternsSchema> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--patterns ${file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--patterns ${file}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = customPatternsSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`).join('; ');
    throw new UsageError(`--patterns ${file}: ${issues}. Expected an array of {"name": "<taxonomy name>", "pattern": "<regex>", "flags"?: "i"}`);
  }
  return parsed.data;
}

export async function readStdin(stream: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<string> {
  if (stream.isTTY) throw new UsageError('no error text: pass --text "..." or pipe the text on standard input');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

export function classifyText(text: string, patternsFile?: string): Verdict {
  if (text.trim() === '') throw new UsageError('the error text is empty');
  const classifier = createClassifier(patternsFile === undefined ? {} : { patterns: loadPatterns(patternsFile) });
  return classifier.classify(text);
}
