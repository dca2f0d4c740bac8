/**
 * What the app needs to know about its server and the domain, served as
 * /console/api/config: whether execution histories and lifecycle events are local, and the taxonomy
 * (family, recoverability, strategy, description of each error name), the status lists and the stages,
 * so the pages explain an error name without a copy of the table.
 */
import { STAGES } from '../../core/strategies.ts';
import { ERROR_NAMES, STRATEGIES, entryFor } from '../../core/taxonomy.ts';
import { CANCELLABLE_PACK_STATUSES, JOB_STATUSES, PACK_STATUSES, TERMINAL_JOB_STATUSES, TERMINAL_PACK_STATUSES } from '../../core/status.ts';
import type { ConsoleTarget } from './target.ts';

export function appConfig(target: ConsoleTarget) {
  return {
    mode: target.mode,
    region: target.region,
    api: target.apiUrl,
    localHistory: target.stepFunctionsUrl !== undefined,
    localEvents: target.eventsUrl !== undefined,
    jobStatuses: JOB_STATUSES,
    packStatuses: PACK_STATUSES,
    terminalJobStatuses: TERMINAL_JOB_STATUSES,
    terminalPackStatuses: TERMINAL_PACK_STATUSES,
    cancellablePackStatuses: CANCELLABLE_PACK_STATUSES,
    strategies: STRATEGIES,
    stages: STAGES,
    taxonomy: Object.fromEntries(ERROR_NAMES.map((name) => {
      const e = entryFor(name);
      return [name, { family: e.family, recoverable: e.recoverable, strategy: e.strategy, maxAttempts: e.maxStrategyAttempts, description: e.description }];
    })),
  };
}
