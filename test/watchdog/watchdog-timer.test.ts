/** The offline stand-in for the watchdog's schedule never starts a sweep while one runs. */
import { describe, expect, it } from 'vitest';
import type { SweepReport } from '../../adapters/watchdog-sweep.ts';
import { startWatchdogTimer } from '../../local/recovery.ts';

const REPORT: SweepReport = { jobsByStatus: {}, stuck: 0, jobs: [], packs: [], breakers: [], recoveryRate: null };

describe('the offline watchdog timer', () => {
  it('runs one sweep at a time even when a sweep takes many periods', async () => {
    // Prepare: each sweep lasts five periods.
    const periodMs = 10;
    let running = 0;
    let most = 0;
    const timer = await startWatchdogTimer(periodMs, async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, periodMs * 5));
      running--;
      return REPORT;
    });
    try {
      // Act
      for (let i = 0; i < 4; i++) await timer.next();
    } finally {
      await timer.stop();
    }
    // Assess
    expect(timer.sweeps).toBeGreaterThanOrEqual(4);
    expect(most).toBe(1);
  });
});
