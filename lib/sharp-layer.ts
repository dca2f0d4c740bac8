/**
 * sharp for Lambda: the bundles leave sharp out (its native libvips is per platform, and
 * the one installed at the project root is the build machine's), so every function gets a
 * layer with sharp for linux-arm64 at /opt/nodejs/node_modules.
 *
 * The layer's contents are installed by `npm ci` itself: the root `postinstall` runs
 * `npm run layer:sharp`, which installs layers/sharp/nodejs (its own package.json and lock)
 * for linux/arm64/glibc. Synth only packages that folder, so it stays offline.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Architecture, Code, LayerVersion, Runtime, type ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { PROJECT_ROOT } from './pipeline-function.ts';

/** The layer's folder: `nodejs/node_modules` in it is what Lambda mounts at /opt/nodejs/node_modules. */
export const SHARP_LAYER_DIR = join(PROJECT_ROOT, 'layers', 'sharp');
const MODULES = join(SHARP_LAYER_DIR, 'nodejs', 'node_modules');
/** The linux-arm64 packages sharp loads its binding and libvips from. */
export const SHARP_ARM64_PACKAGES = ['@img/sharp-linux-arm64', '@img/sharp-libvips-linux-arm64'] as const;

export class SharpLayerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SharpLayerError';
  }
}

const versionOf = (modules: string, pkg: string): string | undefined => {
  const file = join(modules, pkg, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : undefined;
};

/**
 * Checks the installed layer folder: sharp and its linux-arm64 packages are there, and
 * sharp is the version the project runs (and tests) with.
 */
export function checkSharpLayer(): void {
  const fix = 'run `npm ci` (its postinstall installs it) or `npm run layer:sharp`';
  const project = versionOf(join(PROJECT_ROOT, 'node_modules'), 'sharp');
  const layer = versionOf(MODULES, 'sharp');
  if (layer === undefined) throw new SharpLayerError(`layers/sharp/nodejs/node_modules has no sharp: ${fix}`);
  for (const pkg of SHARP_ARM64_PACKAGES) {
    if (versionOf(MODULES, pkg) === undefined) throw new SharpLayerError(`layers/sharp/nodejs/node_modules has no ${pkg} (sharp for linux-arm64): ${fix}`);
  }
  if (project !== undefined && project !== layer) {
    throw new SharpLayerError(`layers/sharp/nodejs has sharp ${layer} but the project runs sharp ${project}: set the same version in layers/sharp/nodejs/package.json, then \`npm run layer:sharp\``);
  }
}

/** The sharp layer: the installed folder as an asset, or an existing layer by ARN. */
export function sharpLayer(scope: Construct, id: string, arn?: string): ILayerVersion {
  if (arn !== undefined) return LayerVersion.fromLayerVersionArn(scope, id, arn);
  checkSharpLayer();
  return new LayerVersion(scope, id, {
    code: Code.fromAsset(SHARP_LAYER_DIR, { exclude: ['nodejs/package.json', 'nodejs/package-lock.json', 'nodejs/node_modules/.package-lock.json'] }),
    compatibleArchitectures: [Architecture.ARM_64],
    compatibleRuntimes: [Runtime.NODEJS_24_X],
    description: 'sharp and libvips for linux-arm64 (layers/sharp)',
  });
}
