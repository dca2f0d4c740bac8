/**
 * The simulated ComfyUI's prompt log (read-only, for benchmarks): when each accepted prompt
 * was queued, started and ended on the simulated GPU, and for which job attempt
 * (extra_data.vto). Nothing here changes how the simulator behaves.
 */

export type PromptOutcome = 'success' | 'error' | 'interrupted' | 'lost';

export interface PromptRecord {
  readonly promptId: string;
  /** extra_data.vto.jobId / attempt as the worker sent them; null when absent. */
  readonly jobId: string | null;
  readonly attempt: number | null;
  /** A worker's warm-up prompt (extra_data.vto.warmup): GPU time spent before any job, not for one. */
  readonly warmup?: boolean;
  /** Epoch milliseconds. */
  readonly queuedAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  /** 'lost': the run ended with the server (crash or stop) and left no history. Null while queued or running. */
  readonly outcome: PromptOutcome | null;
}

export class PromptLog {
  readonly #records = new Map<string, { -readonly [K in keyof PromptRecord]: PromptRecord[K] }>();

  queued(promptId: string, extraData: Record<string, unknown>): void {
    const vto = extraData['vto'];
    const tag = vto !== null && typeof vto === 'object' ? (vto as Record<string, unknown>) : {};
    this.#records.set(promptId, {
      promptId,
      jobId: typeof tag['jobId'] === 'string' ? tag['jobId'] : null,
      attempt: typeof tag['attempt'] === 'number' ? tag['attempt'] : null,
      warmup: tag['warmup'] === true,
      queuedAt: Date.now(), startedAt: null, endedAt: null, outcome: null,
    });
  }

  started(promptId: string): void {
    const r = this.#records.get(promptId);
    if (r !== undefined) r.startedAt = Date.now();
  }

  ended(promptId: string, outcome: PromptOutcome): void {
    const r = this.#records.get(promptId);
    if (r !== undefined && r.endedAt === null) {
      r.endedAt = Date.now();
      r.outcome = outcome;
    }
  }

  all(): readonly PromptRecord[] {
    return [...this.#records.values()].map((r) => ({ ...r }));
  }
}
