/**
 * The Lambda functions of a synthesized cloud assembly as Lambda would set them up: each
 * one's code asset, its layers' assets, memory, timeout and environment from the template.
 * A function's folder is laid out like Lambda's: the bundle in `task/`, and the layers'
 * `nodejs/node_modules` merged into `node_modules/` beside it, where ES module resolution
 * finds bare imports (Lambda serves them from /opt/nodejs/node_modules; ESM ignores NODE_PATH).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

type Json = Record<string, unknown>;

export interface DeployedFunction {
  /** The construct id that owns it, e.g. `MaskAggregate`, `Handler` (the API), `Watchdog`. */
  readonly name: string;
  readonly logicalId: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  /** The template's variables: strings, or the CloudFormation tokens (Ref, GetAtt, …) left to resolve. */
  readonly environment: Readonly<Record<string, unknown>>;
  /** Folder of the function's code asset (index.mjs). */
  readonly codeDir: string;
  /** Folders of its layers' assets, in the template's order. */
  readonly layerDirs: readonly string[];
}

export class AssemblyError extends Error {
  override readonly name = 'AssemblyError';
}

/** Reads every AWS::Lambda::Function of the stack template in `outdir`. */
export function deployedFunctions(outdir: string, stackName: string): DeployedFunction[] {
  const template = JSON.parse(readFileSync(join(outdir, `${stackName}.template.json`), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Json; Metadata?: Json }> };
  const assetDir = (logicalId: string): string => {
    const path = template.Resources[logicalId]?.Metadata?.['aws:asset:path'];
    if (typeof path !== 'string') throw new AssemblyError(`${logicalId} has no asset (aws:asset:path)`);
    return join(outdir, path);
  };
  return Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function').map(([logicalId, r]) => {
    const cdkPath = String(r.Metadata?.['aws:cdk:path'] ?? '');
    const name = /([^/]+)\/Function\/Resource$/.exec(cdkPath)?.[1];
    if (name === undefined) throw new AssemblyError(`${logicalId} (${cdkPath}) is not a PipelineFunction`);
    const layers = (r.Properties['Layers'] ?? []) as unknown[];
    const layerDirs = layers.map((l) => {
      const ref = (l as { Ref?: string }).Ref;
      if (ref === undefined) throw new AssemblyError(`${name}: layer ${JSON.stringify(l)} is not in the assembly (an ARN given by context?)`);
      return assetDir(ref);
    });
    return {
      name, logicalId,
      memoryMiB: Number(r.Properties['MemorySize'] ?? 128),
      timeoutSeconds: Number(r.Properties['Timeout'] ?? 3),
      environment: ((r.Properties['Environment'] as { Variables?: Json } | undefined)?.Variables ?? {}),
      codeDir: assetDir(logicalId),
      layerDirs,
    };
  });
}

/**
 * Lays `fn` out under `root/<name>`: a copy of the code asset in `task/` (a copy, not a link:
 * Node resolves from a module's real path) and `node_modules/` holding links to every
 * package of its layers (a later layer's package wins, as later layers overwrite in /opt).
 * Returns the bundle's path.
 */
export function layOut(fn: DeployedFunction, root: string): string {
  const dir = join(root, fn.name);
  const task = join(dir, 'task');
  cpSync(fn.codeDir, task, { recursive: true });
  const modules = join(dir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  const link = (from: string, to: string) => { if (!existsSync(to)) symlinkSync(from, to); };
  for (const layer of [...fn.layerDirs].reverse()) {
    const lm = join(layer, 'nodejs', 'node_modules');
    if (!existsSync(lm)) continue;
    for (const entry of readdirSync(lm)) {
      if (entry.startsWith('.')) continue;
      if (!entry.startsWith('@')) { link(join(lm, entry), join(modules, entry)); continue; }
      mkdirSync(join(modules, entry), { recursive: true });
      for (const sub of readdirSync(join(lm, entry))) link(join(lm, entry, sub), join(modules, entry, sub));
    }
  }
  return join(task, 'index.mjs');
}
