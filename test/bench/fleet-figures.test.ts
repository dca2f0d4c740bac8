/** The fleet benchmark's billing arithmetic (bench/fleet-report.ts) on made-up runs. */
import { describe, expect, it } from 'vitest';
import { fleetFigures, INSTANCE, type FleetPrompt } from '../../bench/fleet-report.ts';

const s = (x: number) => x * 1000;
const warm = (a: number, b: number): FleetPrompt => ({ warmup: true, jobId: null, startedAt: s(a), endedAt: s(b) });
const job = (id: string, a: number, b: number): FleetPrompt => ({ warmup: false, jobId: id, startedAt: s(a), endedAt: s(b) });

describe('fleetFigures', () => {
  it('splits a host\'s billed time into cold start, warm-up, jobs and idle, and prices it per 1,000 jobs', () => {
    const f = fleetFigures({
      timeScale: 1, startAt: 0, endAt: s(100),
      jobs: [{ endedAt: s(52), status: 'complete' }, { endedAt: s(72), status: 'complete' }],
      hosts: [{ id: 'w1', launchedAt: 0, endedAt: s(100), prompts: [warm(30, 40), job('a', 40, 50), job('b', 60, 70)] }],
    });
    // Idle: 10 s between the two jobs, 30 s after the last one (waiting for scale-in).
    expect(f.billed).toEqual({ total: 100, coldStart: 30, warmup: 10, jobs: 20, idle: 40, idleBeforeFirstJob: 0, idleBetweenJobs: 10, idleAfterLastJob: 30 });
    expect(f.neededSeconds).toBe(20);
    expect(f.billedOverNeeded).toBe(5);
    // Steady window: from the host ready (40 s) to the last job start (60 s): 20 s billed, 10 s needed, 10 s idle between jobs.
    expect(f.steadyBilledOverNeeded).toBe(2);
    expect(f.steady).toEqual({
      fromSeconds: 40, toSeconds: 60, meanHosts: 1, needed: 10,
      total: 20, coldStart: 0, warmup: 0, jobs: 10, idle: 10, idleBeforeFirstJob: 0, idleBetweenJobs: 10, idleAfterLastJob: 0,
    });
    expect(f).toMatchObject({ firstResultSeconds: 52, lastResultSeconds: 72, hostsStarted: 1, peakHosts: 1, complete: 2 });
    expect(f.per1000).toEqual({ billedHours: 13.889, neededHours: 2.778, billedUsd: Math.round(13.8889 * INSTANCE.usdPerHour * 100) / 100, neededUsd: Math.round(2.7778 * INSTANCE.usdPerHour * 100) / 100 });
  });

  it('clips hosts to the window and reads pipeline seconds through the time scale', () => {
    // A warm host launched before the load (its cold start outside the window), a second one launched and stopped inside it.
    const f = fleetFigures({
      timeScale: 0.5, startAt: s(10), endAt: s(60),
      jobs: [{ endedAt: s(30), status: 'complete' }, { endedAt: null, status: 'failed' }],
      hosts: [
        { id: 'w1', launchedAt: 0, endedAt: null, prompts: [warm(2, 5), job('a', 20, 30)] },
        { id: 'w2', launchedAt: s(20), endedAt: s(40), prompts: [warm(30, 32), job('b', 32, 36)] },
      ],
    });
    // Real: w1 billed 50 s (10–60), w2 20 s; ×2 for pipeline seconds.
    // w1 waits 10 s of the window for its first job (the warm minimum before the load) and 30 s after its last.
    expect(f.billed).toEqual({ total: 140, coldStart: 20, warmup: 4, jobs: 28, idle: 88, idleBeforeFirstJob: 20, idleBetweenJobs: 0, idleAfterLastJob: 68 });
    expect(f.neededSeconds).toBe(28);
    expect(f.peakHosts).toBe(2);
    expect(f.firstResultSeconds).toBe(40);
    expect(f.complete).toBe(1);
  });

  it('reads the steady window of a two-host fleet: billed beyond needed is the idle between jobs', () => {
    const f = fleetFigures({
      timeScale: 1, startAt: 0, endAt: s(200),
      jobs: ['a', 'b', 'c', 'd'].map((_, i) => ({ endedAt: s(100 + i), status: 'complete' })),
      hosts: [
        { id: 'w1', launchedAt: 0, endedAt: s(200), prompts: [warm(10, 20), job('a', 20, 60), job('c', 60, 100)] },
        { id: 'w2', launchedAt: s(5), endedAt: s(150), prompts: [warm(15, 30), job('b', 40, 80), job('d', 90, 120)] },
      ],
    });
    // Peak 2 hosts, both ready at 30 s; last job start 90 s: 60 s × 2 billed, 60 + 50 needed, w2's 10 s before b and 10 s between b and d idle.
    expect(f.steady).toMatchObject({ fromSeconds: 30, toSeconds: 90, meanHosts: 2, total: 120, jobs: 100, needed: 100, idleBeforeFirstJob: 10, idleBetweenJobs: 10, idleAfterLastJob: 0 });
    expect(f.steadyBilledOverNeeded).toBe(1.2);
    expect(f.billed).toMatchObject({ total: 345, coldStart: 20, warmup: 25, jobs: 150, idleBeforeFirstJob: 10, idleBetweenJobs: 10, idleAfterLastJob: 130 });
  });
});
