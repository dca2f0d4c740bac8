/**
 * The recovery benchmark's report: our figures beside the baseline's and their ratio, per
 * error name and per job, as one JSON document or as tables for a terminal.
 */
import { availableParallelism, totalmem } from 'node:os';
import type { ChaosPlan } from './chaos-plan.ts';
import { PRICES } from './cost.ts';
import type { GpuFigures } from './gpu.ts';
import { ratio } from './stats.ts';
import type { ChaosReport } from './chaos-report.ts';
import type { ErrorRow, VariantReport, VariantSummary } from './variant-report.ts';

export interface BenchConfig {
  readonly profile: string;
  readonly jobs: number;
  readonly seed: number;
  readonly timeScale: number;
  readonly workers: number;
  readonly chaos: boolean;
  /** With chaos: the actions carried out. */
  readonly chaosActions?: readonly string[];
}

export interface Machine {
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly date: string;
}

export const thisMachine = (): Machine => ({
  cpus: availableParallelism(),
  memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  date: new Date().toISOString(),
});

/** The figures compared in `ratio` (ours ÷ baseline). */
export const COMPARED = [
  'recoveryRate', 'falseRecoveries', 'lost', 'disagreements', 'transitionsPerJob', 'costPer1000Jobs', 'costPer1000CompleteJobs',
  'lambdaInvocationsPerJob', 'dynamoWritesPerJob', 'sqsSentPerJob', 'gpuSecondsWasted', 'complete', 'failed', 'wallSeconds',
] as const satisfies readonly (keyof VariantSummary)[];

export type Compared = (typeof COMPARED)[number];

export interface ErrorComparison {
  readonly name: string;
  readonly recoverable: boolean;
  readonly injected: number;
  readonly ours: Omit<ErrorRow, 'recoverable' | 'injected'>;
  readonly baseline: Omit<ErrorRow, 'recoverable' | 'injected'>;
}

export interface RecoveryBenchReport {
  readonly benchmark: 'recovery';
  readonly config: BenchConfig;
  readonly machine: Machine;
  readonly plan: { readonly injected: Record<string, number>; readonly chaos: ChaosPlan | null };
  readonly ours: VariantSummary;
  readonly baseline: VariantSummary;
  readonly ratio: Record<Compared, number | null>;
  readonly byError: readonly ErrorComparison[];
  readonly gpu: { readonly ours: GpuFigures; readonly baseline: GpuFigures };
  readonly chaos: { readonly ours: ChaosReport; readonly baseline: ChaosReport } | null;
  readonly assumptions: readonly string[];
  readonly details: { readonly ours: Omit<VariantReport, 'summary' | 'gpu' | 'chaos' | 'byError'>; readonly baseline: Omit<VariantReport, 'summary' | 'gpu' | 'chaos' | 'byError'> };
}

export const ASSUMPTIONS: readonly string[] = [
  'Prices: us-east-1, free tiers ignored; sources and dates in bench/cost.ts (shared/reference/aws.md §7). GPU hosts are not priced; GPU seconds are reported instead.',
  'Lambda: arm64, memory per function from lambdas/catalog.ts (512 MiB, 1769 MiB for image work); billed duration = each function\'s mean handler time measured offline (history: scheduled → outcome), rounded up to 1 ms; no cold starts.',
  'State transitions: states entered plus retries (a retry is a billed transition), each job\'s executions plus an equal share of its pack\'s executions.',
  'DynamoDB: items and the capacity DynamoDB Local reported (ReturnConsumedCapacity TOTAL, indexes included) for the pipeline\'s writes and reads during the run; a refused conditional write is charged 1 WRU.',
  'SQS: sends = the machines\' GPU tasks (histories); receives = the most deliveries fauxqs showed per message; deletes = one per message; visibility extensions and empty long polls are not counted.',
  'S3: in-process requests counted; worker requests estimated (3 input GETs per GPU task, one PUT per output).',
  `Step Functions ${PRICES.transition.usd} USD per ${PRICES.transition.per} transitions; Lambda ${PRICES.lambdaRequest.usd} USD per million requests and ${PRICES.lambdaArmGbSecond.usd} USD per GB-s (arm64).`,
];

