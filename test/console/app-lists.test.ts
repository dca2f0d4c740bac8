/**
 * The console's own lists against the one list each copies nothing from: what it takes from
 * /config (statuses, stages) is the server's, from core/; what it keeps for presentation
 * (the progress bar's order, the words for statuses, strategies, parameters and the
 * classifier's choices) names every value there is and no other.
 */
import { describe, expect, it } from 'vitest';
import { appConfig } from '../../console/server/app-config.ts';
import { inpaintParamsSchema } from '../../core/params.ts';
import { CANCELLABLE_PACK_STATUSES, JOB_STATUSES, PACK_STATUSES, TERMINAL_JOB_STATUSES, TERMINAL_PACK_STATUSES } from '../../core/status.ts';
import { STAGES } from '../../core/strategies.ts';
import { STRATEGIES } from '../../core/taxonomy.ts';
import { RECORDED_ACTIONS, taughtPatternSchema } from '../../lambdas/api/classifier-schemas.ts';

interface StatusModule {
  JOB_STATUSES: string[]; TERMINAL_PACK: string[]; TERMINAL_JOB: string[]; CANCELLABLE_PACK: string[]; PROGRESS_ORDER: string[];
  useStatuses(config: ReturnType<typeof appConfig>): void;
  LABELS: Record<string, string>;
}
// Browser modules, imported as they are (they touch no DOM at load); a variable path keeps
// TypeScript from typing plain JavaScript.
const app = async <T>(name: string): Promise<T> => (await import(`../../console/app/${name}.js`)) as T;
const status = await app<StatusModule>('status');
const { STRATEGY_LABELS } = await app<{ STRATEGY_LABELS: Record<string, string> }>('strategies');
const { PARAM_ORDER, PARAM_LABELS } = await app<{ PARAM_ORDER: string[]; PARAM_LABELS: Record<string, string> }>('job-page');
const { RECORDED, MATCH } = await app<{ RECORDED: [string, string][]; MATCH: [string, string][] }>('classifier-page');

const config = appConfig({ mode: 'offline', region: 'us-east-1', apiUrl: 'http://api' } as never);
const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('the console\'s status lists', () => {
  it('takes its lists from the server\'s config, which serves core/status.ts', () => {
    // Act
    status.useStatuses(config);
    // Assess
    expect(status.JOB_STATUSES).toEqual([...JOB_STATUSES]);
    expect(status.TERMINAL_JOB).toEqual([...TERMINAL_JOB_STATUSES]);
    expect(status.TERMINAL_PACK).toEqual([...TERMINAL_PACK_STATUSES]);
    expect(status.CANCELLABLE_PACK).toEqual([...CANCELLABLE_PACK_STATUSES]);
  });

  it('orders the progress bar over every job status, each once', () => {
    expect(sorted(status.PROGRESS_ORDER)).toEqual(sorted(JOB_STATUSES));
  });

  it('has a label for every job and pack status (and the recovery outcome it also shows)', () => {
    expect(sorted(Object.keys(status.LABELS))).toEqual(sorted(new Set<string>([...JOB_STATUSES, ...PACK_STATUSES, 'recovered'])));
  });
});

describe('the console\'s other lists', () => {
  it('offers the classifier page the stages of core/strategies.ts through the config', () => {
    expect(config.stages).toEqual([...STAGES]);
  });

  it('has words for every recovery strategy of the taxonomy, and no other', () => {
    expect(sorted(Object.keys(STRATEGY_LABELS))).toEqual(sorted(STRATEGIES));
    expect(config.strategies).toEqual([...STRATEGIES]);
  });

  it('orders and names every inpaint parameter, each once', () => {
    const params = sorted(Object.keys(inpaintParamsSchema.shape));
    expect(sorted(PARAM_ORDER)).toEqual(params);
    expect(sorted(Object.keys(PARAM_LABELS))).toEqual(params);
  });

  it('offers every choice the pattern routes accept for the recorded failures and the match, each once', () => {
    expect(sorted(RECORDED.map(([v]) => v))).toEqual(sorted(RECORDED_ACTIONS));
    expect(sorted(MATCH.map(([v]) => v))).toEqual(sorted(taughtPatternSchema.shape.match.options));
  });
});
