/**
 * GPU figures from prompt logs and queue samples: utilisation while work waited, idle gaps,
 * wasted GPU time and duplicate runs of one job attempt.
 */
import { describe, expect, it } from 'vitest';
import { gpuFigures, gpuUtilisation, type GpuPrompt } from '../../bench/gpu.ts';
import type { QueueSample } from '../../bench/sampler.ts';

const sample = (t: number, s: Partial<QueueSample>): QueueSample => ({ t, waiting: 0, held: 0, gpus: 2, running: 0, simQueued: 0, ...s });

const prompt = (p: Partial<GpuPrompt> & Pick<GpuPrompt, 'promptId' | 'gpu'>): GpuPrompt => ({
  jobId: 'job-1', attempt: 1, queuedAt: 0, startedAt: 0, endedAt: 1000, outcome: 'success', ...p,
});

describe('GPU utilisation', () => {
  it('is the busy share of the GPUs the waiting work could use, over the samples where work waited', () => {
    const samples = [
      sample(0, { waiting: 3, running: 2 }), // 2 of 2 usable
      sample(50, { simQueued: 1, running: 0 }), // 0 of 1 usable: one prompt waits, no GPU runs
      sample(100, { running: 0 }), // no work: not counted
      sample(150, { simQueued: 0, running: 1 }), // 1 of 1
    ];
    expect(gpuUtilisation(samples, false)).toBe(75);
  });

  it('can count every message a worker holds as work', () => {
    const samples = [sample(0, { held: 2, running: 1 })];
    expect(gpuUtilisation(samples, false)).toBe(100);
    expect(gpuUtilisation(samples, true)).toBe(50);
  });

  it('is unknown when work never waited', () => {
    expect(gpuUtilisation([sample(0, {})], false)).toBeNull();
  });
});

describe('GPU time and runs', () => {
  const prompts: GpuPrompt[] = [
    prompt({ promptId: 'a', gpu: 'g1', startedAt: 0, endedAt: 1000, jobId: 'j1', attempt: 1, outcome: 'error' }),
    prompt({ promptId: 'b', gpu: 'g1', queuedAt: 500, startedAt: 1010, endedAt: 2000, jobId: 'j1', attempt: 2 }),
    prompt({ promptId: 'c', gpu: 'g1', queuedAt: 2100, startedAt: 2300, endedAt: 3000, jobId: 'j2', attempt: 1 }),
    prompt({ promptId: 'd', gpu: 'g2', queuedAt: 50, startedAt: 100, endedAt: 600, jobId: 'j2', attempt: 1 }),
    prompt({ promptId: 'e', gpu: 'g2', queuedAt: 650, startedAt: 700, endedAt: 800, jobId: 'j3', attempt: 1, outcome: 'lost' }),
    prompt({ promptId: 'f', gpu: 'g2', queuedAt: 750, startedAt: 900, endedAt: 1900, jobId: 'j3', attempt: 1 }),
    prompt({ promptId: 'g', gpu: 'g2', startedAt: null, endedAt: null, outcome: null }),
  ];
  const figures = gpuFigures(prompts, [], new Set(['b', 'c', 'f']), 5000);

  it('sums busy time and the time of prompts no complete job kept', () => {
    expect(figures.promptsRun).toBe(6);
    expect(figures.busySeconds).toBeCloseTo(1 + 0.99 + 0.7 + 0.5 + 0.1 + 1, 6);
    expect(figures.wastedSeconds).toBeCloseTo(1 + 0.5 + 0.1, 6);
  });

  it('counts a job attempt run twice, but not a run lost with a crashed ComfyUI', () => {
    expect(figures.duplicateRuns).toBe(1);
    expect(figures.duplicates.map((d) => [d.jobId, d.attempt, d.runs.map((r) => r.gpu)])).toEqual([['j2', 1, ['g1', 'g2']]]);
  });

  it('measures the idle gap between prompts on each GPU, split by whether the next one already waited there', () => {
    expect(figures.idleGapMs).toEqual({ n: 4, p50: 100, p95: 300, max: 300 });
    expect(figures.idleGapQueuedMs).toMatchObject({ n: 2, max: 100 });
    expect(figures.idleGapFedMs).toMatchObject({ n: 2, max: 300 });
  });
});
