/**
 * What the chaos driver did and how the pipeline answered: per SIGKILLed worker, when each
 * job it held ran again on another GPU (its lease lapsed and another worker took the same
 * attempt) and whether the machine ever saw a task time out;
 * duplicate GPU runs by cause; the provider outage; the circuit breakers' transitions; the
 * emergency stop and resume.
 */
import { workerLeaseSeconds } from '../local/stack.ts';
import type { ChaosLog, KillEvent } from './chaos.ts';
import type { DuplicateRun, GpuFigures, GpuPrompt } from './gpu.ts';
import type { ExecutionFigures } from './history.ts';
import { roundTo, spread, type Spread } from './stats.ts';

export interface ChaosInputs {
  readonly log: ChaosLog;
  readonly prompts: readonly GpuPrompt[];
  readonly figuresByJob: ReadonlyMap<string, readonly ExecutionFigures[]>;
  readonly gpu: GpuFigures;
  readonly endedAt: number;
  readonly timeScale: number;
}

export interface DeadWorkerRecovery {
  readonly worker: string;
  readonly killedAt: string;
  /**
   * Per job attempt the worker held: when the heartbeat timeout told the machine (null when a redelivery
   * kept the task alive), and when it ran again on another GPU — by SQS redelivering the same attempt
   * once its visibility lapsed, or by the machine resuming it as a new attempt.
   */
  readonly jobs: readonly { jobId: string; attempt: number; detectedMs: number | null; runningAgainMs: number | null; via: 'redelivery' | 'resume' | null }[];
}

export interface ChaosReport {
  readonly deadWorkers: readonly DeadWorkerRecovery[];
  /** From the kill to the job running again on another GPU, over every job the killed worker held. */
  readonly timeToRecoverDeadWorkerMs: Spread;
  /** From the kill to a task timeout the machine met, over the jobs where one fired (the lease should make it rare). */
  readonly timeToDetectDeadWorkerMs: Spread;
  /** Issue 13: the worker's lease + 10 s, scaled like the run. */
  readonly deadWorkerGoalMs: number;
  readonly duplicateDeliveriesSent: number;
  readonly duplicateGpuRuns: number;
  /** Of those: a killed worker's ComfyUI finished the prompt nobody watched while the attempt ran again elsewhere. */
  readonly duplicateRunsOrphanedByKill: number;
  /** Of those: two live workers ran the same attempt (a duplicate delivery taken while the first still ran). */
  readonly duplicateRunsByLiveWorkers: number;
  readonly providerDown: { service: string; seconds: number | null; failuresDuring: Record<string, number> } | 'not reached';
  readonly breaker: { transitions: ChaosLog['breakers']; opened: number; closedAgain: number } | { notMeasured: string };
  readonly emergencyStop: ChaosLog['emergencyStop'];
  readonly comfyRestarts: number;
}

/**
 * The job attempts a killed worker held: those running or queued on its GPU (as the driver
 * saw them), and those whose prompt had already finished there but whose GPU task the
 * worker had not answered yet (uploading outputs) — the history answers it after the kill.
 */
function heldAtKill(c: ChaosInputs, k: KillEvent): { jobId: string; attempt: number }[] {
  const held = new Map<string, { jobId: string; attempt: number }>();
  for (const a of [...(k.running ? [k.running] : []), ...k.queued]) held.set(`${a.jobId}#${a.attempt}`, a);
  for (const p of c.prompts) {
    if (p.gpu !== k.gpu || p.queuedAt > k.at || p.jobId === null || p.attempt === null) continue;
    const gpuAttempt = (c.figuresByJob.get(p.jobId) ?? []).flatMap((f) => f.attempts).find((a) => a.fn === 'GPU' && a.attempt === p.attempt);
    if (gpuAttempt !== undefined && (gpuAttempt.endedAt === null || gpuAttempt.endedAt > k.at)) held.set(`${p.jobId}#${p.attempt}`, { jobId: p.jobId, attempt: p.attempt });
  }
  return [...held.values()];
}