const strip = ({ recoverable: _r, injected: _i, ...rest }: ErrorRow) => rest;

export function combine(config: BenchConfig, injected: Record<string, number>, chaosPlan: ChaosPlan | null, ours: VariantReport, baseline: VariantReport, machine: Machine = thisMachine()): RecoveryBenchReport {
  const names = [...new Set([...Object.keys(ours.byError), ...Object.keys(baseline.byError)])].sort();
  /** A name only one variant met: the other met it 0 times. */
  const empty = (other: ErrorRow | undefined): ErrorRow => ({
    recoverable: other?.recoverable ?? false, injected: other?.injected ?? 0, met: 0, recovered: 0, failed: 0, falseRecoveries: 0, gpuSecondsWasted: 0,
    timeToRecoverMs: { n: 0, p50: null, p95: null, max: null },
  });
  const byError = names.map((name) => {
    const o = ours.byError[name] ?? empty(baseline.byError[name]);
    const b = baseline.byError[name] ?? empty(ours.byError[name]);
    return { name, recoverable: o.recoverable, injected: Math.max(o.injected, b.injected), ours: strip(o), baseline: strip(b) };
  });
  const detail = ({ summary: _s, gpu: _g, chaos: _c, byError: _b, ...rest }: VariantReport) => rest;
  return {
    benchmark: 'recovery',
    config,
    machine,
    plan: { injected, chaos: chaosPlan },
    ours: ours.summary,
    baseline: baseline.summary,
    ratio: Object.fromEntries(COMPARED.map((k) => [k, ratio(ours.summary[k], baseline.summary[k])])) as Record<Compared, number | null>,
    byError,
    gpu: { ours: ours.gpu, baseline: baseline.gpu },
    chaos: ours.chaos !== null && baseline.chaos !== null ? { ours: ours.chaos, baseline: baseline.chaos } : null,
    assumptions: ASSUMPTIONS,
    details: { ours: detail(ours), baseline: detail(baseline) },
  };
}

