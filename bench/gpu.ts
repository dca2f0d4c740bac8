/**
 * GPU figures from the simulators' prompt logs and the queue samples: utilisation while
 * work waited, idle gaps between prompts, GPU time that produced no kept output, and
 * duplicate runs of one job attempt.
 */
import type { PromptRecord } from '../local/comfyui/server.ts';
import type { QueueSample } from './sampler.ts';
import { percent, roundTo, spread, type Spread } from './stats.ts';

export interface GpuPrompt extends PromptRecord {
  /** Which simulator ran it. */
  readonly gpu: string;
}

/** A job attempt that ran on a GPU more than once (runs lost with a crashed ComfyUI excluded). */
export interface DuplicateRun {
  readonly jobId: string;
  readonly attempt: number;
  readonly runs: readonly { gpu: string; startedAt: number; endedAt: number | null; outcome: string | null }[];
}

export interface GpuFigures {
  /**
   * Percent of the GPU capacity the waiting work could use that was busy: over the samples
   * where work waited (SQS messages not yet received, plus prompts queued or running in a
   * ComfyUI), Σ GPUs running ÷ Σ min(GPUs, work).
   */
  readonly utilisation: number | null;
  /** The same, counting every message a worker holds as work (it includes tasks whose prompt is done and whose outputs are being uploaded). */
  readonly utilisationWithHeld: number | null;
  readonly samples: number;
  readonly busySeconds: number;
  /** GPU time of prompts whose output no complete job kept. */
  readonly wastedSeconds: number;
  readonly promptsRun: number;
  /** Runs of a (jobId, attempt) beyond its first. */
  readonly duplicateRuns: number;
  readonly duplicates: readonly DuplicateRun[];
  /** Gap from one prompt's end to the next prompt's start on the same GPU, ms. */
  readonly idleGapMs: Spread;
  /** Gaps where the next prompt was already queued in that ComfyUI (its own hand-off). */
  readonly idleGapQueuedMs: Spread;
  /** Gaps where it was not: the time the worker took to feed the GPU. */
  readonly idleGapFedMs: Spread;
}

export function gpuUtilisation(samples: readonly QueueSample[], withHeld: boolean): number | null {
  let busy = 0;
  let capacity = 0;
  for (const s of samples) {
    const inGpu = s.simQueued + s.running;
    const work = s.waiting + (withHeld ? Math.max(s.held, inGpu) : inGpu);
    if (work === 0 || s.gpus === 0) continue;
    const usable = Math.min(s.gpus, work);
    capacity += usable;
    busy += Math.min(usable, s.running);
  }
  return percent(busy, capacity);
}

const ran = (p: GpuPrompt) => p.startedAt !== null;

export function gpuFigures(prompts: readonly GpuPrompt[], samples: readonly QueueSample[], keptPromptIds: ReadonlySet<string>, endAt: number): GpuFigures {
  const duration = (p: GpuPrompt) => ((p.endedAt ?? endAt) - p.startedAt!) / 1000;
  const run = prompts.filter(ran);
  const busy = run.reduce((n, p) => n + duration(p), 0);
  const wasted = run.filter((p) => !keptPromptIds.has(p.promptId)).reduce((n, p) => n + duration(p), 0);

  const byAttempt = new Map<string, { jobId: string; attempt: number; runs: DuplicateRun['runs'][number][] }>();
  // A prompt lost with a crashed ComfyUI did not run to the end; the worker's next try is not a duplicate.
  for (const p of run.filter((x) => x.outcome !== 'lost')) {
    if (p.jobId === null || p.attempt === null) continue;
    const key = `${p.jobId}#${p.attempt}`;
    const e = byAttempt.get(key) ?? { jobId: p.jobId, attempt: p.attempt, runs: [] };
    e.runs.push({ gpu: p.gpu, startedAt: p.startedAt!, endedAt: p.endedAt, outcome: p.outcome });
    byAttempt.set(key, e);
  }
  const duplicates = [...byAttempt.values()].filter((e) => e.runs.length > 1);

  const gaps: number[] = [];
  const queuedGaps: number[] = [];
  const fedGaps: number[] = [];
  const byGpu = new Map<string, GpuPrompt[]>();
  for (const p of run) byGpu.set(p.gpu, [...(byGpu.get(p.gpu) ?? []), p]);
  for (const list of byGpu.values()) {
    list.sort((a, b) => a.startedAt! - b.startedAt!);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      const next = list[i]!;
      if (prev.endedAt === null) continue;
      const gap = Math.max(0, next.startedAt! - prev.endedAt);
      gaps.push(gap);
      (next.queuedAt <= prev.endedAt ? queuedGaps : fedGaps).push(gap);
    }
  }
  return {
    utilisation: gpuUtilisation(samples, false),
    utilisationWithHeld: gpuUtilisation(samples, true),
    samples: samples.length,
    busySeconds: roundTo(busy, 3),
    wastedSeconds: roundTo(wasted, 3),
    promptsRun: run.length,
    duplicateRuns: duplicates.reduce((n, d) => n + d.runs.length - 1, 0),
    duplicates,
    idleGapMs: spread(gaps),
    idleGapQueuedMs: spread(queuedGaps),
    idleGapFedMs: spread(fedGaps),
  };
}
