/**
 * What a simulated ComfyUI process holds in memory — its prompt queue, history, loaded
 * models, node cache and flags — kept apart from what survives a crash (files on disk,
 * counters the tests read). A crash calls `ProcessMemory.reset()` once; every part is made
 * anew rather than cleared, so a run cut off by the crash keeps (and releases) its own.
 */
import type { ComfyFaultKind } from '../faults.ts';
import { NodeCache, type RunResult } from './executor.ts';
import { Vram } from './physics.ts';
import type { PromptGraph } from './validate.ts';

/** [number, prompt_id, prompt, extra_data, outputs_to_execute] */
export type QueueItem = [number, string, PromptGraph, Record<string, unknown>, string[]];

export interface Pending {
  readonly item: QueueItem;
  readonly fault: ComfyFaultKind | null;
}

export interface HistoryEntry {
  prompt: QueueItem;
  outputs: RunResult['outputs'];
  status: { status_str: 'success' | 'error'; completed: boolean; messages: RunResult['messages'] };
  meta: RunResult['meta'];
}

const MAX_HISTORY = 10_000;

/** PromptQueue of server.py: pending items by (number, prompt_id), and the one running. */
export class PromptQueue {
  #pending: Pending[] = [];
  #running: Pending | null = null;
  #counter = 0;

  /** The number of a prompt that gave none: after the others, or before them with `front`. */
  nextNumber({ front }: { front: boolean }): number {
    const n = front ? -this.#counter : this.#counter;
    this.#counter += 1;
    return n;
  }

  add(p: Pending): void {
    this.#pending.push(p);
    this.#pending.sort((a, b) => a.item[0] - b.item[0] || (a.item[1] < b.item[1] ? -1 : a.item[1] > b.item[1] ? 1 : 0));
  }

  /** Moves the first pending prompt to running; undefined when none waits. */
  start(): Pending | undefined {
    const next = this.#pending.shift();
    if (next !== undefined) this.#running = next;
    return next;
  }

  finish(): void {
    this.#running = null;
  }

  clear(): void {
    this.#pending = [];
  }

  /** Removes a pending prompt; false when it is not pending. */
  delete(promptId: unknown): boolean {
    const i = this.#pending.findIndex((p) => p.item[1] === promptId);
    if (i < 0) return false;
    this.#pending.splice(i, 1);
    return true;
  }

  get running(): Pending | null {
    return this.#running;
  }

  get remaining(): number {
    return this.#pending.length + (this.#running === null ? 0 : 1);
  }

  /** GET /queue. */
  view(): { queue_running: QueueItem[]; queue_pending: QueueItem[] } {
    return { queue_running: this.#running === null ? [] : [this.#running.item], queue_pending: this.#pending.map((p) => p.item) };
  }
}

/** /history: oldest first, at most MAX_HISTORY entries (the oldest goes). */
export class PromptHistory {
  readonly #entries = new Map<string, HistoryEntry>();

  record(promptId: string, entry: HistoryEntry): void {
    if (this.#entries.size >= MAX_HISTORY) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(promptId, entry);
  }

  get(promptId: string): HistoryEntry | undefined {
    return this.#entries.get(promptId);
  }

  delete(promptId: string): void {
    this.#entries.delete(promptId);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** GET /history?max_items&offset: a negative or missing offset with max_items takes the newest. */
  page(maxItems: number | null, requestedOffset: number): Record<string, HistoryEntry> {
    const offset = requestedOffset < 0 && maxItems !== null ? this.#entries.size - maxItems : requestedOffset;
    const out: Record<string, HistoryEntry> = {};
    let i = 0;
    for (const [k, v] of this.#entries) {
      if (i >= offset) {
        out[k] = v;
        if (maxItems !== null && Object.keys(out).length >= maxItems) break;
      }
      i += 1;
    }
    return out;
  }
}

/** Loaded models and cached node outputs, and what POST /free asked to drop once the GPU is idle. */
export class GpuMemory {
  readonly vram: Vram;
  readonly cache: NodeCache | null;
  #unload = false;
  #free = false;

  constructor({ vramMiB, cache }: ProcessMemoryOptions) {
    this.vram = new Vram(vramMiB);
    this.cache = cache ? new NodeCache() : null;
  }

  /** Records a POST /free; true when it asked for something. */
  request(body: { unloadModels: boolean; freeMemory: boolean }): boolean {
    if (body.unloadModels) this.#unload = true;
    if (body.freeMemory) this.#free = true;
    return body.unloadModels || body.freeMemory;
  }

  /** Carries out what POST /free asked, between prompts. */
  applyRequested(): void {
    if (this.#unload || this.#free) this.vram.unloadAll();
    if (this.#free) this.cache?.clear();
    this.#unload = false;
    this.#free = false;
  }
}

export interface ProcessMemoryOptions {
  readonly vramMiB: number;
  readonly cache: boolean;
}

/** Everything a ComfyUI process loses when it dies. */
export class ProcessMemory {
  readonly #options: ProcessMemoryOptions;
  queue!: PromptQueue;
  history!: PromptHistory;
  gpu!: GpuMemory;
  /** POST /interrupt, until the running prompt raises it. */
  interruptRequested!: boolean;
  /** The running prompt's client and its executing node, re-sent to that client when it reconnects. */
  executing!: { clientId: string | null; node: string | null };

  constructor(options: ProcessMemoryOptions) {
    this.#options = options;
    this.reset();
  }

  reset(): void {
    this.queue = new PromptQueue();
    this.history = new PromptHistory();
    this.gpu = new GpuMemory(this.#options);
    this.interruptRequested = false;
    this.executing = { clientId: null, node: null };
  }

  /** Reads and clears the interrupt flag, as a raise in ComfyUI does. */
  takeInterrupt(): boolean {
    const was = this.interruptRequested;
    this.interruptRequested = false;
    return was;
  }
}
