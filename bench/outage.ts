#!/usr/bin/env node
/**
 * `npm run bench:recovery -- --profile outage [--jobs N] [--seed S] [--time-scale F] [--workers N] [--json]`
 *
 * One provider (the profile's: the analyzer) down for 30 simulated minutes from the moment
 * the first job reaches QA, far longer than the in-run retries (~9 simulated minutes of
 * Transient.CircuitOpen waits alone), under the seeded demo workload (its physics faults and
 * its corrupt upload included). Run twice, each on a fresh offline stack in a process of its
 * own: without deferred recovery (VTO_DEFERRED_RECOVERY=off: the baseline, failed stays
 * failed) and with it. Reported side by side: recovery rate over the jobs not planned fatal,
 * time until the last job completed, deferred re-runs spent, and fatal or unclassified
 * failures re-run (must be 0). Figures come from the job items at the end, never from the
 * pipeline's own counters.
 */
// First: the handlers' Powertools output settings must be in the environment before they load.
import '../local/handler-output.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { deferredSettings, isDeferrable } from '../core/deferred-recovery.ts';
import { packExecutionName, type JobRecord } from '../core/job.ts';
import { watchdogSettings } from '../core/watchdog.ts';
import { jobsOfPack } from '../adapters/job-store.ts';
import { stopChild } from '../local/child-processes.ts';
import { CORRUPT_INPUT_JOB, createDemoPack } from '../local/demo.ts';
import { getProfile } from '../local/faults.ts';
import { startOfflineStack } from '../local/stack.ts';

export interface OutageOptions {
  readonly jobs: number;
  readonly seed: number;
  readonly timeScale: number;
  readonly workers: number;
  readonly deferred: boolean;
}

export interface OutageFigures {
  readonly deferred: boolean;
  readonly jobs: number;
  /** Jobs whose inputs are planned to fail fatally (the corrupt upload). */
  readonly plannedFatal: number;
  readonly complete: number;
  readonly failed: number;
  /** Complete ÷ jobs not planned fatal. */
  readonly recoveryRate: number;
  /** From the pack's start to the last job that completed (s, wall clock). */
  readonly lastCompleteSeconds: number | null;
  readonly reruns: number;
  /** Jobs re-run although their failure was fatal or unclassified. */
  readonly fatalRetried: number;
  /** Failed jobs' errors at the end. */
  readonly failedBy: Record<string, number>;
  readonly outageSeconds: number;
}

const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const TERMINAL = new Set(['complete', 'failed', 'cancelled']);

/** Nothing left to wait for: every job ended, and no failed one may still be re-run. */
function settled(jobs: readonly JobRecord[], o: OutageOptions, maxReruns: number): boolean {
  if (!jobs.every((j) => TERMINAL.has(j.status))) return false;
  if (!o.deferred) return true;
  return jobs.every((j) => j.status !== 'failed' || !(isDeferrable(j.error?.name ?? '') || j.error?.name === 'Recovery.Exhausted') || (j.deferredReruns ?? 0) >= maxReruns);
}

