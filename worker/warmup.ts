/**
 * A new worker's warm-up: before it takes any message, it runs one tiny prompt on its
 * ComfyUI that loads the model (core/workflow.ts buildWarmupWorkflow), so the first job does
 * not pay the model load. The prompt is tagged extra_data.vto.warmup: its GPU time counts as
 * warm-up (the simulator's prompt log, the worker's warm-up gauge), never as a job's.
 * Best effort and bounded: a warm-up that fails or times out is logged and the worker polls
 * anyway (its first job then pays the load, as without a warm-up).
 */
import { randomUUID } from 'node:crypto';
import { buildWarmupWorkflow } from '../core/workflow.ts';
import type { ComfyClient } from './comfy-client.ts';
import { sleep } from './comfy-socket.ts';
import type { Logger } from './logger.ts';

export interface WarmupOptions {
  readonly model: string;
  readonly workerId: string;
  /** Longest the whole warm-up may take. */
  readonly timeoutMs: number;
  /** GET /history period while it runs. */
  readonly pollMs: number;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

export interface WarmupResult {
  readonly ok: boolean;
  readonly seconds: number;
  readonly promptId: string | null;
}

export async function warmUp(comfy: ComfyClient, o: WarmupOptions): Promise<WarmupResult> {
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  const deadline = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal === undefined ? deadline : AbortSignal.any([deadline, o.signal]);
  let promptId: string | null = null;
  try {
    const res = await comfy.queuePrompt({
      prompt: buildWarmupWorkflow(o.model), clientId: `warmup-${o.workerId}`, promptId: randomUUID(),
      extraData: { vto: { warmup: true, workerId: o.workerId } },
    }, { signal });
    promptId = res.prompt_id;
    for (;;) {
      const entry = await comfy.history(promptId, { signal });
      if (entry !== null) {
        const ok = entry.status?.status_str === 'success';
        if (ok) o.log.info('warm-up prompt done; the model is loaded', { model: o.model, promptId, seconds: seconds() });
        else o.log.warn('the warm-up prompt failed; polling anyway (the first job pays the model load)', { model: o.model, promptId, status: entry.status });
        return { ok, seconds: seconds(), promptId };
      }
      await sleep(o.pollMs, signal);
    }
  } catch (e) {
    if (o.signal?.aborted === true) return { ok: false, seconds: seconds(), promptId };
    o.log.warn('the warm-up did not finish; polling anyway (the first job pays the model load)', { model: o.model, promptId, timeoutMs: o.timeoutMs, err: e });
    if (promptId !== null) await comfy.cancel(promptId).catch(() => undefined);
    return { ok: false, seconds: seconds(), promptId };
  }
}
