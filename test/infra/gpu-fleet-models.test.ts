/**
 * The fleet's model sync (lib/gpu-fleet-models.ts), the script each GPU task runs before
 * ComfyUI starts, run here as the task runs it: `sh -c` with the AWS CLI, against the S3
 * emulator instead of the artifacts bucket (this machine's CLI is v1; the task's image has v2,
 * whose `s3 sync` takes the same options).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_SYNC_SCRIPT, MODELS_PREFIX } from '../../lib/gpu-fleet-models.ts';
import { awsEnv, provisionFresh } from '../support/aws.ts';

const dir = mkdtempSync(join(tmpdir(), 'vto-models-'));
let bucket: string;
let env: Record<string, string>;
beforeAll(async () => {
  if (spawnSync('aws', ['--version']).status !== 0) throw new Error('this test runs the aws CLI (toolchain.md §9); it is not on PATH');
  bucket = (await provisionFresh()).buckets.artifacts;
  const config = join(dir, 'aws-config');
  // The emulator serves path-style requests.
  writeFileSync(config, '[default]\ns3 =\n  addressing_style = path\n');
  env = { ...awsEnv(), AWS_CONFIG_FILE: config, AWS_DEFAULT_REGION: process.env['AWS_REGION'] ?? 'us-east-1' };
  const s3 = new S3Client({ forcePathStyle: true });
  for (const name of ['a.safetensors', 'b.safetensors', 'unlisted.safetensors']) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${MODELS_PREFIX}${name}`, Body: `weights of ${name}` }));
  }
  s3.destroy();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sync = (chain: string, into: string) => spawnSync('sh', ['-c', MODEL_SYNC_SCRIPT], {
  encoding: 'utf8', timeout: 60_000,
  env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env, MODELS_BUCKET: bucket, MODELS_PREFIX, MODELS_DIR: into, VTO_MODEL_CHAIN: chain },
});

describe('the GPU task\'s model sync', () => {
  it('copies exactly the models of VTO_MODEL_CHAIN into the checkpoints folder', () => {
    // Prepare
    const into = mkdtempSync(join(dir, 'ok-'));

    // Act
    const r = sync('a.safetensors,b.safetensors', into);

    // Assess
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(into, 'checkpoints')).sort()).toEqual(['a.safetensors', 'b.safetensors']);
    expect(r.stdout).toContain('models ready: a.safetensors,b.safetensors');
  });

  it('fails, naming the model, when the chain lists one the bucket does not hold', () => {
    // Prepare
    const into = mkdtempSync(join(dir, 'missing-'));

    // Act
    const r = sync('a.safetensors,absent.safetensors', into);

    // Assess
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`model absent.safetensors is not in s3://${bucket}/${MODELS_PREFIX} (VTO_MODEL_CHAIN lists it)`);
  });
});