export async function runOutageVariant(o: OutageOptions): Promise<OutageFigures> {
  process.env['VTO_DEFERRED_RECOVERY'] = o.deferred ? 'on' : 'off';
  const profile = getProfile('outage');
  const outage = profile.outage!;
  const stack = await startOfflineStack({ timeScale: o.timeScale, workers: o.workers, profile: 'none', seed: o.seed, prefix: `out${o.deferred ? 'd' : 'b'}${process.pid}` });
  const sfn = new SFNClient({});
  try {
    const { pack, jobs } = await createDemoPack({ jobs: o.jobs, seed: o.seed, name: `outage (${o.deferred ? 'deferred' : 'baseline'})` });
    const outageMs = outage.simulatedMinutes * 60_000 * o.timeScale;
    const startedAt = Date.now();
    await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.endpoints.stateMachines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId: pack.packId }) }));
    // The outage starts when the first job needs the analyzer, whatever the machine's speed.
    for (let i = 0; i < 7200; i++) {
      const now = await jobsOfPack(pack);
      if (now.some((j) => j.status === 'qa' || j.checkpoints.compositing !== undefined || TERMINAL.has(j.status))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    stack.providers.faults.outage(outage.service, Date.now() + outageMs);
    say(`${o.deferred ? 'deferred' : 'baseline'}: ${o.jobs} jobs, ${outage.service} down for ${Math.round(outageMs / 1000)} s from ${Math.round((Date.now() - startedAt) / 1000)} s`);
    const s = deferredSettings(watchdogSettings({ timeScale: o.timeScale }));
    // The whole deferred schedule, plus the outage, plus the runs: then read it as it stands.
    const deadline = startedAt + outageMs + s.gapsMs.reduce((a, b) => a + b, 0) + o.jobs * 30_000 + 300_000;
    let items: JobRecord[] = [];
    let last = '';
    for (;;) {
      items = await jobsOfPack(pack);
      const line = `${items.filter((j) => j.status === 'complete').length} complete, ${items.filter((j) => j.status === 'failed').length} failed `
        + `(${[...new Set(items.flatMap((j) => (j.status === 'failed' ? [j.error?.name] : [])))].join(', ')}), ${items.reduce((n, j) => n + (j.deferredReruns ?? 0), 0)} re-runs`;
      if (line !== last) say(`${o.deferred ? 'deferred' : 'baseline'}: ${line}`);
      last = line;
      if ((items.length === jobs.length && settled(items, o, s.maxReruns)) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const plannedFatal = jobs.filter((_, i) => i % 24 === CORRUPT_INPUT_JOB).length;
    const complete = items.filter((j) => j.status === 'complete');
    const failed = items.filter((j) => j.status === 'failed');
    const lastDone = complete.reduce((m, j) => Math.max(m, Date.parse(j.updatedAt)), 0);
    const failedBy: Record<string, number> = {};
    for (const j of failed) failedBy[j.error?.name ?? '?'] = (failedBy[j.error?.name ?? '?'] ?? 0) + 1;
    const lasting = (j: JobRecord) => j.recoveries.some((r) => r.outcome === 'failed' && (r.error.startsWith('Fatal.') || r.error === 'Unclassified'));
    return {
      deferred: o.deferred, jobs: o.jobs, plannedFatal, complete: complete.length, failed: failed.length,
      recoveryRate: complete.length / Math.max(1, o.jobs - plannedFatal),
      lastCompleteSeconds: lastDone === 0 ? null : Math.round((lastDone - startedAt) / 100) / 10,
      reruns: items.reduce((n, j) => n + (j.deferredReruns ?? 0), 0),
      fatalRetried: items.filter((j) => (j.deferredReruns ?? 0) > 0 && lasting(j)).length,
      failedBy, outageSeconds: Math.round(outageMs / 100) / 10,
    };
  } finally {
    sfn.destroy();
    await stack.stop();
  }
}

function runChild(o: OutageOptions, timeoutMs: number): Promise<OutageFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--variant', JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      // SIGTERM first: the run exits through its 'exit' listeners, which stop its workers and JVM.
      void stopChild(child, 10_000);
      reject(new Error(`the ${o.deferred ? 'deferred' : 'baseline'} run did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      for (const line of d.toString('utf8').split('\n')) if (line.startsWith('[bench]')) process.stderr.write(`${line}\n`);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the ${o.deferred ? 'deferred' : 'baseline'} run exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as OutageFigures);
      } catch (e) {
        reject(new Error(`no report: ${(e as Error).message}`));
      }
    });
  });
}

const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;

export function formatOutage(baseline: OutageFigures, deferred: OutageFigures): string {
  const rows: [string, string, string][] = [
    ['jobs (planned fatal)', `${baseline.jobs} (${baseline.plannedFatal})`, `${deferred.jobs} (${deferred.plannedFatal})`],
    ['complete / failed', `${baseline.complete} / ${baseline.failed}`, `${deferred.complete} / ${deferred.failed}`],
    ['recovery rate (complete ÷ not planned fatal)', pct(baseline.recoveryRate), pct(deferred.recoveryRate)],
    ['last job complete after', baseline.lastCompleteSeconds === null ? 'n/a' : `${baseline.lastCompleteSeconds} s`, deferred.lastCompleteSeconds === null ? 'n/a' : `${deferred.lastCompleteSeconds} s`],
    ['deferred re-runs spent', String(baseline.reruns), String(deferred.reruns)],
    ['fatal or unclassified re-run', String(baseline.fatalRetried), String(deferred.fatalRetried)],
    ['failed by', JSON.stringify(baseline.failedBy), JSON.stringify(deferred.failedBy)],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max('without (baseline)'.length, ...rows.map((r) => r[1].length));
  const line = (a: string, b: string, c: string) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`;
  return [`analyzer down for ${deferred.outageSeconds} s (30 simulated minutes) from the first job in QA`, line('', 'without (baseline)', 'with deferred recovery'), ...rows.map((r) => line(...r))].join('\n');
}

export async function runOutageBench(o: Omit<OutageOptions, 'deferred'> & { json: boolean }): Promise<void> {
  const timeoutMs = Math.round(600_000 + o.jobs * 60_000 + 65 * 60_000 * o.timeScale * 2);
  const baseline = await runChild({ ...o, deferred: false }, timeoutMs);
  const deferred = await runChild({ ...o, deferred: true }, timeoutMs);
  process.stdout.write(o.json ? `${JSON.stringify({ scenario: 'outage', ...o, baseline, deferred })}\n` : `${formatOutage(baseline, deferred)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--variant') {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(143));
  runOutageVariant(JSON.parse(process.argv[3] ?? '{}') as OutageOptions).then((f) => {
    process.stdout.write(`${JSON.stringify(f)}\n`);
    process.exit(0);
  }, (e: unknown) => {
    process.stderr.write(`[bench] ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}
