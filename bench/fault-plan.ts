/**
 * The faults a benchmark workload will meet, decided before it runs: the same seed gives the
 * same job ids (local/demo.ts) and the same job ids the same fault draws (local/faults.ts),
 * and the demo parameters meet the simulated GPU's physics (VRAM budget, installed models).
 * Nothing here looks at what the pipeline does; the report compares this plan with what the
 * execution histories show.
 */
import { resolveParams } from '../core/params.ts';
import { entryFor } from '../core/taxonomy.ts';
import { DEFAULT_VRAM_MIB, vramNeededMiB } from '../local/comfyui/physics.ts';
import { CORRUPT_INPUT_JOB, demoParams, seededUuid } from '../local/demo.ts';
import { FAULT_CATALOG, SERVICES, drawnFaults, type FaultProfile } from '../local/faults.ts';

/** Models the offline stack's simulated GPUs have installed (local/stack.ts LOCAL_MODELS). */
export type InstalledModels = readonly string[];

export interface PlannedFault {
  /** Where it comes from: `comfyui.hang`, `analyzer.malformed`, `physics.outOfMemory`, `input.corrupt`… */
  readonly source: string;
  /** The taxonomy name the pipeline should give it; null when a client is expected to absorb it. */
  readonly expected: string | null;
  readonly recoverable: boolean | null;
}

export interface JobPlan {
  readonly index: number;
  readonly jobId: string;
  readonly faults: readonly PlannedFault[];
}

/** The demo workload's job ids for a seed (createDemoPack derives them from (seed, index)). */
export const demoJobId = (seed: number, index: number) => seededUuid('job', seed, index);

const fault = (source: string, expected: string | null): PlannedFault => ({
  source, expected, recoverable: expected === null ? null : entryFor(expected).recoverable,
});

/** Failures the job's own inputs and parameters meet on the simulated GPU, in the order they are met. */
export function physicsFaults(index: number, installed: InstalledModels, vramMiB = DEFAULT_VRAM_MIB): PlannedFault[] {
  const out: PlannedFault[] = [];
  if (index % 24 === CORRUPT_INPUT_JOB) out.push(fault('input.corrupt', 'Fatal.InvalidInput'));
  const p = resolveParams(demoParams(index));
  // ComfyUI validates the checkpoint name before anything runs; VRAM runs out while sampling.
  if (!installed.includes(p.model)) out.push(fault('physics.modelMissing', 'Gpu.ModelMissing'));
  if (vramNeededMiB(p) > vramMiB) out.push(fault('physics.outOfMemory', 'Gpu.OutOfMemory'));
  return out;
}

/**
 * The plan of a demo workload of `jobs` jobs under `profile` and `seed`. The inpaint backend
 * the workload does not use is never called, so its draws are not injected.
 */
export function planFaults(profile: FaultProfile, seed: number, jobs: number, installed: InstalledModels, inpaint: 'comfyui' | 'hosted' = 'comfyui'): JobPlan[] {
  const services = SERVICES.filter((s) => s !== (inpaint === 'comfyui' ? 'hosted' : 'comfyui'));
  return Array.from({ length: jobs }, (_, index) => {
    const jobId = demoJobId(seed, index);
    const drawn = services.flatMap((service) => drawnFaults(profile, seed, service, jobId).map((kind) => {
      const info = (FAULT_CATALOG[service] as Record<string, { expected: string | null }>)[kind];
      return fault(`${service}.${kind}`, info?.expected ?? null);
    }));
    return { index, jobId, faults: [...physicsFaults(index, installed), ...drawn] };
  });
}

/** Planned faults per expected name ("(absorbed)" for faults a client should absorb). */
export function injectedByName(plan: readonly JobPlan[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const j of plan) for (const f of j.faults) out[f.expected ?? ABSORBED] = (out[f.expected ?? ABSORBED] ?? 0) + 1;
  return out;
}

export const ABSORBED = '(absorbed by clients)';
