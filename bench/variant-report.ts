/**
 * One variant's figures (our machine, or the blanket-retry baseline) from what the run left
 * behind: the DynamoDB job items, every execution's history, the simulators' prompt logs,
 * the queue samples and the client counters. Pure: bench/variant.ts collects, this counts.
 */
import type { JobRecord } from '../core/job.ts';
import { entryFor } from '../core/taxonomy.ts';
import { STATE_FUNCTION_DEFS } from '../lambdas/catalog.ts';
import type { StateFunctionId } from '../statemachines/tasks.ts';
import type { ChaosLog } from './chaos.ts';
import { chaosReport, type ChaosReport } from './chaos-report.ts';
import { costPer1000Jobs, gbSeconds, zeroUsage, type Cost, type Usage } from './cost.ts';
import type { DynamoCounts, S3Counts } from './counters.ts';
import { ABSORBED, injectedByName, type JobPlan } from './fault-plan.ts';
import { gpuFigures, type GpuFigures, type GpuPrompt } from './gpu.ts';
import { episodes, finalPromptId, lambdaUse, readExecution, type ExecutionFigures, type HistEvent } from './history.ts';
import type { QueueSample, SeenMessage } from './sampler.ts';
import { mean, percent, roundTo, spread, type Spread } from './stats.ts';

export type Variant = 'ours' | 'baseline';

export interface CollectedExecution {
  readonly name: string;
  readonly status: string;
  /** Epoch ms. */
  readonly startDate: number;
  readonly events: readonly HistEvent[];
}

export interface Collected {
  readonly variant: Variant;
  readonly plan: readonly JobPlan[];
  readonly jobs: readonly JobRecord[];
  /** Job executions by jobId, oldest first. */
  readonly jobExecutions: ReadonlyMap<string, readonly CollectedExecution[]>;
  readonly packExecutions: readonly CollectedExecution[];
  /** DescribeExecution of each job's recorded executionArn. */
  readonly described: ReadonlyMap<string, string>;
  /** Executions of either machine still RUNNING when the run was read. */
  readonly runningExecutions: number;
  readonly prompts: readonly GpuPrompt[];
  readonly samples: readonly QueueSample[];
  readonly messages: readonly SeenMessage[];
  /** GPU messages left in the queue (not received) when the run was read. */
  readonly messagesLeft: number;
  readonly dynamo: DynamoCounts;
  readonly s3: S3Counts;
  readonly chaos: ChaosLog | null;
  readonly wallSeconds: number;
  readonly endedAt: number;
  readonly timeScale: number;
  readonly recoveryStates: readonly string[];
}

export interface ErrorRow {
  readonly recoverable: boolean;
  /** Planned before the run (profile draws, physics, chaos events attributed to the name). */
  injected: number;
  /** Faults met: recoverable names as episodes (first failure until cured), others as one per (job, function). */
  met: number;
  recovered: number;
  failed: number;
  falseRecoveries: number;
  gpuSecondsWasted: number;
  timeToRecoverMs: Spread;
}

export interface JobRow {
  readonly index: number;
  readonly jobId: string;
  readonly status: string | null;
  readonly error: string | null;
  readonly executions: number;
  readonly transitions: number;
  readonly lambdaInvocations: number;
  readonly gpuAttempts: number;
  readonly failures: number;
  readonly falseRecoveries: number;
  readonly executionStatus: string | null;
  readonly agrees: boolean;
}

export interface VariantSummary {
  readonly jobs: number;
  readonly complete: number;
  readonly failed: number;
  readonly lost: number;
  readonly disagreements: number;
  readonly runningExecutionsLeft: number;
  /** Percent of recoverable faults met that were recovered. */
  readonly recoveryRate: number | null;
  readonly recoverableMet: number;
  readonly recovered: number;
  readonly notRecovered: number;
  /** Blind retries of non-recoverable failures (each retry counts). */
  readonly falseRecoveries: number;
  readonly nonRecoverableMet: number;
  /** Percent of non-recoverable faults met that were retried at all (should be 0: an unrecoverable name goes to JobFail at once). */
  readonly falseRecoveryRate: number | null;
  readonly timeToRecoverMs: Spread;
  readonly transitionsPerJob: number;
  readonly happyPathTransitionsPerJob: number | null;
  readonly lambdaInvocationsPerJob: number;
  readonly dynamoWritesPerJob: number;
  readonly dynamoWruPerJob: number;
  readonly sqsSentPerJob: number;
  readonly sqsReceivedPerJob: number;
  readonly costPer1000Jobs: number;
  /** What 1,000 jobs that end complete cost: the run's cost spread over its complete jobs only. */
  readonly costPer1000CompleteJobs: number | null;
  readonly gpuSecondsBusy: number;
  readonly gpuSecondsWasted: number;
  readonly gpuUtilisation: number | null;
  readonly duplicateGpuRuns: number;
  readonly wallSeconds: number;
}

