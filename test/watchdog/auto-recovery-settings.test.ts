/**
 * Auto-recovery's own breaker is configured, not constant: VTO_AUTO_RECOVERY_FAILURE_THRESHOLD
 * and VTO_AUTO_RECOVERY_COOLDOWN_SECONDS, parsed by the watchdog's settings schema, scaled
 * like every wait, checked at synth as the context keys autoRecoveryFailureThreshold and
 * autoRecoveryCooldownSeconds.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLOSED_BREAKER, fail, type Breaker } from '../../core/breaker.ts';
import { autoRecoveryAdmits, deferredSettings } from '../../core/deferred-recovery.ts';
import { WatchdogSettingsError, watchdogSettingsFromEnv } from '../../adapters/watchdog-settings.ts';
import { DEPLOY_SETTINGS, DeploySettingError, settingsEnvironment } from '../../lib/settings.ts';

describe('auto-recovery breaker settings', () => {
  it('default to the seed\'s 5 failed re-runs and 15 minutes', () => {
    const w = watchdogSettingsFromEnv({});
    expect(w.autoRecoveryBreaker).toEqual({ failureThreshold: 5, cooldownSeconds: 900 });
    expect(deferredSettings(w).breaker).toMatchObject({ failureThreshold: 5, openMs: 900_000, halfOpenMaxCalls: 1 });
  });

  it('are read from the environment, the cooldown scaled by VTO_TIME_SCALE, and the breaker follows them', () => {
    const w = watchdogSettingsFromEnv({ VTO_AUTO_RECOVERY_FAILURE_THRESHOLD: '2', VTO_AUTO_RECOVERY_COOLDOWN_SECONDS: '600', VTO_TIME_SCALE: '0.05' });
    const s = deferredSettings(w);
    expect(s.breaker).toMatchObject({ failureThreshold: 2, openMs: 30_000 });
    // Two failed re-runs pause auto-recovery; it tries again once the scaled cooldown has passed.
    let b: Breaker = CLOSED_BREAKER;
    b = fail(b, 0, s.breaker).breaker;
    expect(autoRecoveryAdmits(b, 1, s).allowed).toBe(true);
    b = fail(b, 1, s.breaker).breaker;
    expect(autoRecoveryAdmits(b, 2, s)).toMatchObject({ allowed: false, reason: expect.stringMatching(/paused after 2 consecutive failed re-runs/) });
    expect(autoRecoveryAdmits(b, 1 + 30_000, s).allowed).toBe(true);
  });

  it.each([
    ['VTO_AUTO_RECOVERY_FAILURE_THRESHOLD', '0', /VTO_AUTO_RECOVERY_FAILURE_THRESHOLD: /],
    ['VTO_AUTO_RECOVERY_FAILURE_THRESHOLD', 'five', /VTO_AUTO_RECOVERY_FAILURE_THRESHOLD: /],
    ['VTO_AUTO_RECOVERY_COOLDOWN_SECONDS', '-1', /VTO_AUTO_RECOVERY_COOLDOWN_SECONDS: /],
  ])('refuse %s=%s naming the variable', (key, value, expected) => {
    expect(() => watchdogSettingsFromEnv({ [key]: value })).toThrow(WatchdogSettingsError);
    expect(() => watchdogSettingsFromEnv({ [key]: value })).toThrow(expected);
  });

  it('are deploy-time context keys, checked at synth and listed in cdk.json', () => {
    expect(settingsEnvironment({ autoRecoveryFailureThreshold: '3', autoRecoveryCooldownSeconds: '1200' })).toEqual({
      VTO_AUTO_RECOVERY_FAILURE_THRESHOLD: '3', VTO_AUTO_RECOVERY_COOLDOWN_SECONDS: '1200',
    });
    expect(() => settingsEnvironment({ autoRecoveryFailureThreshold: '0' })).toThrow(DeploySettingError);
    expect(() => settingsEnvironment({ autoRecoveryCooldownSeconds: 'soon' })).toThrow(/context autoRecoveryCooldownSeconds \(VTO_AUTO_RECOVERY_COOLDOWN_SECONDS\) is invalid/);
    const context = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, string> }).context;
    expect(Object.keys(context)).toEqual(expect.arrayContaining(['autoRecoveryFailureThreshold', 'autoRecoveryCooldownSeconds']));
    expect(DEPLOY_SETTINGS.autoRecoveryFailureThreshold.env).toBe('VTO_AUTO_RECOVERY_FAILURE_THRESHOLD');
  });
});
