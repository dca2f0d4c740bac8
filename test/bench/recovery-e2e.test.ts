/**
 * The recovery benchmark end to end, small: four seeded jobs with the default profile's
 * faults, run through our machines and through the blanket-retry baseline, each on its own
 * offline stack. The report must have its shape, and neither run may lose a job or leave
 * DynamoDB disagreeing with an execution. Figures are printed by the benchmark, never
 * asserted here.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryBenchReport } from '../../bench/report.ts';

const CLI = fileURLToPath(new URL('../../bench/recovery.ts', import.meta.url));
// Seed 22's first four jobs meet a 503, an HTML error page, out-of-memory and a full disk.
const ARGS = ['--profile', 'default', '--jobs', '4', '--seed', '22', '--json', '--parallel'];

function runBenchmark(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...ARGS], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let report: RecoveryBenchReport;

beforeAll(async () => {
  const r = await runBenchmark();
  expect(r.code, r.stderr.slice(-4000)).toBe(0);
  report = JSON.parse(r.stdout) as RecoveryBenchReport;
}, 150_000);

describe('npm run bench:recovery -- --jobs 4 --json', () => {
  it.each(['ours', 'baseline'] as const)('reports the headline figures of %s', (variant) => {
    expect(report[variant]).toMatchObject({
      recoveryRate: expect.any(Number),
      falseRecoveries: expect.any(Number),
      lost: expect.any(Number),
      disagreements: expect.any(Number),
      transitionsPerJob: expect.any(Number),
      costPer1000Jobs: expect.any(Number),
    });
  });

  it('compares them in ratio', () => {
    for (const k of ['recoveryRate', 'falseRecoveries', 'lost', 'disagreements', 'transitionsPerJob', 'costPer1000Jobs']) expect(report.ratio).toHaveProperty(k);
  });

  it.each(['ours', 'baseline'] as const)('%s loses no job and its DynamoDB items agree with its executions', (variant) => {
    expect({ lost: report[variant].lost, disagreements: report[variant].disagreements, running: report[variant].runningExecutionsLeft })
      .toEqual({ lost: 0, disagreements: 0, running: 0 });
  });

  it('never retries the full disk in our run; the blanket policy does', () => {
    const disk = report.byError.find((e) => e.name === 'Fatal.DiskFull');
    expect(disk).toMatchObject({ recoverable: false, injected: 1, ours: { falseRecoveries: 0 } });
    expect(disk!.baseline.falseRecoveries).toBeGreaterThan(0);
  });

  it('lists per error name what was injected, and per job what each used', () => {
    expect(report.byError.map((e) => e.name)).toEqual(expect.arrayContaining(['Gpu.OutOfMemory', 'Transient.ServiceUnavailable', 'Fatal.DiskFull']));
    expect(report.details.ours.jobs).toHaveLength(4);
    for (const j of report.details.ours.jobs) expect(j).toMatchObject({ transitions: expect.any(Number), lambdaInvocations: expect.any(Number) });
    expect(report.details.ours.counts.dynamo.writes).toBeGreaterThan(0);
  });
});
