/**
 * What the chaos profile does to a run, decided before it starts from the seed alone:
 * which GPU prompts (by the order GPU work starts) get their worker SIGKILLed, which GPU
 * task messages SQS delivers twice and how late, which provider is down, when and for how long,
 * and when the operator pulls the emergency stop. The pipeline's behaviour is never an
 * input. Times are simulated seconds; the driver scales them like the rest of the stack.
 */
import { unitHash } from '../local/faults.ts';

export interface ChaosPlan {
  /** Kill the worker whose GPU starts the n-th prompt of the run (1-based, counted over every GPU). */
  readonly killAtPromptStarts: readonly number[];
  /** Share of GPU task messages delivered a second time. */
  readonly duplicateRate: number;
  /** Longest delay of a duplicate after the original was first seen, simulated seconds. */
  readonly duplicateMaxDelaySeconds: number;
  /** One provider answers every call with 503 for a window (every job of the workload). */
  readonly providerDown: { readonly service: 'segmentation' | 'analyzer'; readonly startSeconds: number; readonly durationSeconds: number };
  /** Pull the emergency stop once this many jobs are terminal; resume after `pauseSeconds`. */
  readonly emergencyStop: { readonly afterTerminalJobs: number; readonly pauseSeconds: number };
  /** A crashed ComfyUI is restarted by its supervisor after this long (every profile). */
  readonly comfyRestartSeconds: number;
}

/** Only the supervisor: what every non-chaos run has. */
export const CALM: ChaosPlan = {
  killAtPromptStarts: [], duplicateRate: 0, duplicateMaxDelaySeconds: 0,
  providerDown: { service: 'analyzer', startSeconds: Infinity, durationSeconds: 0 },
  emergencyStop: { afterTerminalJobs: Infinity, pauseSeconds: 0 },
  comfyRestartSeconds: 2,
};

/** What the chaos driver can do; a run may pick some (e.g. only kills, for a short real-time run). */
export const CHAOS_ACTIONS = ['kills', 'duplicates', 'outage', 'stop'] as const;
export type ChaosAction = (typeof CHAOS_ACTIONS)[number];

export function planChaos(seed: number, jobs: number, actions: readonly ChaosAction[] = CHAOS_ACTIONS): ChaosPlan {
  const full = fullPlan(seed, jobs);
  return {
    ...full,
    ...(!actions.includes('kills') && { killAtPromptStarts: [] }),
    ...(!actions.includes('duplicates') && { duplicateRate: 0 }),
    ...(!actions.includes('outage') && { providerDown: CALM.providerDown }),
    ...(!actions.includes('stop') && { emergencyStop: CALM.emergencyStop }),
  };
}

function fullPlan(seed: number, jobs: number): ChaosPlan {
  const u = (...parts: (string | number)[]) => unitHash(seed, 'chaos', ...parts);
  const kills = Math.max(1, Math.round(jobs / 12));
  const killAtPromptStarts = Array.from({ length: kills }, (_, k) => {
    // Spread over the middle of the run, one per slice, never the very first prompt.
    const slice = (k + u('kill', k)) / kills;
    return Math.max(2, Math.floor(jobs * (0.15 + 0.6 * slice)));
  });
  return {
    killAtPromptStarts: [...new Set(killAtPromptStarts)].sort((a, b) => a - b),
    duplicateRate: 0.25,
    duplicateMaxDelaySeconds: 40,
    providerDown: { service: u('provider') < 0.5 ? 'segmentation' : 'analyzer', startSeconds: Math.round(60 + 120 * u('provider-start')), durationSeconds: 20 },
    emergencyStop: { afterTerminalJobs: Math.max(1, Math.ceil(jobs * (0.35 + 0.2 * u('stop')))), pauseSeconds: 20 },
    comfyRestartSeconds: 2,
  };
}

/** Whether SQS delivers this GPU attempt twice, and how many simulated seconds after the first: null when not. */
export function duplicateDelaySeconds(plan: ChaosPlan, seed: number, jobId: string, attempt: number): number | null {
  if (unitHash(seed, 'chaos', 'duplicate', jobId, attempt) >= plan.duplicateRate) return null;
  return Math.round(plan.duplicateMaxDelaySeconds * unitHash(seed, 'chaos', 'duplicate-delay', jobId, attempt) * 10) / 10;
}
