/**
 * The pipeline's CloudWatch metrics, defined once: the namespace, the service dimension
 * every function adds, and each metric's unit and dimensions. The Lambda emitters
 * (adapters/metrics.ts) and the dashboard and alarms (lib/observability.ts) read
 * them, so a name changes in one place. Units are CloudWatch's unit names.
 */

/** The metrics namespace (POWERTOOLS_METRICS_NAMESPACE of every function). */
export const METRICS_NAMESPACE = 'VTO';
/** The service: the logs' `service` field and the metrics' `service` dimension. */
export const SERVICE_NAME = 'vto-pipeline';

export type MetricUnitName = 'Count' | 'Percent' | 'Milliseconds' | 'None';

export interface MetricDefinition {
  readonly unit: MetricUnitName;
  /** Dimensions besides `service`, in the order the dashboard's SEARCH lists them. */
  readonly dimensions: readonly string[];
}

export const METRICS = {
  // The watchdog's sweep (adapters/watchdog-sweep.ts).
  JobsByStatus: { unit: 'Count', dimensions: ['status'] },
  StuckJobs: { unit: 'Count', dimensions: [] },
  /** 0 closed, 1 half-open, 2 open. */
  BreakerState: { unit: 'None', dimensions: ['provider'] },
  RecoveryRate: { unit: 'Percent', dimensions: [] },
  RecoveryRateByError: { unit: 'Percent', dimensions: ['error'] },
  WatchdogSkipped: { unit: 'Count', dimensions: [] },
  WatchdogActions: { unit: 'Count', dimensions: ['action', 'source'] },
  DeferredReruns: { unit: 'Count', dimensions: ['outcome'] },
  // The recovery ledger (adapters/ledger.ts).
  Recoveries: { unit: 'Count', dimensions: ['error', 'outcome', 'strategy'] },
  TimeToRecover: { unit: 'Milliseconds', dimensions: ['error', 'outcome', 'strategy'] },
  BreakerTransitions: { unit: 'Count', dimensions: ['provider', 'state'] },
  LifecycleEventsLost: { unit: 'Count', dimensions: [] },
  // The state functions (lambdas/state/state-handler.ts) and the API.
  StageSucceeded: { unit: 'Count', dimensions: [] },
  StageFailed: { unit: 'Count', dimensions: [] },
  StageFailures: { unit: 'Count', dimensions: ['error', 'function'] },
  ApiFaults: { unit: 'Count', dimensions: ['operation'] },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRICS;
export type DimensionOf<N extends MetricName> = (typeof METRICS)[N]['dimensions'][number];
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];