export interface VariantReport {
  readonly variant: Variant;
  readonly summary: VariantSummary;
  readonly byError: Record<string, ErrorRow>;
  readonly jobs: readonly JobRow[];
  readonly gpu: GpuFigures;
  readonly usagePerJob: Usage;
  readonly cost: Cost;
  readonly counts: {
    dynamo: DynamoCounts;
    s3InProcess: S3Counts;
    s3WorkersEstimated: { gets: number; puts: number };
    sqs: { sent: number; duplicatesInjected: number; received: number; deleted: number; left: number };
    lambda: Record<string, { invocations: number; ms: number; memoryMiB: number }>;
  };
  readonly chaos: ChaosReport | null;
}

const TERMINAL_EXECUTION: Record<string, string> = { complete: 'SUCCEEDED', failed: 'FAILED' };

const memoryOf = (fn: string): number => STATE_FUNCTION_DEFS[fn as StateFunctionId]?.memoryMiB ?? 512;

function row(rows: Record<string, ErrorRow>, name: string): ErrorRow {
  return (rows[name] ??= {
    recoverable: name === ABSORBED ? true : entryFor(name).recoverable,
    injected: 0, met: 0, recovered: 0, failed: 0, falseRecoveries: 0, gpuSecondsWasted: 0, timeToRecoverMs: spread([]),
  });
}

/** Why a GPU prompt's time was not kept: its attempt's error, or the failure that came after it. */
function wasteReason(p: GpuPrompt, executions: readonly ExecutionFigures[], jobError: string | null): string {
  const attempts = executions.flatMap((x) => x.attempts).filter((a) => a.fn === 'GPU');
  const mine = attempts.find((a) => a.attempt === p.attempt);
  if (mine === undefined) return '(unattributed)';
  if (mine.outcome === 'failed' || mine.outcome === 'timedOut') return mine.error ?? 'Unclassified';
  const after = executions.flatMap((x) => x.failures).find((f) => mine.endedAt !== null && f.at >= mine.endedAt && f.error !== 'Control.Stopped');
  return after?.error ?? jobError ?? '(superseded)';
}

