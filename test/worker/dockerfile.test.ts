/**
 * worker/Dockerfile, checked without a Docker engine (there is none here): its steps are read
 * from the file and run as they are in a temporary copy of what it COPYs. The image's tree is
 * the one `npm ci --omit=dev` makes; its CMD starts the worker from it, beside the simulated
 * ComfyUI, and stops it with SIGTERM as ECS does. What Docker itself adds (the base image's
 * filesystem, layer caching) is not covered.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startComfySim, type ComfySim } from '../../local/comfyui/server.ts';
import { eventually } from '../support/eventually.ts';

interface Step { readonly op: string; readonly args: string }

/** Instructions with their continuation lines joined; comments dropped. */
function parseDockerfile(text: string): Step[] {
  const joined = text.split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n').replace(/\\\n/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [op = '', ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
}

const dockerfile = parseDockerfile(readFileSync('worker/Dockerfile', 'utf8'));
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const steps = (op: string) => dockerfile.filter((s) => s.op === op);
/** COPY sources, relative to the build context (the repository root). */
const copied = steps('COPY').flatMap((s) => s.args.split(' ').slice(0, -1));
/** RUN commands without BuildKit flags (--mount=…). */
const runs = steps('RUN').map((s) => s.args.replace(/^(--\S+\s+)+/, ''));
const cmd = JSON.parse(steps('CMD')[0]?.args ?? 'null') as string[];

describe('worker/Dockerfile against the project', () => {
  it('builds on the Node major the project runs on, installs production dependencies only, and starts bin/worker.ts', () => {
    const major = (range: string | undefined) => /(\d+)/.exec(range ?? '')?.[1];
    expect(/^node:(\d+)-/.exec(steps('FROM')[0]?.args ?? '')?.[1]).toBe(major(pkg.devDependencies['node']));
    expect(runs.some((r) => /^npm ci --omit=dev\b/.test(r))).toBe(true);
    expect(cmd).toEqual(['node', 'bin/worker.ts']);
  });

  it('copies every file bin/worker.ts imports, and every package it imports is a production dependency', async () => {
    // Act
    const result = await build({ entryPoints: ['bin/worker.ts'], bundle: true, platform: 'node', format: 'esm', packages: 'external', metafile: true, write: false, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs);
    const packages = new Set(Object.values(result.metafile.inputs).flatMap((i) => i.imports).filter((i) => i.external && !i.path.startsWith('node:'))
      .map((i) => i.path.split('/').slice(0, i.path.startsWith('@') ? 2 : 1).join('/')));

    // Assess
    const isCopied = (file: string) => copied.some((src) => file === src || file.startsWith(`${src.replace(/\/$/, '')}/`));
    expect(inputs.filter((f) => !isCopied(f))).toEqual([]);
    expect([...packages].filter((p) => pkg.dependencies[p] === undefined)).toEqual([]);
  });

  it('lets every COPY source through .dockerignore', () => {
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim());
    expect(ignore).toContain('*');
    for (const src of copied) expect(ignore, src).toContain(`!${src.replace(/\/$/, '')}${src.includes('.') ? '' : '/'}`);
  });
});

describe('the image\'s steps, run outside Docker', () => {
  let dir: string;
  let sim: ComfySim;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vto-image-'));
    for (const src of copied) {
      mkdirSync(dirname(join(dir, src)), { recursive: true });
      cpSync(src, join(dir, src), { recursive: true, filter: (f) => !f.endsWith('.test.ts') && !f.includes('worker/comfyui') });
    }
    // The machine's npm cache stands in for BuildKit's cache mount: nothing is fetched when it holds the lockfile's packages.
    for (const run of runs) {
      const r = spawnSync('sh', ['-c', run], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, npm_config_prefer_offline: 'true' } });
      if (r.status !== 0) throw new Error(`RUN ${run} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
    }
  }, 150_000);
  afterAll(async () => {
    await sim?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('has no development dependency in the installed tree', () => {
    const installed = (name: string) => spawnSync('sh', ['-c', `test -d node_modules/${name}`], { cwd: dir }).status === 0;
    expect(installed('commander')).toBe(true);
    expect(['vitest', 'aws-cdk-lib', 'esbuild', 'eslint', 'cdk-nag'].filter(installed)).toEqual([]);
  });

  it('answers --help from the installed tree (every module it imports loads)', () => {
    // Act
    const r = spawnSync(process.execPath, [...cmd.slice(1), '--help'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });

    // Assess
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: vto-worker/);
  });

  it('starts beside ComfyUI, serves /healthz, and exits 0 on SIGTERM', async () => {
    // Prepare
    sim = await startComfySim({ stepMs: 2 });
    const child = spawn(process.execPath, cmd.slice(1), {
      cwd: dir,
      env: {
        PATH: process.env['PATH'], NODE_ENV: 'production', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
        // Nothing answers here: the worker keeps polling with backoff until it is stopped.
        AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9', GPU_QUEUE_URL: 'http://127.0.0.1:9/000000000000/vto-gpu', ARTIFACTS_BUCKET: 'vto-artifacts',
        COMFYUI_URL: sim.url, VTO_METRICS_PORT: '0', VTO_WORKER_ID: 'image-test', VTO_SHUTDOWN_GRACE_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

    try {
      // Act
      const line = await eventually(() => stdout.split('\n')[0] ?? '', (l) => l.startsWith('{') && stdout.includes('\n'), 'the start line', { timeoutMs: 30_000 });
      const { metricsUrl } = JSON.parse(line) as { metricsUrl: string };
      const health = await eventually(async () => (await fetch(metricsUrl.replace(/\/metrics$/, '/healthz'))).json() as Promise<{ status: string }>,
        (h) => h.status === 'ok', 'the worker polling (ComfyUI ready)', { timeoutMs: 30_000 });
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);

      // Assess
      expect(health.status).toBe('ok');
      expect(code, stderr.slice(-2000)).toBe(0);
      expect(stderr).toContain('"msg":"GPU worker stopped"');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
