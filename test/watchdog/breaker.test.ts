/**
 * The circuit breaker's rules with an injected clock: opens after 5 consecutive failures,
 * refuses while open, half-opens after its timeout, admits at most 3 trials, closes after a
 * success, opens again on a failed trial.
 */
import { describe, expect, it } from 'vitest';
import {
  CLOSED_BREAKER, DEFAULT_BREAKER_SETTINGS, admit, checkBreakerSettings, fail, succeed, type Breaker, type BreakerStep,
} from '../../core/breaker.ts';

const S = DEFAULT_BREAKER_SETTINGS;
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Replays events on a breaker; returns every step. */
function replay(events: readonly ('call' | 'ok' | 'fail')[], at: (i: number) => number, start: Breaker = CLOSED_BREAKER): BreakerStep[] {
  let b = start;
  return events.map((e, i) => {
    const rule = e === 'call' ? admit : e === 'ok' ? succeed : fail;
    const step = rule(b, at(i), S);
    b = step.breaker;
    return step;
  });
}

const opened = (failures = 5): Breaker => ({ state: 'open', failures, openedAt: T0, trials: 0, trialsAt: null });

describe('a closed breaker', () => {
  it('opens on the fifth consecutive failure, not before', () => {
    // Act
    const steps = replay(['fail', 'fail', 'fail', 'fail', 'fail'], () => T0);

    // Assess
    expect(steps.map((s) => s.breaker.state)).toEqual(['closed', 'closed', 'closed', 'closed', 'open']);
    expect(steps[4]).toMatchObject({ transition: { from: 'closed', to: 'open' }, breaker: { failures: 5, openedAt: T0 } });
  });

  it('counts consecutive failures only: a success starts the count again', () => {
    // Act
    const steps = replay(['fail', 'fail', 'fail', 'fail', 'ok', 'fail', 'fail', 'fail', 'fail'], () => T0);

    // Assess
    expect(steps.at(-1)!.breaker).toMatchObject({ state: 'closed', failures: 4 });
  });

  it('admits calls without writing anything', () => {
    // Act
    const step = admit(CLOSED_BREAKER, T0, S);

    // Assess
    expect(step).toMatchObject({ allowed: true, changed: false, transition: null });
  });
});

describe('an open breaker', () => {
  it.each([
    { after: 0, allowed: false },
    { after: 299_999, allowed: false },
    { after: 300_000, allowed: true },
    { after: 900_000, allowed: true },
  ])('$after ms after opening admits a call: $allowed', ({ after, allowed }) => {
    // Act
    const step = admit(opened(), T0 + after, S);

    // Assess
    expect(step.allowed).toBe(allowed);
    if (allowed) expect(step).toMatchObject({ transition: { from: 'open', to: 'half_open' }, breaker: { state: 'half_open', trials: 1 } });
    else expect(step).toMatchObject({ changed: false, retryAt: T0 + 300_000 });
  });

  it('ignores a late success of a call admitted before it opened', () => {
    // Act
    const step = succeed(opened(), T0 + 10, S);

    // Assess
    expect(step.breaker.state).toBe('open');
  });

  it('counts further failures but keeps its opening time', () => {
    // Act
    const step = fail(opened(), T0 + 1000, S);

    // Assess
    expect(step.breaker).toMatchObject({ state: 'open', failures: 6, openedAt: T0 });
  });
});

describe('a half-open breaker', () => {
  const halfOpenAt = T0 + 300_000;

  it('admits at most 3 trial calls while none has reported', () => {
    // Act
    const steps = replay(['call', 'call', 'call', 'call', 'call'], () => halfOpenAt, opened());

    // Assess
    expect(steps.map((s) => s.allowed)).toEqual([true, true, true, false, false]);
    expect(steps.at(-1)!.breaker).toMatchObject({ state: 'half_open', trials: 3 });
  });

  it('closes after a trial succeeds, and then admits freely', () => {
    // Act
    const steps = replay(['call', 'ok', 'call', 'call', 'call', 'call'], () => halfOpenAt, opened());

    // Assess
    expect(steps[1]).toMatchObject({ transition: { from: 'half_open', to: 'closed' }, breaker: CLOSED_BREAKER });
    expect(steps.slice(2).every((s) => s.allowed)).toBe(true);
  });

  it('opens again when a trial fails, and waits a full timeout from then', () => {
    // Act
    const steps = replay(['call', 'fail', 'call'], (i) => halfOpenAt + i * 1000, opened());

    // Assess
    expect(steps[1]).toMatchObject({ transition: { from: 'half_open', to: 'open' }, breaker: { state: 'open', openedAt: halfOpenAt + 1000 } });
    expect(steps[2]).toMatchObject({ allowed: false, retryAt: halfOpenAt + 1000 + 300_000 });
  });

  it('renews its trials when the admitted ones never report within a timeout', () => {
    // Prepare
    const stuck: Breaker = { state: 'half_open', failures: 5, openedAt: T0, trials: 3, trialsAt: halfOpenAt };

    // Act
    const early = admit(stuck, halfOpenAt + 299_999, S);
    const late = admit(stuck, halfOpenAt + 300_000, S);

    // Assess
    expect(early.allowed).toBe(false);
    expect(late).toMatchObject({ allowed: true, breaker: { trials: 1, trialsAt: halfOpenAt + 300_000 } });
  });
});

describe('breaker settings', () => {
  it.each([
    { failureThreshold: 0, openMs: 1, halfOpenMaxCalls: 1 },
    { failureThreshold: 1, openMs: -1, halfOpenMaxCalls: 1 },
    { failureThreshold: 1, openMs: 1, halfOpenMaxCalls: 0 },
    { failureThreshold: 1.5, openMs: 1, halfOpenMaxCalls: 1 },
  ])('refuses a breaker that could never open or never recover: %o', (s) => {
    expect(() => checkBreakerSettings(s)).toThrow(RangeError);
  });

  it('takes configured values', () => {
    // Prepare
    const s = { failureThreshold: 2, openMs: 10, halfOpenMaxCalls: 1 };

    // Act
    let b = fail(CLOSED_BREAKER, T0, s).breaker;
    b = fail(b, T0, s).breaker;
    const refused = admit(b, T0 + 9, s);
    const trial = admit(b, T0 + 10, s);
    const second = admit(trial.breaker, T0 + 10, s);

    // Assess
    expect([b.state, refused.allowed, trial.allowed, second.allowed]).toEqual(['open', false, true, false]);
  });
});
