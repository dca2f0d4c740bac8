import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig, WorkerConfigError } from '../../worker/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'vto-worker-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const REQUIRED = { GPU_QUEUE_URL: 'http://127.0.0.1:4566/000000000000/gpu', ARTIFACTS_BUCKET: 'vto-artifacts' };

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof WorkerConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a WorkerConfigError');
}

describe('worker configuration', () => {
  it('uses the defaults when only the queue and bucket are given', () => {
    const c = loadWorkerConfig({ env: REQUIRED });

    expect(c).toMatchObject({
      prefetch: 1, requestTimeoutMs: 30_000, autoShutdownMs: null, workerStartTimeoutMs: 120_000,
      comfyUrl: 'http://127.0.0.1:8188', pollWaitSeconds: 20, visibilityTimeoutSeconds: 30,
      heartbeatIntervalMs: 5000, stallFactor: 10, stallFloorMs: 60_000, stallFirstProgressMs: 300_000, metricsPort: 9464, queueUrl: REQUIRED.GPU_QUEUE_URL, artifactsBucket: 'vto-artifacts',
    });
  });

  it('reads the warm-up model from VTO_WARMUP_MODEL: none by default, "off" for none', () => {
    expect(loadWorkerConfig({ env: REQUIRED }).warmupModel).toBeNull();
    expect(loadWorkerConfig({ env: { ...REQUIRED, VTO_WARMUP_MODEL: 'sdxl-inpaint-1.0.safetensors' } }).warmupModel).toBe('sdxl-inpaint-1.0.safetensors');
    expect(loadWorkerConfig({ env: { ...REQUIRED, VTO_WARMUP_MODEL: 'off' } }).warmupModel).toBeNull();
    expect(problemsOf(() => loadWorkerConfig({ env: REQUIRED, overrides: { warmupModel: 3 } }))[0]).toMatch(/^warmupModel: must be a checkpoint file name, or "off"/);
  });

  it('layers file, then environment, then overrides', () => {
    const path = file('layers.json', { prefetch: 2, requestTimeoutMs: 1000, comfyUrl: 'http://gpu-1:8188' });

    const c = loadWorkerConfig({ configPath: path, env: { ...REQUIRED, VTO_PREFETCH: '3' }, overrides: { requestTimeoutMs: 5 } });

    expect([c.prefetch, c.requestTimeoutMs, c.comfyUrl]).toEqual([3, 5, 'http://gpu-1:8188']);
  });

  it('finds the file through VTO_WORKER_CONFIG', () => {
    const path = file('from-env.json', { prefetch: 4 });

    expect(loadWorkerConfig({ env: { ...REQUIRED, VTO_WORKER_CONFIG: path } }).prefetch).toBe(4);
  });

  it('reads every documented environment variable', () => {
    const c = loadWorkerConfig({
      env: {
        ...REQUIRED, VTO_PREFETCH: '2', VTO_STALL_FACTOR: '4.5', VTO_STALL_FLOOR_MS: '1000', VTO_STALL_FIRST_PROGRESS_MS: '2000',
        VTO_HOST_ID: 'gpu-host-7', VTO_REQUEST_TIMEOUT_MS: '1500', VTO_AUTO_SHUTDOWN_MS: '60000',
        VTO_WORKER_START_TIMEOUT_MS: '9000', COMFYUI_URL: 'https://comfy.internal:8443', VTO_POLL_WAIT_SECONDS: '5',
        VTO_VISIBILITY_TIMEOUT_SECONDS: '30', VTO_HEARTBEAT_INTERVAL_MS: '200', VTO_GENERATION_TIMEOUT_MS: '90000',
        VTO_SHUTDOWN_GRACE_MS: '100', VTO_METRICS_PORT: '0', VTO_METRICS_HOST: '0.0.0.0', VTO_WORKER_ID: 'gpu-7',
        VTO_HISTORY_POLL_MS: '50', VTO_WS_RECONNECT_ATTEMPTS: '2', VTO_WS_RECONNECT_DELAY_MS: '10', VTO_LOG_LEVEL: 'warn',
      },
    });

    expect(c).toMatchObject({
      prefetch: 2, stallFactor: 4.5, stallFloorMs: 1000, stallFirstProgressMs: 2000, hostId: 'gpu-host-7', requestTimeoutMs: 1500, autoShutdownMs: 60_000, workerStartTimeoutMs: 9000,
      comfyUrl: 'https://comfy.internal:8443', pollWaitSeconds: 5, visibilityTimeoutSeconds: 30, heartbeatIntervalMs: 200,
      generationTimeoutMs: 90_000, shutdownGraceMs: 100, metricsPort: 0, metricsHost: '0.0.0.0', workerId: 'gpu-7',
      historyPollMs: 50, wsReconnectAttempts: 2, wsReconnectDelayMs: 10, logLevel: 'warn',
    });
  });

  it.each([
    ['null in the file', { autoShutdownMs: null }, {}],
    ['0 in the file', { autoShutdownMs: 0 }, {}],
    ['"off" in the file', { autoShutdownMs: 'off' }, {}],
    ['"OFF" from the environment', {}, { VTO_AUTO_SHUTDOWN_MS: 'OFF' }],
    ['"0" from the environment', {}, { VTO_AUTO_SHUTDOWN_MS: '0' }],
  ])('disables auto-shutdown with %s', (_label, content, env) => {
    const c = loadWorkerConfig({ configPath: file('auto.json', content), env: { ...REQUIRED, ...env } });

    expect(c.autoShutdownMs).toBeNull();
  });

  it.each([
    ['0', 0], ['"off"', 'off'], ['null', null],
  ])('disables the start-up wait with %s', (_label, value) => {
    expect(loadWorkerConfig({ env: REQUIRED, overrides: { workerStartTimeoutMs: value } }).workerStartTimeoutMs).toBeNull();
  });

  it.each([
    ['prefetch', { VTO_PREFETCH: '-1' }, /^prefetch: must be ≥ 0 \(got "-1" from env VTO_PREFETCH\)$/],
    ['prefetch', { VTO_PREFETCH: '9' }, /^prefetch: must be ≤ 8/],
    ['prefetch', { VTO_PREFETCH: 'two' }, /^prefetch: must be a number \(got "two" from env VTO_PREFETCH\)$/],
    ['VTO_POOL_SIZE', { VTO_POOL_SIZE: '10' }, /^VTO_POOL_SIZE was removed: a worker runs one prompt and takes VTO_PREFETCH more/],
    ['VTO_CIRCUIT_BREAKER_WAIT_MS', { VTO_CIRCUIT_BREAKER_WAIT_MS: '0' }, /^VTO_CIRCUIT_BREAKER_WAIT_MS was removed/],
    ['stallFactor', { VTO_STALL_FACTOR: '0.5' }, /^stallFactor: must be ≥ 1/],
    ['requestTimeoutMs', { VTO_REQUEST_TIMEOUT_MS: '-5' }, /^requestTimeoutMs: must be ≥ 1/],
    ['autoShutdownMs', { VTO_AUTO_SHUTDOWN_MS: 'soon' }, /^autoShutdownMs: must be a number of milliseconds, or null \/ 0 \/ "off" to disable auto-shutdown \(got "soon"/],
    ['autoShutdownMs', { VTO_AUTO_SHUTDOWN_MS: '-1' }, /^autoShutdownMs: must be > 0 milliseconds/],
    ['workerStartTimeoutMs', { VTO_WORKER_START_TIMEOUT_MS: 'never' }, /^workerStartTimeoutMs: must be a number of milliseconds, or null \/ 0 \/ "off" to disable the start-up wait/],
    ['comfyUrl', { COMFYUI_URL: 'ftp://gpu:21' }, /^comfyUrl: must be an http\(s\) URL \(got "ftp:\/\/gpu:21" from env COMFYUI_URL\)$/],
    ['queueUrl', { GPU_QUEUE_URL: 'not a url' }, /^queueUrl: must be an http\(s\) queue URL/],
    ['pollWaitSeconds', { VTO_POLL_WAIT_SECONDS: '21' }, /^pollWaitSeconds: must be ≤ 20/],
    ['visibilityTimeoutSeconds', { VTO_VISIBILITY_TIMEOUT_SECONDS: '1' }, /^visibilityTimeoutSeconds: must be ≥ 2/],
    ['heartbeatIntervalMs', { VTO_HEARTBEAT_INTERVAL_MS: 'fast' }, /^heartbeatIntervalMs: must be a number/],
    ['metricsPort', { VTO_METRICS_PORT: '70000' }, /^metricsPort: must be ≤ 65535/],
    ['workerId', { VTO_WORKER_ID: 'gpu 1' }, /^workerId: may hold only letters/],
    ['logLevel', { VTO_LOG_LEVEL: 'loud' }, /^logLevel: must be one of debug, info, warn, error, silent/],
  ])('names %s and the reason when it is bad (%o)', (_field, env, expected) => {
    const problems = problemsOf(() => loadWorkerConfig({ env: { ...REQUIRED, ...env } }));

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('lists every bad field at once, with the file as the source', () => {
    const path = file('bad.json', { prefetch: -1, shutdownGraceMs: 'long' });

    const problems = problemsOf(() => loadWorkerConfig({ configPath: path, env: REQUIRED }));

    expect(problems).toEqual([
      `prefetch: must be ≥ 0 (got -1 from config file ${path})`,
      `shutdownGraceMs: must be a number (got "long" from config file ${path})`,
    ]);
  });

  it('says which required settings are missing and where they come from', () => {
    const problems = problemsOf(() => loadWorkerConfig({ env: {} }));

    expect(problems).toEqual([
      'queueUrl: is required (env GPU_QUEUE_URL) (not set)',
      'artifactsBucket: is required (env ARTIFACTS_BUCKET) (not set)',
    ]);
  });

  it('rejects unknown settings in the file (typos do not pass silently)', () => {
    const problems = problemsOf(() => loadWorkerConfig({ configPath: file('typo.json', { prefecth: 2 }), env: REQUIRED }));

    expect(problems[0]).toMatch(/^unknown setting prefecth \(known: prefetch, /);
  });

  it('treats an empty environment variable as unset', () => {
    expect(loadWorkerConfig({ env: { ...REQUIRED, VTO_PREFETCH: '', VTO_POOL_SIZE: '' } }).prefetch).toBe(1);
  });

  it.each([
    ['a missing file', () => join(dir, 'absent.json'), /cannot be read: ENOENT/],
    ['a file that is not JSON', () => file('broken.json', '{ poolSize: 2'), /is not valid JSON/],
    ['a JSON array', () => file('array.json', [1]), /must hold a JSON object of settings/],
  ])('explains %s', (_label, makePath, expected) => {
    const path = makePath();

    const problems = problemsOf(() => loadWorkerConfig({ configPath: path, env: REQUIRED }));

    expect(problems[0]).toContain(path);
    expect(problems[0]).toMatch(expected);
  });

  it('validates custom classifier patterns', () => {
    const problems = problemsOf(() => loadWorkerConfig({
      env: REQUIRED, overrides: { classifierPatterns: [{ name: 'Gpu.Melted', pattern: 'smoke' }] },
    }));

    expect(problems[0]).toMatch(/^classifierPatterns\.0\.name: must be a taxonomy error name/);
  });
});
