/**
 * The offline stack's process supervisor, standing for what ECS or an Auto Scaling group
 * does on AWS: a GPU worker that exits without being asked (SIGKILL, crash) is started
 * again under the same id, after a backoff that doubles with each restart in a row, and at
 * most `maxRestarts` times per window, after which the supervisor gives up on it and says
 * so. Every decision is logged as one JSON line.
 */

export interface RestartPolicy {
  /** Restarts allowed per window before the supervisor gives up on the process. */
  readonly maxRestarts: number;
  readonly windowMs: number;
  /** Backoff before the first restart; doubles per restart within the window, up to maxBackoffMs. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

export type RestartDecision = { readonly kind: 'restart'; readonly delayMs: number; readonly restart: number } | { readonly kind: 'give-up'; readonly restarts: number };

/** What to do after an unexpected exit at `now`, given the earlier restarts' times. */
export function nextRestart(restartsAt: readonly number[], now: number, p: RestartPolicy): RestartDecision {
  const recent = restartsAt.filter((t) => now - t < p.windowMs).length;
  if (recent >= p.maxRestarts) return { kind: 'give-up', restarts: recent };
  return { kind: 'restart', delayMs: Math.min(p.maxBackoffMs, p.backoffMs * 2 ** recent), restart: recent + 1 };
}

/** A process the supervisor can watch: it tells when it exits. */
export interface Supervised {
  readonly id: string;
  /** Resolves when the process has exited, with how. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export type SupervisorLog = (line: Record<string, unknown>) => void;

export interface Supervisor<T extends Supervised> {
  /** Watches a process; `start` starts its replacement, which is watched in turn. */
  watch(process: T, start: () => Promise<T>): void;
  /** The process is being stopped on purpose (scale-in): its exit is not a death and is not replaced. */
  release(process: T): void;
  /** Stops watching: exits from now on are expected (the stack is stopping). */
  stop(): Promise<void>;
}

export function createSupervisor<T extends Supervised>(o: {
  policy: RestartPolicy;
  log: SupervisorLog;
  /** Told of each replacement once it runs. */
  onReplaced?: (previous: T, next: T) => void;
  now?: () => number;
}): Supervisor<T> {
  const now = o.now ?? Date.now;
  const history = new Map<string, number[]>();
  const pending = new Set<Promise<void>>();
  const sleeping = new Set<() => void>();
  const released = new WeakSet<T>();
  let stopping = false;

  const watch = (p: T, start: () => Promise<T>): void => {
    void p.exited.then(({ code, signal }) => {
      if (stopping || released.has(p)) return;
      // Only restarts under way are awaited on stop: a live process's exit may never come.
      const task = restart(p, start, code, signal);
      pending.add(task);
      void task.finally(() => pending.delete(task));
    });
  };

  const restart = async (p: T, start: () => Promise<T>, code: number | null, signal: NodeJS.Signals | null): Promise<void> => {
    const at = now();
    const restarts = history.get(p.id) ?? [];
    const d = nextRestart(restarts, at, o.policy);
    if (d.kind === 'give-up') {
      o.log({ supervisor: 'gave up', process: p.id, code, signal, restartsInWindow: d.restarts, windowMs: o.policy.windowMs });
      return;
    }
    o.log({ supervisor: 'exited unexpectedly; restarting', process: p.id, code, signal, restart: d.restart, inMs: d.delayMs });
    await new Promise<void>((resolve) => {
      const wake = () => { clearTimeout(t); sleeping.delete(wake); resolve(); };
      const t = setTimeout(wake, d.delayMs);
      sleeping.add(wake);
    });
    if (stopping) return;
    history.set(p.id, [...restarts.filter((t) => at - t < o.policy.windowMs), at]);
    try {
      const next = await start();
      o.log({ supervisor: 'restarted', process: next.id, afterMs: now() - at });
      o.onReplaced?.(p, next);
      if (stopping) return;
      watch(next, start);
    } catch (e) {
      o.log({ supervisor: 'restart failed', process: p.id, error: e instanceof Error ? e.message : String(e) });
      // A failed start is an exit too: the bound still applies.
      watch({ ...p, exited: Promise.resolve({ code: null, signal: null }) } as T, start);
    }
  };

  return {
    watch,
    release(p) {
      released.add(p);
    },
    async stop() {
      stopping = true;
      for (const wake of [...sleeping]) wake();
      await Promise.allSettled([...pending]);
    },
  };
}