const fmt = (v: number | null | undefined, unit = ''): string => (v === null || v === undefined ? 'n/a' : `${Number.isInteger(v) ? v : v.toFixed(Math.abs(v) < 1 ? 3 : 2)}${unit}`);
const ms = (v: number | null) => (v === null ? 'n/a' : v >= 1000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`);

/** The report as tables. */
export function formatReport(r: RecoveryBenchReport): string {
  const c = r.config;
  const lines: string[] = [];
  lines.push(`Recovery benchmark — profile ${c.profile}${c.chaos ? ` (chaos driver: ${(c.chaosActions ?? []).join(', ')})` : ''}, ${c.jobs} jobs, seed ${c.seed}, time scale ${c.timeScale}, ${c.workers} GPU workers`);
  lines.push(`machine: ${r.machine.cpus} CPUs, ${r.machine.memoryGiB} GiB, node ${r.machine.node}, ${r.machine.date}`);
  lines.push('');
  const head = (a: string, b: string, d: string, e: string) => `${a.padEnd(38)} ${b.padStart(12)} ${d.padStart(12)} ${e.padStart(8)}`;
  lines.push(head('', 'ours', 'baseline', 'ratio'));
  const rowOf = (label: string, k: Compared, unit = '') => lines.push(head(label, fmt(r.ours[k], unit), fmt(r.baseline[k], unit), fmt(r.ratio[k])));
  rowOf('recovery rate (recoverable faults)', 'recoveryRate', ' %');
  rowOf('false recoveries', 'falseRecoveries');
  rowOf('jobs lost or left non-terminal', 'lost');
  rowOf('DynamoDB vs execution disagreements', 'disagreements');
  rowOf('jobs complete', 'complete');
  rowOf('jobs failed', 'failed');
  rowOf('state transitions per job', 'transitionsPerJob');
  rowOf('Lambda invocations per job', 'lambdaInvocationsPerJob');
  rowOf('DynamoDB items written per job', 'dynamoWritesPerJob');
  rowOf('SQS messages sent per job', 'sqsSentPerJob');
  rowOf('GPU seconds wasted', 'gpuSecondsWasted');
  rowOf('cost per 1,000 jobs (USD)', 'costPer1000Jobs');
  rowOf('  … per 1,000 complete jobs (USD)', 'costPer1000CompleteJobs');
  rowOf('wall time (s)', 'wallSeconds');
  lines.push(head('happy-path transitions per job', fmt(r.ours.happyPathTransitionsPerJob), fmt(r.baseline.happyPathTransitionsPerJob), ''));
  lines.push(head('time to recover p50 / p95', `${ms(r.ours.timeToRecoverMs.p50)}/${ms(r.ours.timeToRecoverMs.p95)}`, `${ms(r.baseline.timeToRecoverMs.p50)}/${ms(r.baseline.timeToRecoverMs.p95)}`, ''));
  lines.push(head('GPU busy while work waited', fmt(r.gpu.ours.utilisation, ' %'), fmt(r.gpu.baseline.utilisation, ' %'), ''));
  lines.push(head('  … counting tasks held by workers', fmt(r.gpu.ours.utilisationWithHeld, ' %'), fmt(r.gpu.baseline.utilisationWithHeld, ' %'), ''));
  const gap = (s: GpuFigures['idleGapMs']) => `${ms(s.p50)}/${ms(s.p95)}`;
  lines.push(head('GPU idle gap p50 / p95', gap(r.gpu.ours.idleGapMs), gap(r.gpu.baseline.idleGapMs), ''));
  lines.push(head('  … next prompt already queued there', gap(r.gpu.ours.idleGapQueuedMs), gap(r.gpu.baseline.idleGapQueuedMs), ''));
  lines.push(head('  … worker had to feed it', gap(r.gpu.ours.idleGapFedMs), gap(r.gpu.baseline.idleGapFedMs), ''));
  lines.push(head('duplicate GPU runs', fmt(r.gpu.ours.duplicateRuns), fmt(r.gpu.baseline.duplicateRuns), ''));
  lines.push('');
  lines.push('Per error name: injected | met / recovered / failed / false recoveries / GPU s wasted / time to recover p50–p95 (ours ‖ baseline)');
  for (const e of r.byError) {
    const side = (x: ErrorComparison['ours']) => `${x.met}/${x.recovered}/${x.failed}/${x.falseRecoveries}/${x.gpuSecondsWasted.toFixed(1)}/${ms(x.timeToRecoverMs.p50)}–${ms(x.timeToRecoverMs.p95)}`;
    lines.push(`  ${e.name.padEnd(30)} ${String(e.injected).padStart(3)} | ${side(e.ours).padEnd(34)} ‖ ${side(e.baseline)}`);
  }
  if (r.chaos) {
    lines.push('');
    for (const [label, x] of [['ours', r.chaos.ours], ['baseline', r.chaos.baseline]] as const) {
      const breaker = 'notMeasured' in x.breaker ? `not measured (${x.breaker.notMeasured})` : `opened ${x.breaker.opened}, closed again ${x.breaker.closedAgain}`;
      const down = x.providerDown === 'not reached' ? 'not reached' : `${x.providerDown.service} ${fmt(x.providerDown.seconds)} s`;
      const stop = x.emergencyStop === null ? 'not run' : 'skipped' in x.emergencyStop ? `skipped (${x.emergencyStop.skipped})` : `stopped, resumed after ${((x.emergencyStop.resumedAt ?? x.emergencyStop.stoppedAt) - x.emergencyStop.stoppedAt) / 1000} s`;
      lines.push(`chaos (${label}): workers killed ${x.deadWorkers.length} (task timeouts after a kill: ${x.timeToDetectDeadWorkerMs.n}), dead worker ` +
        `→ job running again p50 ${ms(x.timeToRecoverDeadWorkerMs.p50)} max ${ms(x.timeToRecoverDeadWorkerMs.max)} (goal ≤ ${ms(x.deadWorkerGoalMs)}); ` +
        `duplicate deliveries ${x.duplicateDeliveriesSent}; duplicate GPU runs ${x.duplicateGpuRuns} (${x.duplicateRunsByLiveWorkers} by two live workers, ${x.duplicateRunsOrphanedByKill} finished by a killed worker's ComfyUI); provider down: ${down}; breaker: ${breaker}; emergency stop: ${stop}; ComfyUI restarts ${x.comfyRestarts}`);
    }
  }
  return lines.join('\n');
}
