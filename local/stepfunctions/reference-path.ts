/**
 * ASL reference paths (`$.a.b`, `$['a'][0]`, `$$.Execution.Id`): the subset of JSONPath
 * that ItemsPath, SecondsPath, TimeoutSecondsPath and the like accept. The states the
 * library runs natively use its full JSONPath; this is for the fields we evaluate.
 */
import type { Json } from './types.ts';

export type PathSegment = string | number;
export interface ReferencePath {
  readonly context: boolean;
  readonly segments: readonly PathSegment[];
}

export class InvalidReferencePath extends Error {
  override readonly name = 'InvalidReferencePath';
}

const TOKEN = /^(?:\.([^.[\]'"]+)|\['([^']*)'\]|\["([^"]*)"\]|\[(\d+)\])/;

export function parseReferencePath(path: string): ReferencePath {
  const context = path.startsWith('$$');
  if (!path.startsWith('$')) throw new InvalidReferencePath(`'${path}' is not a reference path: it must start with $`);
  let rest = path.slice(context ? 2 : 1);
  const segments: PathSegment[] = [];
  while (rest.length > 0) {
    const m = TOKEN.exec(rest);
    if (!m) throw new InvalidReferencePath(`'${path}' is not a reference path this service evaluates (near '${rest}')`);
    const index = m[4];
    segments.push(index !== undefined ? Number(index) : (m[1] ?? m[2] ?? m[3] ?? ''));
    rest = rest.slice(m[0].length);
  }
  return { context, segments };
}

/** The value at the path, or undefined when the path leads nowhere. */
export function resolveReferencePath(path: ReferencePath, input: Json, context: Json): Json | undefined {
  let node: Json | undefined = path.context ? context : input;
  for (const seg of path.segments) {
    if (node === null || node === undefined || typeof node !== 'object') return undefined;
    if (Array.isArray(node)) {
      if (typeof seg !== 'number') return undefined;
      node = node[seg];
    } else {
      node = Object.hasOwn(node, String(seg)) ? node[String(seg)] : undefined;
    }
  }
  return node;
}
