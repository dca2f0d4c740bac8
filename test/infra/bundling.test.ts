/**
 * What the Lambda runtime will load: two handlers bundled for real by the local esbuild,
 * one without and one with sharp, then imported by a plain Node process as Lambda would.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESM_REQUIRE_BANNER, PipelineFunction } from '../../lib/pipeline-function.ts';

const outdir = mkdtempSync(join(tmpdir(), 'vto-bundles-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** Imports a bundle in a fresh Node process; prints the handler's type or the error code. */
function load(bundle: string): { stdout: string; stderr: string } {
  const script = `import(${JSON.stringify(pathToFileURL(bundle).href)}).then((m) => console.log(typeof m.handler), (e) => console.log(e.code, e.message))`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: outdir, encoding: 'utf8', timeout: 30_000 });
  return { stdout: r.stdout.trim(), stderr: r.stderr };
}

describe('function bundles', () => {
  const bundles: Record<'plain' | 'image', string> = { plain: '', image: '' };

  beforeAll(() => {
    // Prepare
    const app = new App({ outdir });
    const stack = new Stack(app, 'Bundles');
    new PipelineFunction(stack, 'Plain', { entry: 'lambdas/handlers/job-start.ts', description: 'no sharp' });
    new PipelineFunction(stack, 'Image', { entry: 'lambdas/handlers/mask-expand.ts', description: 'uses sharp' });

    // Act
    app.synth();
    const files = readdirSync(outdir).filter((d) => d.startsWith('asset.')).map((d) => join(outdir, d, 'index.mjs')).filter((f) => existsSync(f));
    for (const f of files) bundles[readFileSync(f, 'utf8').includes('from"sharp"') ? 'image' : 'plain'] = f;
  });

  it('starts every bundle with the banner that defines require for bundled CommonJS code', () => {
    for (const f of Object.values(bundles)) expect(readFileSync(f, 'utf8').startsWith(ESM_REQUIRE_BANNER)).toBe(true);
  });

  it('loads a handler bundle in plain Node with nothing beside it: the AWS SDK and Powertools are inside', () => {
    // Act
    const { stdout, stderr } = load(bundles.plain);

    // Assess
    expect(stdout, stderr).toBe('function');
  });

  it('leaves sharp out of the image bundle, to be resolved from the layer at run time', () => {
    // Act
    const { stdout } = load(bundles.image);

    // Assess
    expect(readFileSync(bundles.image, 'utf8')).not.toContain('sharp-linux-x64');
    expect(stdout).toMatch(/^ERR_MODULE_NOT_FOUND Cannot find package 'sharp'/);
  });
});