export function buildVariantReport(c: Collected): VariantReport {
  const jobs = c.plan.length;
  const byId = new Map(c.jobs.map((j) => [j.jobId, j]));
  const byError: Record<string, ErrorRow> = {};
  for (const [name, n] of Object.entries(injectedByName(c.plan))) row(byError, name).injected += n;

  const packFigures = c.packExecutions.map((x) => readExecution(x.events, []));
  const packTransitions = packFigures.reduce((n, f) => n + f.transitions, 0);
  const packLambda = lambdaUse(packFigures);
  const packShare = jobs === 0 ? 0 : packTransitions / jobs;

  const ttrAll: number[] = [];
  const ttrByName = new Map<string, number[]>();
  const kept = new Set<string>();
  const rows: JobRow[] = [];
  const figuresByJob = new Map<string, ExecutionFigures[]>();
  let gbs = 0;
  const lambdaByFn: Record<string, { invocations: number; ms: number; memoryMiB: number }> = {};
  const addLambda = (use: ReturnType<typeof lambdaUse>) => {
    for (const [fn, u] of Object.entries(use.byFunction)) {
      const l = (lambdaByFn[fn] ??= { invocations: 0, ms: 0, memoryMiB: memoryOf(fn) });
      l.invocations += u.invocations;
      l.ms += u.ms;
      // Billed per invocation; the mean duration stands for each.
      gbs += u.invocations * gbSeconds(memoryOf(fn), u.ms / Math.max(1, u.invocations));
    }
  };
  addLambda(packLambda);
  const happy: number[] = [];
  let gpuSends = 0;
  let gpuOutputs = 0;
  let retriedFaults = 0;

  for (const p of c.plan) {
    const job = byId.get(p.jobId);
    const execs = c.jobExecutions.get(p.jobId) ?? [];
    const figures = execs.map((x) => readExecution(x.events, c.recoveryStates));
    figuresByJob.set(p.jobId, figures);
    const complete = job?.status === 'complete';
    const planned = new Set(p.faults.flatMap((f) => (f.expected === null ? [] : [f.expected])));
    for (const e of episodes(figures, { complete, error: job?.error?.name ?? null }, planned)) {
      const r = row(byError, e.error);
      r.met++;
      if (e.outcome === 'recovered') r.recovered++;
      else r.failed++;
      if (e.timeToRecoverMs !== null) {
        ttrAll.push(e.timeToRecoverMs);
        ttrByName.set(e.error, [...(ttrByName.get(e.error) ?? []), e.timeToRecoverMs]);
      }
    }
    const failures = figures.flatMap((f) => f.failures);
    // A non-recoverable fault is one (function, error) of the job; each blind retry of it is a false recovery.
    const faults = new Map<string, boolean>();
    for (const f of failures.filter((x) => !x.recoverable)) {
      const r = row(byError, f.error);
      const key = `${f.fn}\u0000${f.error}`;
      if (!faults.has(key)) r.met++;
      faults.set(key, (faults.get(key) ?? false) || f.falseRecovery);
      if (f.falseRecovery) r.falseRecoveries++;
    }
    for (const [key, retried] of faults) if (retried && !key.endsWith('\u0000Control.Stopped')) retriedFaults++;
    if (complete) {
      const id = finalPromptId(figures);
      if (id !== null) kept.add(id);
    }
    const use = lambdaUse(figures);
    addLambda(use);
    const gpuAttempts = figures.flatMap((f) => f.attempts).filter((a) => a.fn === 'GPU');
    gpuSends += gpuAttempts.length;
    for (const a of gpuAttempts.filter((x) => x.outcome === 'succeeded' && x.output !== null)) {
      try {
        gpuOutputs += ((JSON.parse(a.output!) as { outputs?: unknown[] }).outputs ?? []).length;
      } catch {
        // an unreadable output counts no upload
      }
    }
    const transitions = figures.reduce((n, f) => n + f.transitions, 0) + packShare;
    if (complete && failures.length === 0) happy.push(transitions);
    const described = job?.executionArn === undefined ? null : c.described.get(p.jobId) ?? null;
    const expected = job === undefined ? undefined : TERMINAL_EXECUTION[job.status];
    rows.push({
      index: p.index, jobId: p.jobId, status: job?.status ?? null, error: job?.error?.name ?? null,
      executions: execs.length, transitions: roundTo(transitions, 2),
      lambdaInvocations: roundTo(use.invocations + packLambda.invocations / Math.max(1, jobs), 2),
      gpuAttempts: gpuAttempts.length, failures: failures.length, falseRecoveries: failures.filter((f) => f.falseRecovery).length,
      executionStatus: described,
      agrees: expected !== undefined && described === expected,
    });
  }
  for (const [name, values] of ttrByName) row(byError, name).timeToRecoverMs = spread(values);

  // A killed worker's attempts are no injected error: its lease lapses and another worker
  // runs them (the chaos section reports how fast).

  const gpu = gpuFigures(c.prompts, c.samples, kept, c.endedAt);
  for (const p of c.prompts.filter((x) => x.startedAt !== null && !kept.has(x.promptId))) {
    const job = p.jobId === null ? undefined : byId.get(p.jobId);
    const reason = wasteReason(p, figuresByJob.get(p.jobId ?? '') ?? [], job?.error?.name ?? null);
    row(byError, reason).gpuSecondsWasted += ((p.endedAt ?? c.endedAt) - p.startedAt!) / 1000;
  }
  for (const r of Object.values(byError)) r.gpuSecondsWasted = roundTo(r.gpuSecondsWasted, 3);

  // SQS: sends are the machines' GPU tasks; receives the most deliveries fauxqs showed per message (1 when a message lived between samples).
  const duplicatesInjected = c.chaos?.duplicates.length ?? 0;
  const seen = c.messages.length;
  const received = c.messages.reduce((n, m) => n + Math.max(1, m.maxReceiveCount), 0) + Math.max(0, gpuSends + duplicatesInjected - seen) - c.messagesLeft;
  const deleted = Math.max(0, gpuSends + duplicatesInjected - c.messagesLeft);
  const workerS3 = { gets: 3 * gpuSends, puts: gpuOutputs };

  const allRecoverable = Object.entries(byError).filter(([n, r]) => n !== ABSORBED && r.recoverable);
  const recovered = allRecoverable.reduce((n, [, r]) => n + r.recovered, 0);
  const notRecovered = allRecoverable.reduce((n, [, r]) => n + r.failed, 0);
  const nonRecoverable = Object.entries(byError).filter(([n, r]) => n !== ABSORBED && !r.recoverable && n !== 'Control.Stopped');
  const nonRecoverableMet = nonRecoverable.reduce((n, [, r]) => n + r.met, 0);
  const falseRecoveries = Object.values(byError).reduce((n, r) => n + r.falseRecoveries, 0);
  const totalTransitions = rows.reduce((n, r) => n + r.transitions, 0);
  const perJob = (x: number) => (jobs === 0 ? 0 : x / jobs);

  const usage: Usage = {
    ...zeroUsage(),
    transition: perJob(totalTransitions),
    lambdaRequest: perJob(Object.values(lambdaByFn).reduce((n, l) => n + l.invocations, 0)),
    lambdaArmGbSecond: perJob(gbs),
    dynamoWru: perJob(c.dynamo.wru),
    dynamoRru: perJob(c.dynamo.rru),
    sqsRequest: perJob(gpuSends + received + deleted),
    s3Put: perJob(c.s3.puts + workerS3.puts),
    s3Get: perJob(c.s3.gets + workerS3.gets),
  };
  const cost = costPer1000Jobs(usage);
  const completeJobs = rows.filter((r) => r.status === 'complete').length;
  const lost = c.plan.filter((p) => {
    const j = byId.get(p.jobId);
    return j === undefined || (j.status !== 'complete' && j.status !== 'failed');
  }).length;

  return {
    variant: c.variant,
    summary: {
      jobs,
      complete: completeJobs,
      failed: rows.filter((r) => r.status === 'failed').length,
      lost,
      disagreements: rows.filter((r) => r.status !== null && !r.agrees).length,
      runningExecutionsLeft: c.runningExecutions,
      recoveryRate: percent(recovered, recovered + notRecovered),
      recoverableMet: recovered + notRecovered,
      recovered,
      notRecovered,
      falseRecoveries,
      nonRecoverableMet,
      falseRecoveryRate: percent(retriedFaults, nonRecoverableMet),
      timeToRecoverMs: spread(ttrAll),
      transitionsPerJob: roundTo(perJob(totalTransitions), 2),
      happyPathTransitionsPerJob: happy.length === 0 ? null : roundTo(mean(happy), 2),
      lambdaInvocationsPerJob: roundTo(usage.lambdaRequest, 2),
      dynamoWritesPerJob: roundTo(perJob(c.dynamo.writes), 2),
      dynamoWruPerJob: roundTo(usage.dynamoWru, 2),
      sqsSentPerJob: roundTo(perJob(gpuSends), 2),
      sqsReceivedPerJob: roundTo(perJob(received), 2),
      costPer1000Jobs: cost.total,
      costPer1000CompleteJobs: completeJobs === 0 ? null : roundTo((cost.total * jobs) / completeJobs, 6),
      gpuSecondsBusy: gpu.busySeconds,
      gpuSecondsWasted: gpu.wastedSeconds,
      gpuUtilisation: gpu.utilisation,
      duplicateGpuRuns: gpu.duplicateRuns,
      wallSeconds: roundTo(c.wallSeconds, 1),
    },
    byError,
    jobs: rows,
    gpu,
    usagePerJob: Object.fromEntries(Object.entries(usage).map(([k, v]) => [k, roundTo(v, 6)])) as Usage,
    cost,
    counts: {
      dynamo: c.dynamo,
      s3InProcess: c.s3,
      s3WorkersEstimated: workerS3,
      sqs: { sent: gpuSends, duplicatesInjected, received, deleted, left: c.messagesLeft },
      lambda: lambdaByFn,
    },
    chaos: c.chaos === null ? null : chaosReport({ log: c.chaos, prompts: c.prompts, figuresByJob, gpu, endedAt: c.endedAt, timeScale: c.timeScale }),
  };
}
