/**
 * The folders import one way (docs/architecture.md §1): each folder may import its own files
 * and the folders of lower layers, never a folder of its own layer or above. Read from the
 * sources themselves, so a new import that points the wrong way fails here, not in review.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const LAYERS: readonly (readonly string[])[] = [
  ['core'],
  ['adapters', 'statemachines', 'client'],
  ['lambdas', 'worker'],
  ['lib'],
  ['local'],
  ['console'],
  ['cli'],
  ['bench'],
  ['bin'],
];
const layerOf = new Map(LAYERS.flatMap((folders, layer) => folders.map((f) => [f, layer] as const)));

/** Packages `core/` must not reach for: it is the domain, and imports nothing of AWS. */
const AWS_PACKAGES = /^(@aws-sdk\/|@aws-lambda-powertools\/|@middy\/|aws-lambda$|aws-cdk-lib|@smithy\/)/;

const ROOT = normalize(join(import.meta.dirname, '../..'));

function sources(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.includes('node_modules'))
    .map((f) => join(folder, f));
}

/** Every module specifier a file names: static and dynamic imports, re-exports. */
function specifiers(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])([^'"\n]+)\1/gm)];
  return found.map((m) => m[2]!);
}

interface Edge { readonly file: string; readonly imports: string }

function edges(): Edge[] {
  return [...layerOf.keys()].flatMap((folder) =>
    sources(folder).flatMap((file) =>
      specifiers(file).map((spec) => ({
        file,
        imports: spec.startsWith('.') ? relative(ROOT, join(ROOT, dirname(file), spec)) : spec,
      })),
    ),
  );
}

const topFolder = (path: string): string => path.split('/')[0]!;

/** The import that breaks the direction, named for the message, or undefined. */
export function wrongWay({ file, imports }: Edge): string | undefined {
  const from = topFolder(file);
  if (from === 'core' && AWS_PACKAGES.test(imports)) return `${file} → ${imports} (core imports nothing of AWS)`;
  if (!imports.includes('/') || imports.startsWith('@') || !/^[a-z]/.test(imports)) return undefined;
  const to = topFolder(imports);
  if (to === from || !layerOf.has(to) && to !== 'test') return undefined;
  const allowed = layerOf.has(to) && layerOf.get(to)! < layerOf.get(from)!;
  return allowed ? undefined : `${file} → ${imports}`;
}

describe('import direction', () => {
  const all = edges();

  it('reads the sources (a broken scan would pass vacuously)', () => {
    expect(all.filter((e) => e.file.startsWith('worker/') && e.imports.startsWith('adapters/')).length).toBeGreaterThan(3);
    expect(all.filter((e) => e.file.startsWith('lambdas/') && e.imports.startsWith('core/')).length).toBeGreaterThan(50);
  });

  it('has no import that points up or across a layer', () => {
    expect(all.map(wrongWay).filter((v) => v !== undefined)).toEqual([]);
  });

  it.each([
    ['worker/worker.ts', 'lambdas/handlers/job-start.ts', true],
    ['worker/worker.ts', 'adapters/access.ts', false],
    ['adapters/job-store.ts', 'statemachines/tasks.ts', true],
    ['local/stack.ts', 'console/server/server.ts', true],
    ['lib/stack.ts', 'local/stack.ts', true],
    ['local/iam/policies.ts', 'lib/stack.ts', false],
    ['console/server/proxy.ts', 'local/stack.ts', false],
    ['bench/classifier.ts', 'test/fixtures/x.ts', true],
    ['core/job.ts', '@aws-sdk/client-dynamodb', true],
    ['adapters/job-store.ts', '@aws-sdk/client-dynamodb', false],
    ['lib/stack.ts', 'lib/grants.ts', false],
  ])('%s importing %s is wrong: %s', (file, imports, wrong) => {
    expect(wrongWay({ file, imports }) !== undefined).toBe(wrong);
  });
});
