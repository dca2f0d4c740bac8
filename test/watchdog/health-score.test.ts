/** The health score from breakers, stuck jobs, dead letters and the recent recovery rate, with its reasons. */
import { describe, expect, it } from 'vitest';
import { healthScore, type HealthScoreInputs } from '../../core/health.ts';

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
