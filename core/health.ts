/**
 * The pipeline's health from what GET /health observed: dependency checks, queue depths,
 * stuck jobs, the emergency stop, circuit breakers (one per ComfyUI host) and the GPU
 * fleet's capacity, folded into a status and a 0–100 score. Pure, so the rules are tested
 * as a table.
 */

export interface DependencyCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly detail?: string;
}

export type BreakerStatus = 'closed' | 'open' | 'half_open';

/** A circuit breaker as the breaker store reports it (circuit breakers are another task's). */
export interface BreakerState {
  readonly dependency: string;
  readonly state: BreakerStatus;
  readonly failures?: number;
  readonly openedAt?: string;
}

/** A GPU worker's presence item as the control table holds it. */
export interface WorkerPresenceView {
  readonly workerId: string;
  readonly host: string;
  readonly slots: number;
  readonly seenAt: string;
  /** Epoch ms until which the worker counts as alive. */
  readonly expiresAt: number;
}

export interface FleetWorker {
  readonly workerId: string;
  readonly host: string;
  readonly slots: number;
  readonly state: 'alive' | 'lost';
  readonly seenAt: string;
}

/** The GPU fleet's capacity: workers alive, workers lost (lease lapsed without leaving), job slots alive. */
export interface FleetCapacity {
  readonly alive: number;
  readonly lost: number;
  readonly slots: number;
  readonly workers: readonly FleetWorker[];
}

/**
 * Folds presence items into capacity. A worker that stops on purpose deletes its item; one
 * whose lease lapsed died, and counts as lost until a worker of the same id refreshes the
 * item (the offline supervisor restarts it under its id) or `forgetMs` has passed (a fleet
 * that replaced it under a new id).
 */
export function fleetOf(items: readonly WorkerPresenceView[], now: number, forgetMs: number): FleetCapacity {
  const workers: FleetWorker[] = [];
  for (const w of [...items].sort((a, b) => a.workerId.localeCompare(b.workerId))) {
    if (w.expiresAt >= now) workers.push({ workerId: w.workerId, host: w.host, slots: w.slots, state: 'alive', seenAt: w.seenAt });
    else if (now - w.expiresAt < forgetMs) workers.push({ workerId: w.workerId, host: w.host, slots: w.slots, state: 'lost', seenAt: w.seenAt });
  }
  const alive = workers.filter((w) => w.state === 'alive');
  return { alive: alive.length, lost: workers.length - alive.length, slots: alive.reduce((n, w) => n + w.slots, 0), workers };
}

export interface HealthInputs {
  readonly dependencies: readonly DependencyCheck[];
  readonly breakers: readonly BreakerState[];
  readonly emergencyStopped: boolean;
  readonly stuckJobs: number;
  readonly deadLetterDepth: number | null;
  /** The GPU fleet; null when unknown (no control table answer). */
  readonly fleet?: FleetCapacity | null;
  /** GPU tasks waiting in the queue; null when unknown. */
  readonly gpuQueued?: number | null;
}

export type HealthStatus = 'ok' | 'degraded' | 'down';

/** What each observation costs the score. */
export const HEALTH_PENALTIES = {
  dependencyDown: 40,
  breakerOpen: 15,
  breakerHalfOpen: 5,
  deadLetters: 10,
  stuckJobs: 10,
  emergencyStopped: 20,
  /** Per worker lost without being replaced. */
  workerLost: 15,
  /** GPU work waits and no worker is alive to take it. */
  noGpuCapacity: 30,
} as const;

/** Dependencies without which nothing works: one of them down makes the pipeline down. */
export const CRITICAL_DEPENDENCIES = ['dynamodb'] as const;

