/**
 * The simulated ComfyUI's counters (ComfySim.stats()): kept outside the process memory, so
 * a crash does not reset them.
 */
import type { RunResult } from './executor.ts';

export class SimCounters {
  readonly counts = {
    promptsAccepted: 0, promptsRejected: 0, promptsRun: 0, promptsSucceeded: 0, promptsFailed: 0, promptsInterrupted: 0,
    busyMs: 0, uploads: 0, freeRequests: 0,
  };
  readonly #faultsFired: Record<string, number> = {};
  readonly #errors: Record<string, number> = {};

  faultFired(kind: string): void {
    this.#faultsFired[kind] = (this.#faultsFired[kind] ?? 0) + 1;
  }

  /** A prompt that ran to its end (not one the server lost). */
  ran(result: RunResult): void {
    this.counts.promptsRun += 1;
    if (result.status === 'success') this.counts.promptsSucceeded += 1;
    else if (result.interrupted) this.counts.promptsInterrupted += 1;
    else this.counts.promptsFailed += 1;
    if (result.failure !== null && !result.interrupted) this.#errors[result.failure.type] = (this.#errors[result.failure.type] ?? 0) + 1;
  }

  snapshot(): typeof this.counts & { faultsFired: Record<string, number>; errors: Record<string, number> } {
    return { ...this.counts, faultsFired: { ...this.#faultsFired }, errors: { ...this.#errors } };
  }
}
