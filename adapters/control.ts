/** The emergency-stop flag as stage functions see it, cached briefly per container. */
import { EMERGENCY_STOP_FLAG, JOB_STORE_ACCESS, getFlag } from './job-store.ts';
import { onReset } from './process-caches.ts';

export const CONTROL_ACCESS = JOB_STORE_ACCESS.readFlag;

const CACHE_MS = 2000;
let cache: { at: number; stopped: boolean } | undefined;

export async function isEmergencyStopped(): Promise<boolean> {
  if (cache && Date.now() - cache.at < CACHE_MS) return cache.stopped;
  const flag = await getFlag(EMERGENCY_STOP_FLAG);
  cache = { at: Date.now(), stopped: flag?.['active'] === true };
  return cache.stopped;
}

export function forgetStopFlag(): void {
  cache = undefined;
}
onReset(forgetStopFlag);
