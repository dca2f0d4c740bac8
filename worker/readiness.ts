/**
 * Start-up gate: the worker takes no message before ComfyUI answers GET /system_stats,
 * so a cold ComfyUI (models loading, custom nodes importing) never fails the first job.
 */
import type { ComfyClient } from './comfy-client.ts';
import { sleep } from './comfy-socket.ts';
import type { Logger } from './logger.ts';

export class ComfyNotReadyError extends Error {
  override readonly name = 'ComfyNotReadyError';
}

const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}` : String(e));

/** Resolves once ComfyUI answers; `timeoutMs` null skips the wait. */
export async function waitForComfy(comfy: ComfyClient, timeoutMs: number | null, log: Logger, signal?: AbortSignal): Promise<void> {
  if (timeoutMs === null) return;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last: unknown = null;
  let tries = 0;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    tries += 1;
    try {
      const remaining = Math.max(1, deadline - Date.now());
      await comfy.systemStats({ signal: AbortSignal.timeout(remaining) });
      log.info('ComfyUI is ready', { comfyUrl: comfy.baseUrl, waitedMs: Date.now() - started, tries });
      return;
    } catch (e) {
      last = e;
      if (tries === 1) log.info('waiting for ComfyUI to answer GET /system_stats', { comfyUrl: comfy.baseUrl, timeoutMs });
    }
    await sleep(Math.min(500, Math.max(0, deadline - Date.now())), signal);
  }
  throw new ComfyNotReadyError(
    `ComfyUI at ${comfy.baseUrl} did not answer GET /system_stats within ${timeoutMs} ms (${tries} tries; last error: ${describe(last)}). `
    + 'Check COMFYUI_URL and that ComfyUI is running; raise VTO_WORKER_START_TIMEOUT_MS for a slow start, or set it to "off" to skip the wait.',
  );
}
