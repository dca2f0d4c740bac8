/**
 * The offline supervisor's restart bound as a pure decision, and the supervisor itself on
 * stand-in processes: it restarts what exits unasked, backs off, gives up past its bound,
 * and restarts nothing once stopped.
 */
import { describe, expect, it, vi } from 'vitest';
import { createSupervisor, nextRestart, type Supervised } from '../../local/supervisor.ts';
import { eventually } from '../support/eventually.ts';

const POLICY = { maxRestarts: 3, windowMs: 10_000, backoffMs: 100, maxBackoffMs: 250 };

describe('the restart bound', () => {
  it.each([
    { restartsAgo: [], expect: { kind: 'restart', delayMs: 100, restart: 1 } },
    { restartsAgo: [500], expect: { kind: 'restart', delayMs: 200, restart: 2 } },
    { restartsAgo: [900, 500], expect: { kind: 'restart', delayMs: 250, restart: 3 } },
    { restartsAgo: [900, 500, 100], expect: { kind: 'give-up', restarts: 3 } },
    { restartsAgo: [20_000, 15_000, 100], expect: { kind: 'restart', delayMs: 200, restart: 2 } },
  ])('after restarts $restartsAgo ms ago → $expect.kind', ({ restartsAgo, expect: want }) => {
    const now = 100_000;
    expect(nextRestart(restartsAgo.map((a) => now - a), now, POLICY)).toEqual(want);
  });
});

/** A stand-in process whose exit the test triggers. */
function fake(id: string, generation: number): Supervised & { generation: number; exit(): void } {
  let exit: () => void = () => undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => { exit = () => r({ code: null, signal: 'SIGKILL' }); });
  return { id, generation, exited, exit: () => exit() };
}

describe('the supervisor', () => {
  it('replaces a process that exits unasked, up to its bound, then gives up and says so', async () => {
    // Prepare
    const lines: Record<string, unknown>[] = [];
    let current = fake('w', 0);
    let generation = 0;
    const sup = createSupervisor<ReturnType<typeof fake>>({ policy: POLICY, log: (l) => lines.push(l), onReplaced: (_, next) => { current = next; } });
    sup.watch(current, async () => fake('w', ++generation));

    // Act: kill it four times; the bound allows three restarts in the window.
    for (let k = 1; k <= 3; k++) {
      current.exit();
      await eventually(() => current.generation, (g) => g === k, `restart ${k}`, { timeoutMs: 5000, everyMs: 10 });
    }
    current.exit();
    await eventually(() => lines.at(-1), (l) => l?.['supervisor'] === 'gave up', 'the supervisor to give up', { timeoutMs: 5000, everyMs: 10 });
    await sup.stop();

    // Assess
    expect(generation).toBe(3);
    expect(lines.filter((l) => l['supervisor'] === 'restarted')).toHaveLength(3);
    expect(lines.filter((l) => l['supervisor'] === 'exited unexpectedly; restarting').map((l) => l['inMs'])).toEqual([100, 200, 250]);
  });

  it('restarts nothing once stopped, and stops without waiting for live processes', async () => {
    // Prepare
    let started = 0;
    const p = fake('w', 0);
    const sup = createSupervisor<ReturnType<typeof fake>>({ policy: POLICY, log: () => undefined });
    sup.watch(p, async () => { started++; return fake('w', started); });

    // Act: the clock is the test's, so "three backoffs later" is a fact, not a guess.
    vi.useFakeTimers();
    try {
      await sup.stop();
      p.exit();
      await vi.advanceTimersByTimeAsync(POLICY.backoffMs * 3);
    } finally {
      vi.useRealTimers();
    }

    // Assess
    expect(started).toBe(0);
  });

  it('does not replace a released process (scale-in), and still replaces the others', async () => {
    // Prepare
    const lines: Record<string, unknown>[] = [];
    const a = fake('a', 0);
    const b = fake('b', 0);
    const started: string[] = [];
    const sup = createSupervisor<ReturnType<typeof fake>>({ policy: POLICY, log: (l) => lines.push(l) });
    sup.watch(a, async () => { started.push('a'); return fake('a', 1); });
    sup.watch(b, async () => { started.push('b'); return fake('b', 1); });

    // Act: a is stopped on purpose; b dies.
    sup.release(a);
    a.exit();
    b.exit();
    await eventually(() => started, (s) => s.includes('b'), 'b replaced', { timeoutMs: 5000, everyMs: 10 });
    await sup.stop();

    // Assess
    expect(started).toEqual(['b']);
    expect(lines.filter((l) => l['process'] === 'a')).toEqual([]);
  });
});
