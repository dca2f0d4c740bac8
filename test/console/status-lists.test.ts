/**
 * The console's own status words against core/status.ts: the lists it takes from /config
 * are the server's, and what it keeps for presentation (the progress bar's order, the
 * labels) names every status there is and no other.
 */
import { describe, expect, it } from 'vitest';
import { appConfig } from '../../console/server/app-config.ts';
import { CANCELLABLE_PACK_STATUSES, JOB_STATUSES, PACK_STATUSES, TERMINAL_JOB_STATUSES, TERMINAL_PACK_STATUSES } from '../../core/status.ts';

interface StatusModule {
  JOB_STATUSES: string[]; TERMINAL_PACK: string[]; TERMINAL_JOB: string[]; CANCELLABLE_PACK: string[]; PROGRESS_ORDER: string[];
  useStatuses(config: ReturnType<typeof appConfig>): void;
  LABELS: Record<string, string>;
}
// A browser module, imported as it is (it touches no DOM at load).
const STATUS_MODULE: string = '../../console/app/status.js';
const status = (await import(STATUS_MODULE)) as StatusModule;

describe('the console\'s status lists', () => {
  it('takes its lists from the server\'s config, which serves core/status.ts', () => {
    // Act
    status.useStatuses(appConfig({ mode: 'offline', region: 'us-east-1', apiUrl: 'http://api' } as never));
    // Assess
    expect(status.JOB_STATUSES).toEqual([...JOB_STATUSES]);
    expect(status.TERMINAL_JOB).toEqual([...TERMINAL_JOB_STATUSES]);
    expect(status.TERMINAL_PACK).toEqual([...TERMINAL_PACK_STATUSES]);
    expect(status.CANCELLABLE_PACK).toEqual([...CANCELLABLE_PACK_STATUSES]);
  });

  it('orders the progress bar over every job status, each once', () => {
    expect([...status.PROGRESS_ORDER].sort()).toEqual([...JOB_STATUSES].sort());
  });

  it('has a label for every job and pack status (and the recovery outcome it also shows)', () => {
    expect(Object.keys(status.LABELS).sort()).toEqual([...new Set<string>([...JOB_STATUSES, ...PACK_STATUSES, 'recovered'])].sort());
  });
});
