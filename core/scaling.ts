/**
 * The GPU fleet's scaling decision, one pure function for the offline stack's scaler
 * (local/fleet-scaler.ts) and for the deployed fleet's policy where CloudWatch allows it.
 *
 * - Size: each worker is sized for `backlogPerWorker` GPU messages (waiting + in flight), so
 *   the fleet wants ceil(messages / backlogPerWorker) workers, within [minWorkers, maxWorkers].
 * - Out: the whole gap at once, then nothing more for `scaleOutCooldownSeconds`, so workers
 *   still booting are counted before others are added. Filling up to minWorkers (a floor
 *   lost to a dead worker) ignores the cooldown.
 * - In: only a ready worker holding no message, idle for at least `scaleInCooldownSeconds`,
 *   longest idle first; never one holding a job, never one still starting or warming up, never
 *   below minWorkers. Draining workers are already leaving and count for nothing.
 */
import type { FleetScalingSettings } from './fleet-scaling-settings.ts';

/** starting: host and ComfyUI booting; warming: the warm-up prompt loads the model; ready: polling. */
export type WorkerPhase = 'starting' | 'warming' | 'ready' | 'draining';

export interface FleetWorker {
  readonly id: string;
  readonly phase: WorkerPhase;
  /** Messages the worker holds (running, prefetched, finishing). */
  readonly busy: number;
  /** Epoch ms since which the worker has held nothing; null while it holds a message. */
  readonly idleSince: number | null;
}

export interface FleetState {
  /** GPU messages waiting in the queue (ApproximateNumberOfMessages). */
  readonly backlog: number;
  /** GPU messages taken by workers and not yet deleted (ApproximateNumberOfMessagesNotVisible). */
  readonly inFlight: number;
  readonly workers: readonly FleetWorker[];
  /** Epoch ms of the last scale-out; null when none yet. */
  readonly lastScaleOutAt: number | null;
  readonly now: number;
}

export interface ScalingDecision {
  /** Workers wanted after this decision (not counting draining ones). */
  readonly desired: number;
  /** Workers to start now. */
  readonly start: number;
  /** Idle workers to stop (drain) now. */
  readonly stop: readonly string[];
  readonly reason: string;
}

export function decideScaling(state: FleetState, s: FleetScalingSettings): ScalingDecision {
  const live = state.workers.filter((w) => w.phase !== 'draining');
  const current = live.length;
  const messages = Math.max(0, state.backlog) + Math.max(0, state.inFlight);
  const needed = Math.ceil(messages / s.backlogPerWorker);
  const target = Math.min(s.maxWorkers, Math.max(s.minWorkers, needed));
  const load = `${messages} message(s) (${state.backlog} waiting, ${state.inFlight} in flight) need ${needed} at ${s.backlogPerWorker} per worker`;

  if (target > current) {
    const sinceOut = state.lastScaleOutAt === null ? Infinity : state.now - state.lastScaleOutAt;
    if (sinceOut >= s.scaleOutCooldownSeconds * 1000) {
      return { desired: target, start: target - current, stop: [], reason: `scale out ${current} → ${target}: ${load}${needed > s.maxWorkers ? `, capped at maxWorkers ${s.maxWorkers}` : ''}` };
    }
    if (current < s.minWorkers) {
      return { desired: s.minWorkers, start: s.minWorkers - current, stop: [], reason: `restore minWorkers ${s.minWorkers} (${current} live) inside the scale-out cooldown` };
    }
    const waitS = Math.ceil((s.scaleOutCooldownSeconds * 1000 - sinceOut) / 1000);
    return { desired: current, start: 0, stop: [], reason: `hold at ${current}: ${load}, but the scale-out cooldown has ${waitS} s left` };
  }

  if (target < current) {
    const idleFor = (w: FleetWorker) => (w.idleSince === null ? -1 : state.now - w.idleSince);
    const stoppable = live
      .filter((w) => w.phase === 'ready' && w.busy === 0 && idleFor(w) >= s.scaleInCooldownSeconds * 1000)
      .sort((a, b) => idleFor(b) - idleFor(a) || a.id.localeCompare(b.id))
      .slice(0, current - target);
    if (stoppable.length === 0) {
      return { desired: current, start: 0, stop: [], reason: `hold at ${current}: ${load}, but no ready worker has been idle ${s.scaleInCooldownSeconds} s` };
    }
    const after = current - stoppable.length;
    return {
      desired: after, start: 0, stop: stoppable.map((w) => w.id),
      reason: `scale in ${current} → ${after}: ${load}${target === s.minWorkers && needed < s.minWorkers ? ` (floor minWorkers ${s.minWorkers})` : ''}; stopping ${stoppable.length} worker(s) idle ≥ ${s.scaleInCooldownSeconds} s`,
    };
  }

  return { desired: current, start: 0, stop: [], reason: `steady at ${current}: ${load}` };
}
