/** The health score from breakers, stuck jobs, dead letters and the recent recovery rate, with its reasons. */
import { describe, expect, it } from 'vitest';
import { HEALTH_PENALTIES, fleetOf, healthOf, healthScore, type HealthScoreInputs } from '../../core/health.ts';

const HEALTHY: HealthScoreInputs = {
  breakers: [{ dependency: 'comfyui', state: 'closed' }, { dependency: 'segmentation', state: 'closed' }],
  stuckJobs: 0,
  dlqDepth: 0,
  recentRecoveryRate: 1,
};

describe('the health score', () => {
  it.each([
    { name: 'all well', over: {}, score: 100, reasons: [] },
    { name: 'no recovery resolved yet, depth unknown', over: { recentRecoveryRate: null, dlqDepth: null }, score: 100, reasons: [] },
    {
      name: 'an open breaker',
      over: { breakers: [{ dependency: 'segmentation', state: 'open' as const, failures: 5 }] },
      score: 85, reasons: ['circuit breaker of segmentation is open after 5 consecutive failures'],
    },
    {
      name: 'a half-open breaker',
      over: { breakers: [{ dependency: 'analyzer', state: 'half_open' as const }] },
      score: 95, reasons: ['circuit breaker of analyzer is half-open (trial calls)'],
    },
    { name: 'one stuck job', over: { stuckJobs: 1 }, score: 90, reasons: ['1 job stuck past the status deadline'] },
    { name: 'dead letters', over: { dlqDepth: 3 }, score: 90, reasons: ['3 messages in the GPU dead-letter queue'] },
    { name: 'recovery rate just under 90 %', over: { recentRecoveryRate: 0.85 }, score: 85, reasons: ['recovery rate 85 %, under 90 %'] },
    { name: 'recovery rate at 90 %', over: { recentRecoveryRate: 0.9 }, score: 100, reasons: [] },
    { name: 'most recoveries failing', over: { recentRecoveryRate: 0.4 }, score: 70, reasons: ['recovery rate 40 %, under 90 %'] },
  ])('$name → $score', ({ over, score, reasons }) => {
    // Act
    const h = healthScore({ ...HEALTHY, ...over });

    // Assess
    expect(h).toEqual({ score, reasons });
  });

  it('adds every problem up, names each, and never goes below 0', () => {
    // Prepare
    const breakers = ['comfyui', 'hosted-inpaint', 'segmentation', 'analyzer'].map((dependency) => ({ dependency, state: 'open' as const }));

    // Act
    const h = healthScore({ breakers, stuckJobs: 12, dlqDepth: 1, recentRecoveryRate: 0.1 });

    // Assess
    expect(h.score).toBe(0);
    expect(h.reasons).toHaveLength(7);
    expect(h.reasons[0]).toBe('circuit breaker of analyzer is open');
  });
});

describe('the GPU fleet in the health', () => {
  const NOW = Date.parse('2026-03-01T12:00:00Z');
  const presence = (workerId: string, expiresInMs: number, slots = 4) => ({ workerId, host: `gpu-${workerId}:8188`, slots, seenAt: new Date(NOW).toISOString(), expiresAt: NOW + expiresInMs });
  const base = { dependencies: [], breakers: [], emergencyStopped: false, stuckJobs: 0, deadLetterDepth: 0 };

  it('counts a fresh presence alive, a lapsed one lost until it is forgotten', () => {
    // Act
    const f = fleetOf([presence('b', 1000), presence('a', -1000), presence('c', -60_001)], NOW, 60_000);

    // Assess
    expect(f).toMatchObject({ alive: 1, lost: 1, slots: 4 });
    expect(f.workers.map((w) => [w.workerId, w.state])).toEqual([['a', 'lost'], ['b', 'alive']]);
  });

  it.each([
    { name: 'a whole fleet', fleet: [presence('a', 1000), presence('b', 1000)], queued: 5, status: 'ok', score: 100 },
    { name: 'one worker lost', fleet: [presence('a', 1000), presence('b', -1000)], queued: 5, status: 'degraded', score: 100 - HEALTH_PENALTIES.workerLost },
    { name: 'a fleet scaled to zero with nothing queued', fleet: [], queued: 0, status: 'ok', score: 100 },
    { name: 'work queued and no worker alive', fleet: [], queued: 3, status: 'degraded', score: 100 - HEALTH_PENALTIES.noGpuCapacity },
    { name: 'every worker lost with work queued', fleet: [presence('a', -1000), presence('b', -1000)], queued: 3, status: 'degraded', score: 100 - 2 * HEALTH_PENALTIES.workerLost - HEALTH_PENALTIES.noGpuCapacity },
  ])('$name → $status, $score', ({ fleet, queued, status, score }) => {
    // Act
    const h = healthOf({ ...base, fleet: fleetOf(fleet, NOW, 60_000), gpuQueued: queued });

    // Assess
    expect(h).toEqual({ status, score });
  });

  it('scores an open breaker of one ComfyUI host like any breaker, leaving the other hosts out of it', () => {
    // Act
    const h = healthOf({ ...base, breakers: [{ dependency: 'comfyui#gpu-a:8188', state: 'open' }, { dependency: 'comfyui#gpu-b:8188', state: 'closed' }] });

    // Assess
    expect(h).toEqual({ status: 'degraded', score: 100 - HEALTH_PENALTIES.breakerOpen });
  });
});
