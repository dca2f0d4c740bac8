/**
 * `npm start` as a person runs it: the runner as a child process, its JSON report, the
 * endpoints file of --serve, Ctrl-C leaving nothing behind, and the message when Java is
 * missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { ENDPOINTS_FILE } from '../../cli/offline-run.ts';

const BIN = join(import.meta.dirname, '../../bin/offline.ts');

describe('npm start', () => {
  it('--json runs a pack to the end and prints one parsable report, and nothing else, on stdout', () => {
    // Prepare: a shell's environment, without the Powertools settings the suite's global setup adds.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POWERTOOLS_')));
    // Act
    const r = spawnSync(process.execPath, [BIN, '--json', '--jobs', '4', '--profile', 'none', '--time-scale', '0.1', '--workers', '1'], { encoding: 'utf8', timeout: 180_000, env });
    // Assess: the report is the only line on stdout (no handler log or EMF metric line)
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const report = JSON.parse(r.stdout) as { pack: { total: number; counts: Record<string, number> }; jobs: { id: string; status: string; attempts: number; recoveries: unknown[] }[]; statistics: Record<string, unknown> };
    expect(report.pack.total).toBe(4);
    expect(report.pack.counts['complete']).toBe(4);
    expect(report.jobs).toHaveLength(4);
    expect(report.jobs.every((j) => j.status === 'complete' && j.attempts >= 1 && Array.isArray(j.recoveries))).toBe(true);
    expect(report.statistics).toHaveProperty('recoveryRate');
  }, 200_000);

  it('--serve publishes the endpoints, answers on them, and Ctrl-C stops everything and removes the file', async () => {
    // Prepare
    const child = spawn(process.execPath, [BIN, '--serve', '--no-demo', '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const lines = createInterface({ input: child.stderr! });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the stack did not come up within 90 s')), 90_000);
        lines.on('line', (l) => { if (l.includes('serving')) { clearTimeout(timer); resolve(); } });
        void exited.then((code) => reject(new Error(`exited early with ${code}`)));
      });
      const endpoints = JSON.parse(readFileSync(ENDPOINTS_FILE, 'utf8')) as { api: string; dynamodb: string; stepFunctions: string; workers: { metricsUrl: string }[]; credentials: { accessKeyId: string } };
      expect(endpoints.credentials.accessKeyId).toBeTruthy();
      // Unsigned calls are refused as API Gateway refuses them; the worker's metrics answer.
      expect((await fetch(`${endpoints.api}/health`, { signal: AbortSignal.timeout(5000) })).status).toBe(403);
      expect(await (await fetch(endpoints.workers[0]!.metricsUrl, { signal: AbortSignal.timeout(5000) })).text()).toContain('orchestrator_pool_workers_total');
      // Act
      child.kill('SIGINT');
      const code = await exited;
      // Assess
      expect(code).toBe(130);
      expect(existsSync(ENDPOINTS_FILE)).toBe(false);
      await expect(fetch(endpoints.dynamodb, { signal: AbortSignal.timeout(3000) })).rejects.toThrow();
      await expect(fetch(endpoints.workers[0]!.metricsUrl, { signal: AbortSignal.timeout(3000) })).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 150_000);

  it('says how to install Java when it is missing, and exits 1', () => {
    // Act: a PATH without java (node is run by its absolute path).
    const r = spawnSync(process.execPath, [BIN, '--json'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PATH: '/nonexistent' } });
    // Assess
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Java was not found on PATH. DynamoDB Local needs Java 17 or later');
    expect(r.stderr).toContain('apt-get install -y openjdk-17-jre-headless');
  });

  it('refuses a bad flag with a message naming it, and exits 1 before starting anything', () => {
    const r = spawnSync(process.execPath, [BIN, '--time-scale', '3'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--time-scale must be a number in (0, 1]');
  });
});
