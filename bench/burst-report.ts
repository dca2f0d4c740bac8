/**
 * Figures of the burst scenario (bench/burst.ts) from what one run observed: every job's
 * acceptance, first GPU start and end, the simulators' prompt logs and the queue samples.
 * Pure, so the fairness and order figures are tested on made-up runs.
 */
import type { GpuPrompt } from './gpu.ts';
import { gpuFigures } from './gpu.ts';
import type { QueueSample } from './sampler.ts';
import { roundTo, spread, type Spread } from './stats.ts';

export interface BurstJob {
  readonly packId: string;
  readonly jobId: string;
  /** Epoch ms: when its pack was accepted (started). */
  readonly acceptedAt: number;
  /** Epoch ms: when the job ended (its pack execution ended); null when it never did. */
  readonly endedAt: number | null;
  readonly status: string;
  readonly error: string | null;
}

export interface BurstFigures {
  readonly packs: number;
  readonly complete: number;
  readonly failed: number;
  /** Not terminal when the run gave up. */
  readonly unfinished: number;
  readonly errors: Record<string, number>;
  readonly wallSeconds: number;
  /** Acceptance → end, complete jobs only, ms. */
  readonly latencyMs: Spread;
  /** Acceptance → first prompt running on a GPU, ms. */
  readonly waitForGpuMs: Spread;
  /** Percent of the GPU capacity the waiting work could use that was busy (bench/gpu.ts). */
  readonly gpuBusyWhileWorkWaits: number | null;
  readonly gpuBusySeconds: number;
  readonly gpuSecondsWasted: number;
  /**
   * Spearman's rank correlation between the order jobs were accepted and the order their
   * first prompt started: 1 is first come, first served.
   */
  readonly startOrderCorrelation: number | null;
  /** Largest number of places a job's GPU start moved from its acceptance order. */
  readonly maxStartDisplacement: number;
}

/** Spearman's rho of two rankings of the same items (no ties). */
export function rankCorrelation(a: readonly number[], b: readonly number[]): number | null {
  const n = a.length;
  if (n < 2 || b.length !== n) return null;
  const d2 = a.reduce((s, r, i) => s + (r - b[i]!) ** 2, 0);
  return roundTo(1 - (6 * d2) / (n * (n * n - 1)), 3);
}

/** The first time each job's prompt started on any GPU. */
function firstStarts(prompts: readonly GpuPrompt[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const p of prompts) {
    if (p.jobId === null || p.startedAt === null) continue;
    const seen = first.get(p.jobId);
    if (seen === undefined || p.startedAt < seen) first.set(p.jobId, p.startedAt);
  }
  return first;
}

/** Prompts whose output a complete job kept: its last attempt that succeeded. */
function keptPrompts(prompts: readonly GpuPrompt[], complete: ReadonlySet<string>): Set<string> {
  const last = new Map<string, GpuPrompt>();
  for (const p of prompts) {
    if (p.jobId === null || !complete.has(p.jobId) || p.outcome !== 'success') continue;
    const prev = last.get(p.jobId);
    if (prev === undefined || (p.attempt ?? 0) > (prev.attempt ?? 0) || ((p.attempt ?? 0) === (prev.attempt ?? 0) && p.startedAt! < prev.startedAt!)) last.set(p.jobId, p);
  }
  return new Set([...last.values()].map((p) => p.promptId));
}

export function burstFigures(jobs: readonly BurstJob[], prompts: readonly GpuPrompt[], samples: readonly QueueSample[], endAt: number): BurstFigures {
  const complete = jobs.filter((j) => j.status === 'complete');
  const errors: Record<string, number> = {};
  for (const j of jobs) if (j.status === 'failed') errors[j.error ?? 'unknown'] = (errors[j.error ?? 'unknown'] ?? 0) + 1;
  const starts = firstStarts(prompts);
  const started = jobs.filter((j) => starts.has(j.jobId));
  // Ties in acceptance (one burst) keep submission order: the array order.
  const acceptRank = new Map([...started].map((j, i) => [j.jobId, i] as const).sort((x, y) => {
    const a = started[x[1]]!.acceptedAt - started[y[1]]!.acceptedAt;
    return a !== 0 ? a : x[1] - y[1];
  }).map(([id], rank) => [id, rank]));
  const startRank = new Map([...started].sort((x, y) => starts.get(x.jobId)! - starts.get(y.jobId)!).map((j, rank) => [j.jobId, rank]));
  const a = started.map((j) => acceptRank.get(j.jobId)!);
  const b = started.map((j) => startRank.get(j.jobId)!);
  const gpu = gpuFigures(prompts, samples, keptPrompts(prompts, new Set(complete.map((j) => j.jobId))), endAt);
  const firstAccept = Math.min(...jobs.map((j) => j.acceptedAt));
  const lastEnd = Math.max(...jobs.map((j) => j.endedAt ?? endAt));
  return {
    packs: new Set(jobs.map((j) => j.packId)).size,
    complete: complete.length,
    failed: jobs.filter((j) => j.status === 'failed').length,
    unfinished: jobs.filter((j) => j.status !== 'complete' && j.status !== 'failed').length,
    errors,
    wallSeconds: jobs.length === 0 ? 0 : roundTo((lastEnd - firstAccept) / 1000, 2),
    latencyMs: spread(complete.flatMap((j) => (j.endedAt === null ? [] : [j.endedAt - j.acceptedAt]))),
    waitForGpuMs: spread(started.map((j) => starts.get(j.jobId)! - j.acceptedAt)),
    gpuBusyWhileWorkWaits: gpu.utilisation,
    gpuBusySeconds: gpu.busySeconds,
    gpuSecondsWasted: gpu.wastedSeconds,
    startOrderCorrelation: rankCorrelation(a, b),
    maxStartDisplacement: a.reduce((m, r, i) => Math.max(m, Math.abs(r - b[i]!)), 0),
  };
}

const ms = (v: number | null) => (v === null ? '–' : `${(v / 1000).toFixed(2)} s`);
const pct = (v: number | null) => (v === null ? '–' : `${v} %`);

/** The figures of each variant side by side, ours first. */
export function formatBurst(title: string, rows: readonly { label: string; f: BurstFigures }[]): string {
  const lines = [title];
  for (const { label, f } of rows) {
    lines.push(
      `${label.padEnd(9)} complete ${f.complete}/${f.complete + f.failed + f.unfinished} (failed ${f.failed}${Object.keys(f.errors).length ? `: ${Object.entries(f.errors).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}, unfinished ${f.unfinished}); ` +
      `wall ${f.wallSeconds} s; latency p50 ${ms(f.latencyMs.p50)} p95 ${ms(f.latencyMs.p95)} max ${ms(f.latencyMs.max)}; ` +
      `wait for a GPU p50 ${ms(f.waitForGpuMs.p50)} p95 ${ms(f.waitForGpuMs.p95)}; GPU busy while work waits ${pct(f.gpuBusyWhileWorkWaits)}; ` +
      `GPU-seconds busy ${f.gpuBusySeconds}, wasted ${f.gpuSecondsWasted}; start order vs acceptance: rho ${f.startOrderCorrelation ?? '–'}, max displacement ${f.maxStartDisplacement}`,
    );
  }
  const ours = rows.find((r) => r.label === 'ours')?.f;
  const base = rows.find((r) => r.label === 'baseline')?.f;
  if (ours && base && base.wallSeconds > 0) lines.push(`wall time ours ÷ baseline: ${roundTo(ours.wallSeconds / base.wallSeconds, 2)} (target ≤ 1.1)`);
  return lines.join('\n');
}