/** A dead worker's attempt must run again within its lease (as the offline stack sets it) + 10 s. */
export const deadWorkerGoalMs = (timeScale: number) => Math.round((workerLeaseSeconds(timeScale) + 10 * timeScale) * 1000);

export function chaosReport(c: ChaosInputs): ChaosReport {
  const { log, figuresByJob, gpu } = c;
  const deadWorkers: DeadWorkerRecovery[] = log.kills.map((k) => ({
    worker: k.worker,
    killedAt: new Date(k.at).toISOString(),
    jobs: heldAtKill(c, k).map(({ jobId, attempt }) => {
      // The same attempt again is SQS redelivering the dead worker's message; a later one is the machine's resume.
      const again = c.prompts.filter((p) => p.jobId === jobId && p.gpu !== k.gpu && p.startedAt !== null && p.startedAt > k.at && (p.attempt ?? 0) >= attempt)
        .sort((a, b) => a.startedAt! - b.startedAt!)[0];
      const detected = (figuresByJob.get(jobId) ?? []).flatMap((f) => f.failures)
        .find((f) => f.at > k.at && f.fn === 'GPU' && (f.error === 'States.HeartbeatTimeout' || f.error === 'States.Timeout'));
      return {
        jobId, attempt, detectedMs: detected ? detected.at - k.at : null, runningAgainMs: again ? again.startedAt! - k.at : null,
        via: again === undefined ? null : again.attempt === attempt ? 'redelivery' as const : 'resume' as const,
      };
    }),
  }));
  const ttr = deadWorkers.flatMap((d) => d.jobs.flatMap((j) => (j.runningAgainMs === null ? [] : [j.runningAgainMs])));
  const down = log.providerDown;
  const failuresDuring: Record<string, number> = {};
  if (down !== null) {
    // Failures met while the provider was down, or soon after (a retry already waiting meets it late).
    const until = (down.to ?? c.endedAt) + 30_000 * c.timeScale;
    for (const fs of figuresByJob.values()) {
      for (const f of fs.flatMap((x) => x.failures)) if (f.at >= down.from && f.at <= until) failuresDuring[f.error] = (failuresDuring[f.error] ?? 0) + 1;
    }
  }
  const opened = log.breakers.filter((b) => b.to === 'open').length;
  const orphanRun = (r: DuplicateRun['runs'][number]) => log.kills.some((k) => k.gpu === r.gpu && r.startedAt <= k.at);
  const orphaned = gpu.duplicates.reduce((n, d) => n + Math.min(d.runs.length - 1, d.runs.filter(orphanRun).length), 0);
  return {
    deadWorkers,
    timeToRecoverDeadWorkerMs: spread(ttr),
    timeToDetectDeadWorkerMs: spread(deadWorkers.flatMap((d) => d.jobs.flatMap((j) => (j.detectedMs === null ? [] : [j.detectedMs])))),
    deadWorkerGoalMs: deadWorkerGoalMs(c.timeScale),
    duplicateDeliveriesSent: log.duplicates.length,
    duplicateGpuRuns: gpu.duplicateRuns,
    duplicateRunsOrphanedByKill: orphaned,
    duplicateRunsByLiveWorkers: gpu.duplicateRuns - orphaned,
    providerDown: down === null ? 'not reached' : { service: down.service, seconds: down.to === null ? null : roundTo((down.to - down.from) / 1000, 2), failuresDuring },
    breaker: log.breakerItemsSeen
      ? { transitions: log.breakers, opened, closedAgain: log.breakers.filter((b, i) => b.to === 'closed' && log.breakers.slice(0, i).some((x) => x.provider === b.provider && x.to === 'open')).length }
      : { notMeasured: 'no circuit-breaker item (breaker#<provider>) appeared in the control table during the run' },
    emergencyStop: log.emergencyStop,
    comfyRestarts: log.comfyRestarts.length,
  };
}
