#!/usr/bin/env node
/**
 * `npm run bench:recovery -- --profile NAME --jobs N --seed S [--json] [--time-scale F] [--workers N]`
 *
 * Runs the seeded demo workload with the profile's faults twice, each on a fresh offline
 * stack — through our machines and through the blanket-retry baseline — and prints both
 * variants' figures and their ratio (tables, or one JSON document with --json). With
 * `--profile chaos` a chaos driver also kills workers, duplicates deliveries, takes a
 * provider down and pulls the emergency stop, identically in both runs.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { intOption, timeScaleOption } from '../cli/options.ts';
import { stopChild } from '../local/child-processes.ts';
import { getProfile, PROFILE_NAMES } from '../local/faults.ts';
import { LOCAL_MODELS } from '../local/stack.ts';
import { CHAOS_ACTIONS, planChaos, type ChaosAction } from './chaos-plan.ts';
import { injectedByName, planFaults } from './fault-plan.ts';
import { runOutageBench } from './outage.ts';
import { combine, formatReport, type BenchConfig, type RecoveryBenchReport } from './report.ts';
import type { VariantOptions } from './variant.ts';
import type { Variant, VariantReport } from './variant-report.ts';

const RUNNER = fileURLToPath(new URL('./recovery-run.ts', import.meta.url));

export class VariantRunError extends Error {
  override readonly name = 'VariantRunError';
}

/** Runs one variant in a child process and returns its report. */
export function runVariantProcess(options: Omit<VariantOptions, 'log'>, opts: { verbose: boolean; timeoutMs: number }): Promise<VariantReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      // SIGTERM first: the run exits through its 'exit' listeners, which stop its workers and JVM.
      void stopChild(child, 10_000);
      reject(new VariantRunError(`the ${options.variant} run did not finish within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      err = (err + text).slice(-20_000);
      // Progress lines always; the handlers' and emulators' chatter only when asked.
      for (const line of text.split('\n')) if (line !== '' && (opts.verbose || line.startsWith('[bench]'))) process.stderr.write(`${line}\n`);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new VariantRunError(`the ${options.variant} run exited with ${code}:\n${err.split('\n').filter((l) => l.startsWith('[bench]')).join('\n')}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as VariantReport);
      } catch (e) {
        reject(new VariantRunError(`the ${options.variant} run printed no report: ${(e as Error).message}`));
      }
    });
  });
}

const chaosActions = (v: string): ChaosAction[] => {
  const list = v.split(',').map((a) => a.trim()).filter(Boolean);
  const unknown = list.filter((a) => !(CHAOS_ACTIONS as readonly string[]).includes(a));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown chaos actions: ${unknown.join(', ')} (known: ${CHAOS_ACTIONS.join(', ')})`);
  return list as ChaosAction[];
};
const profileName = (v: string) => {
  getProfile(v);
  return v;
};

interface CliOptions {
  profile: string;
  jobs: number;
  seed: number;
  json: boolean;
  timeScale: number;
  workers: number;
  prefetch?: number;
  deadlineSeconds?: number;
  verbose: boolean;
  parallel: boolean;
  chaosActions: ChaosAction[];
  fromJson?: string;
}

async function main(): Promise<void> {
  const program = new Command('npm run bench:recovery --')
    .description('Fault-injection benchmark: our recovery against a blanket-retry baseline, on the same seeded workload and faults')
    .option('--profile <name>', `fault profile (${PROFILE_NAMES.join(', ')}); chaos also kills workers, duplicates deliveries, downs a provider and pulls the emergency stop`, profileName, 'default')
    .option('--jobs <n>', 'jobs in the workload', intOption('--jobs', 1, 500), 24)
    .option('--seed <n>', 'seed of the workload and every fault decision', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--json', 'print one JSON document', false)
    .option('--time-scale <f>', 'real seconds per simulated second (1 = real time)', timeScaleOption, 0.05)
    .option('--workers <n>', 'GPU worker processes', intOption('--workers', 1, 16), 2)
    .option('--prefetch <n>', 'tasks each worker takes beyond the one it runs (VTO_PREFETCH)', intOption('--prefetch', 0, 8))
    .option('--deadline-seconds <n>', 'longest a variant may run before it is read as it stands', intOption('--deadline-seconds', 10, 86_400))
    .option('--verbose', "pass the stack's logs through", false)
    .option('--chaos-actions <list>', `with --profile chaos: which of ${CHAOS_ACTIONS.join(',')} to carry out`, chaosActions, [...CHAOS_ACTIONS])
    .option('--from-json <file>', 'print a report saved with --json as tables (runs nothing)')
    .option('--parallel', 'run both variants at once (quicker; their timings then share the CPUs)', false)
    .showHelpAfterError();
  program.parse();
  const o = program.opts<CliOptions>();
  if (o.fromJson !== undefined) {
    process.stdout.write(`${formatReport(JSON.parse(readFileSync(o.fromJson, 'utf8')) as RecoveryBenchReport)}\n`);
    return;
  }
  // The outage scenario compares deferred recovery on and off (bench/outage.ts), not our machines against the baseline's.
  if (o.profile === 'outage') return runOutageBench({ jobs: o.jobs, seed: o.seed, timeScale: o.timeScale, workers: o.workers, json: o.json });
  const chaos = o.profile === 'chaos';
  // Waits, heartbeats and retry intervals scale with time; the jobs' own work does not.
  const deadlineMs = (o.deadlineSeconds ?? Math.max(300, Math.ceil(o.jobs * 12 * Math.max(1, o.timeScale * 20)))) * 1000;
  const config: BenchConfig = { profile: o.profile, jobs: o.jobs, seed: o.seed, timeScale: o.timeScale, workers: o.workers, chaos, ...(chaos && { chaosActions: o.chaosActions }) };
  const base = {
    profile: o.profile, jobs: o.jobs, seed: o.seed, timeScale: o.timeScale, workers: o.workers, chaos, deadlineMs, chaosActions: o.chaosActions,
    ...(o.prefetch !== undefined && { prefetch: o.prefetch }),
  };
  const run = (variant: Variant) => runVariantProcess({ ...base, variant }, { verbose: o.verbose, timeoutMs: deadlineMs + 180_000 });
  // One after the other unless asked: at once, the variants compete for the same cores.
  const [ours, baseline] = o.parallel
    ? await Promise.all([run('ours'), run('baseline')])
    : [await run('ours'), await run('baseline')];
  const plan = planFaults(getProfile(o.profile), o.seed, o.jobs, LOCAL_MODELS);
  const report = combine(config, injectedByName(plan), chaos ? planChaos(o.seed, o.jobs, o.chaosActions) : null, ours, baseline);
  process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench:recovery: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