export function healthOf(h: HealthInputs): { status: HealthStatus; score: number } {
  let score = 100;
  for (const d of h.dependencies) if (!d.ok) score -= HEALTH_PENALTIES.dependencyDown;
  for (const b of h.breakers) {
    if (b.state === 'open') score -= HEALTH_PENALTIES.breakerOpen;
    else if (b.state === 'half_open') score -= HEALTH_PENALTIES.breakerHalfOpen;
  }
  if ((h.deadLetterDepth ?? 0) > 0) score -= HEALTH_PENALTIES.deadLetters;
  if (h.stuckJobs > 0) score -= HEALTH_PENALTIES.stuckJobs;
  if (h.emergencyStopped) score -= HEALTH_PENALTIES.emergencyStopped;
  if (h.fleet) {
    score -= h.fleet.lost * HEALTH_PENALTIES.workerLost;
    // A fleet scaled to zero with nothing to do is fine; work waiting with no worker is not.
    if (h.fleet.alive === 0 && (h.gpuQueued ?? 0) > 0) score -= HEALTH_PENALTIES.noGpuCapacity;
  }
  score = Math.max(0, score);
  const criticalDown = h.dependencies.some((d) => !d.ok && (CRITICAL_DEPENDENCIES as readonly string[]).includes(d.name));
  const status: HealthStatus = criticalDown ? 'down' : score === 100 ? 'ok' : 'degraded';
  return { status, score };
}

export interface HealthScoreInputs {
  readonly breakers: readonly BreakerState[];
  /** Jobs past their status deadline (the watchdog's stale-job lookup). */
  readonly stuckJobs: number;
  /** Messages in the GPU dead-letter queue; null when unknown. */
  readonly dlqDepth: number | null;
  /** Recovered ÷ resolved recoverable failures over a recent window, 0..1; null when none resolved. */
  readonly recentRecoveryRate: number | null;
}

/** The design's recovery-rate floor: below it the pipeline is failing jobs it should save. */
export const RECOVERY_RATE_FLOOR = 0.9;

/** What a low recovery rate costs: a little under the floor, much more when most recoveries fail. */
export const RECOVERY_RATE_PENALTIES = { belowFloor: 15, belowHalf: 30 } as const;

const percent = (x: number) => `${Math.round(x * 1000) / 10} %`;

/**
 * A 0–100 score with the reason for every point lost, from what the watchdog and the
 * breakers observe (GET /health and the dashboard use it). Same penalties as healthOf.
 */
export function healthScore(h: HealthScoreInputs): { score: number; reasons: string[] } {
  let score = 100;
  const reasons: string[] = [];
  const lose = (points: number, reason: string) => {
    score -= points;
    reasons.push(reason);
  };
  for (const b of [...h.breakers].sort((a, c) => a.dependency.localeCompare(c.dependency))) {
    const failures = b.failures === undefined ? '' : ` after ${b.failures} consecutive failures`;
    if (b.state === 'open') lose(HEALTH_PENALTIES.breakerOpen, `circuit breaker of ${b.dependency} is open${failures}`);
    else if (b.state === 'half_open') lose(HEALTH_PENALTIES.breakerHalfOpen, `circuit breaker of ${b.dependency} is half-open (trial calls)`);
  }
  if (h.stuckJobs > 0) lose(HEALTH_PENALTIES.stuckJobs, `${h.stuckJobs} job${h.stuckJobs === 1 ? '' : 's'} stuck past the status deadline`);
  if ((h.dlqDepth ?? 0) > 0) lose(HEALTH_PENALTIES.deadLetters, `${h.dlqDepth} message${h.dlqDepth === 1 ? '' : 's'} in the GPU dead-letter queue`);
  const rate = h.recentRecoveryRate;
  if (rate !== null && rate < RECOVERY_RATE_FLOOR) {
    const points = rate < 0.5 ? RECOVERY_RATE_PENALTIES.belowHalf : RECOVERY_RATE_PENALTIES.belowFloor;
    lose(points, `recovery rate ${percent(rate)}, under ${percent(RECOVERY_RATE_FLOOR)}`);
  }
  return { score: Math.max(0, score), reasons };
}
