/**
 * The benchmark's plans are decided before a run from the seed alone: the workload's job
 * ids (the same createDemoPack gives), the faults they draw and meet by physics, and what
 * the chaos driver will do.
 */
import { describe, expect, it } from 'vitest';
import { duplicateDelaySeconds, planChaos } from '../../bench/chaos-plan.ts';
import { ABSORBED, demoJobId, injectedByName, physicsFaults, planFaults } from '../../bench/fault-plan.ts';
import { seededUuid } from '../../local/demo.ts';
import { drawnFaults, getProfile } from '../../local/faults.ts';
import { LOCAL_MODELS } from '../../local/stack.ts';

describe('the fault plan', () => {
  it("uses the demo pack's job ids, so both variants meet the same faults", () => {
    expect(demoJobId(7, 3)).toBe(seededUuid('job', 7, 3));
    expect(planFaults(getProfile('default'), 7, 5, LOCAL_MODELS)).toEqual(planFaults(getProfile('default'), 7, 5, LOCAL_MODELS));
  });

  it('lists every kind the profile draws for a job, with the name the pipeline should give it', () => {
    const profile = getProfile('default');
    const plan = planFaults(profile, 1, 24, LOCAL_MODELS);
    for (const j of plan) {
      const drawn = ['comfyui', 'segmentation', 'analyzer'].flatMap((s) => drawnFaults(profile, 1, s as 'comfyui', j.jobId).map((k) => `${s}.${k}`));
      expect(j.faults.map((f) => f.source).filter((s) => !s.startsWith('physics.') && !s.startsWith('input.'))).toEqual(drawn);
    }
    const hang = plan.flatMap((j) => j.faults).find((f) => f.source === 'comfyui.hang');
    expect(hang).toEqual({ source: 'comfyui.hang', expected: 'Gpu.Timeout', recoverable: true });
  });

  it.each([
    { index: 3, expected: ['Gpu.OutOfMemory'] },
    { index: 5, expected: ['Gpu.ModelMissing'] },
    { index: 21, expected: ['Fatal.InvalidInput', 'Gpu.ModelMissing'] },
    { index: 0, expected: [] },
  ])('knows demo job $index meets $expected by physics and inputs', ({ index, expected }) => {
    expect(physicsFaults(index, LOCAL_MODELS).map((f) => f.expected)).toEqual(expected);
  });

  it('leaves out the backend the workload does not call, and counts absorbed faults apart', () => {
    const plan = planFaults(getProfile('chaos'), 3, 24, LOCAL_MODELS, 'comfyui');
    expect(plan.flatMap((j) => j.faults).some((f) => f.source.startsWith('hosted.'))).toBe(false);
    const byName = injectedByName(plan);
    expect(byName[ABSORBED]).toBe(plan.flatMap((j) => j.faults).filter((f) => f.expected === null).length);
  });
});

describe('the chaos plan', () => {
  it('depends on the seed alone', () => {
    expect(planChaos(5, 24)).toEqual(planChaos(5, 24));
    expect(planChaos(5, 24)).not.toEqual(planChaos(6, 24));
  });

  it('kills about one worker per 12 jobs, mid-run, and stops the pipeline partway', () => {
    const plan = planChaos(1, 24);
    expect(plan.killAtPromptStarts).toHaveLength(2);
    for (const n of plan.killAtPromptStarts) expect(n).toBeGreaterThanOrEqual(2);
    expect(plan.emergencyStop.afterTerminalJobs).toBeGreaterThan(0);
    expect(plan.emergencyStop.afterTerminalJobs).toBeLessThan(24);
  });

  it('duplicates about a quarter of the GPU attempts, each decided by (seed, job, attempt)', () => {
    const plan = planChaos(1, 24);
    const decisions = Array.from({ length: 400 }, (_, i) => duplicateDelaySeconds(plan, 1, `job-${i}`, 1));
    const share = decisions.filter((d) => d !== null).length / decisions.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.32);
    expect(duplicateDelaySeconds(plan, 1, 'job-9', 2)).toBe(duplicateDelaySeconds(plan, 1, 'job-9', 2));
    for (const d of decisions) if (d !== null) expect(d).toBeLessThanOrEqual(plan.duplicateMaxDelaySeconds);
  });
});
