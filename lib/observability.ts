/**
 * Watching the pipeline (docs/architecture.md §3): the watchdog function on an EventBridge schedule,
 * the reconciler function on an EventBridge rule for FAILED / TIMED_OUT / ABORTED executions
 * of both machines, a CloudWatch dashboard (packs, jobs by status, recovery rate by error
 * name, GPU queue depth and age, dead letters, stuck jobs, circuit breakers, watchdog
 * actions) and alarms (dead letters, stuck jobs, recovery rate, failed executions, a
 * failing watchdog) that notify an encrypted, TLS-only SNS topic.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Alarm, AlarmStatusWidget, ComparisonOperator, Dashboard, GraphWidget, MathExpression, Metric, TextWidget, TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BREAKER_PROVIDERS } from '../core/breaker.ts';
import { METRICS, METRICS_NAMESPACE, SERVICE_NAME, type DimensionOf, type MetricName } from '../core/metrics.ts';
import { BUCKETS, STATE_MACHINES, TABLES } from '../core/resources.ts';
import { RECONCILED_STATUSES, WATCHED_STATUSES } from '../core/watchdog.ts';
import type { PipelineData, TableKey } from './data.ts';
import { PipelineFunction } from './pipeline-function.ts';
import { grantAccess } from './grants.ts';
import { RECOVERY_FUNCTION_ACCESS } from '../lambdas/catalog.ts';

export const WATCHDOG_ENTRY = 'lambdas/handlers/watchdog.ts';
export const RECONCILER_ENTRY = 'lambdas/handlers/reconciler.ts';

/**
 * Where the functions' EMF metrics land: adapters/logging.ts publishes in this
 * namespace with the default dimension service (both defined in core/metrics.ts).
 */
export { METRICS_NAMESPACE } from '../core/metrics.ts';
export const METRICS_SERVICE = SERVICE_NAME;


export interface PipelineObservabilityProps {
  /** Tables, bucket and queues. */
  readonly data: PipelineData;
  /** The machines watched and restarted (their names must be known at synth time). */
  readonly stateMachines: { readonly job: IStateMachine; readonly pack: IStateMachine };
  /**
   * How often the watchdog sweeps.
   * @default Duration.minutes(1)
   */
  readonly watchdogRate?: Duration;
  /**
   * Extra settings for the watchdog and reconciler: VTO_WATCHDOG_DEADLINES,
   * VTO_WATCHDOG_MAX_RESTARTS, VTO_WATCHDOG_RESTART_GAPS_MINUTES, VTO_WATCHDOG_MAX_JOBS,
   * VTO_BREAKER_* (adapters/watchdog-settings.ts, breaker-store.ts).
   * @default - none: the seed values
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * An address subscribed to the alarm topic (it must confirm the subscription).
   * @default - none: subscribe to the topic yourself
   */
  readonly alarmEmail?: string;
  /**
   * The recovery rate (percent, over the last hour) under which the recovery alarm fires.
   * @default 90
   */
  readonly recoveryRateThreshold?: number;
  /**
   * Minutes stuck jobs must persist before the stuck-jobs alarm fires.
   * @default 10
   */
  readonly stuckJobsMinutes?: number;
  /**
   * Failed or timed-out job executions in 5 minutes that raise the alarm (a job whose input
   * is unreadable fails for real, so a few are expected).
   * @default 10
   */
  readonly failedJobExecutionsThreshold?: number;
  /** @default - none */
  readonly layers?: readonly ILayerVersion[];
  /** @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

export class ObservabilityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ObservabilityError';
  }
}

/** One of the pipeline's own EMF metrics. */
export function pipelineMetric<N extends MetricName>(metricName: N, dimensions?: Readonly<Record<DimensionOf<N>, string>>, o: { statistic?: string; period?: Duration; label?: string } = {}): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: METRICS_SERVICE, ...(dimensions as Readonly<Record<string, string>> | undefined) },
    statistic: o.statistic ?? 'Maximum', period: o.period ?? Duration.minutes(1), ...(o.label !== undefined && { label: o.label }),
  });
}

/** Every series of a metric across its dimension values, as its definition declares them (dashboards only: alarms cannot use SEARCH). */
function search(metricName: MetricName, statistic: string, period: Duration, label: string): MathExpression {
  const keys = ['service', ...METRICS[metricName].dimensions].sort().join(',');
  return new MathExpression({
    expression: `SEARCH('{${METRICS_NAMESPACE},${keys}} MetricName="${metricName}" service="${METRICS_SERVICE}"', '${statistic}', ${period.toSeconds()})`,
    label, period,
  });
}

export class PipelineObservability extends Construct {
  public readonly watchdog: PipelineFunction;
  public readonly reconciler: PipelineFunction;
  public readonly schedule: Rule;
  public readonly statusChangeRule: Rule;
  public readonly alarmTopic: Topic;
  public readonly dashboard: Dashboard;
  public readonly alarms: {
    readonly deadLetters: Alarm;
    readonly stuckJobs: Alarm;
    readonly recoveryRate: Alarm;
    readonly failedPackExecutions: Alarm;
    readonly failedJobExecutions: Alarm;
    readonly watchdogErrors: Alarm;
  };

  constructor(scope: Construct, id: string, props: PipelineObservabilityProps) {
    super(scope, id);
    const { data, stateMachines } = props;
    const rate = props.watchdogRate ?? Duration.minutes(1);
    if (rate.toSeconds() < 60) throw new ObservabilityError('watchdogRate must be at least one minute (EventBridge schedules run at most once a minute)');

    // ------------------------------------------------------------ the functions
    const environment: Record<string, string> = {
      ...props.environment,
      [BUCKETS.artifacts.envVar]: data.artifacts.bucketName,
      [STATE_MACHINES.job.envVar]: stateMachines.job.stateMachineArn,
      [STATE_MACHINES.pack.envVar]: stateMachines.pack.stateMachineArn,
      VTO_WATCHDOG_PERIOD_SECONDS: String(rate.toSeconds()),
    };
    for (const key of Object.keys(TABLES) as TableKey[]) environment[TABLES[key].envVar] = data.tables[key].tableName;
    const common = {
      environment,
      layers: props.layers ?? [],
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...(props.logRemovalPolicy === undefined ? {} : { logRemovalPolicy: props.logRemovalPolicy }),
    };
    this.watchdog = new PipelineFunction(this, 'Watchdog', {
      entry: WATCHDOG_ENTRY,
      description: 'VTO watchdog: restarts or resets jobs stuck past their status deadline (bounded), settles packs, publishes gauges',
      // A sweep handles at most VTO_WATCHDOG_MAX_JOBS jobs, a few calls each, four at a time.
      timeoutSeconds: 180,
      ...common,
    });
    this.reconciler = new PipelineFunction(this, 'Reconciler', {
      entry: RECONCILER_ENTRY,
      description: 'VTO reconciler: brings DynamoDB in line with an execution that failed, timed out or was aborted, and restarts it (bounded)',
      timeoutSeconds: 60,
      ...common,
    });
    this.grantAccess(props);

    // ------------------------------------------------------------ EventBridge
    this.schedule = new Rule(this, 'WatchdogSchedule', {
      description: 'Runs the VTO watchdog sweep',
      schedule: Schedule.rate(rate),
      // A missed sweep is made up by the next one.
      targets: [new LambdaFunction(this.watchdog.function, { retryAttempts: 0 })],
    });
    this.statusChangeRule = new Rule(this, 'ExecutionStatusChange', {
      description: 'Sends failed, timed-out and aborted VTO executions to the reconciler',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...RECONCILED_STATUSES], stateMachineArn: [stateMachines.job.stateMachineArn, stateMachines.pack.stateMachineArn] },
      },
      // An event lost after these retries is found by the next watchdog sweep.
      targets: [new LambdaFunction(this.reconciler.function, { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });

    // ------------------------------------------------------------ alarms
    this.alarmTopic = this.topic(props.alarmEmail);
    const stuckMinutes = props.stuckJobsMinutes ?? 10;
    const machineFailures = (sm: IStateMachine, name: string) => new MathExpression({
      expression: 'failed + timedOut',
      usingMetrics: { failed: sm.metricFailed({ statistic: 'Sum' }), timedOut: sm.metricTimedOut({ statistic: 'Sum' }) },
      period: Duration.minutes(5),
      label: `${name} executions failed or timed out`,
    });
    const alarm = (alarmId: string, o: { metric: IMetric; threshold: number; comparison: ComparisonOperator; periods: number; description: string; missing?: TreatMissingData }) => {
      const a = new Alarm(this, alarmId, {
        metric: o.metric,
        threshold: o.threshold,
        comparisonOperator: o.comparison,
        evaluationPeriods: o.periods,
        datapointsToAlarm: o.periods,
        treatMissingData: o.missing ?? TreatMissingData.NOT_BREACHING,
        alarmDescription: o.description,
      });
      a.addAlarmAction(new SnsAction(this.alarmTopic));
      a.addOkAction(new SnsAction(this.alarmTopic));
      return a;
    };
    this.alarms = {
      deadLetters: alarm('DeadLettersAlarm', {
        metric: data.gpuDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
        threshold: 1, comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 1,
        description: 'GPU tasks reached the dead-letter queue: nobody finished them after repeated deliveries. Inspect and redrive.',
      }),
      stuckJobs: alarm('StuckJobsAlarm', {
        metric: pipelineMetric('StuckJobs'),
        threshold: 1, comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: stuckMinutes,
        description: `Jobs have stayed past their status deadline for ${stuckMinutes} minutes although the watchdog acts on them.`,
      }),
      recoveryRate: alarm('RecoveryRateAlarm', {
        metric: pipelineMetric('RecoveryRate', {}, { statistic: 'Average', period: Duration.minutes(5) }),
        threshold: props.recoveryRateThreshold ?? 90, comparison: ComparisonOperator.LESS_THAN_THRESHOLD, periods: 3,
        description: 'Under 90 % of recoverable failures recovered over the last hour (watchdog gauge from the recovery events).',
      }),
      failedPackExecutions: alarm('FailedPackExecutionsAlarm', {
        metric: machineFailures(stateMachines.pack, 'Pack'),
        threshold: 1, comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 1,
        description: 'A pack execution failed or timed out (one failed job never fails its pack: this is the pack machine itself).',
      }),
      failedJobExecutions: alarm('FailedJobExecutionsAlarm', {
        metric: machineFailures(stateMachines.job, 'Job'),
        threshold: props.failedJobExecutionsThreshold ?? 10, comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 1,
        description: 'Many job executions failed or timed out in 5 minutes.',
      }),
      watchdogErrors: alarm('WatchdogErrorsAlarm', {
        metric: this.watchdog.function.metricErrors({ statistic: 'Sum', period: Duration.minutes(1) }),
        threshold: 1, comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, periods: 3,
        description: 'The watchdog sweep has failed three minutes running: stuck jobs are not being recovered.',
      }),
    };

    // ------------------------------------------------------------ dashboard
    this.dashboard = this.buildDashboard(props);
  }

  private topic(email: string | undefined): Topic {
    // CloudWatch publishes to an encrypted topic only with a customer managed key it may use.
    const key = new Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the VTO alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(new PolicyStatement({
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    const topic = new Topic(this, 'AlarmTopic', { displayName: 'VTO pipeline alarms', masterKey: key, enforceSSL: true });
    if (email !== undefined) topic.addSubscription(new EmailSubscription(email));
    return topic;
  }

  /** Exactly what the watchdog's and the reconciler's code declares (lambdas/catalog.ts). */
  private grantAccess(props: PipelineObservabilityProps): void {
    const resources = { data: props.data, stateMachines: props.stateMachines };
    grantAccess(this.watchdog, RECOVERY_FUNCTION_ACCESS.watchdog, resources);
    grantAccess(this.reconciler, RECOVERY_FUNCTION_ACCESS.reconciler, resources);
  }

  private buildDashboard(props: PipelineObservabilityProps): Dashboard {
    const { data, stateMachines } = props;
    const minute = Duration.minutes(1);
    const five = Duration.minutes(5);
    const dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const pack = stateMachines.pack;
    dashboard.addWidgets(
      new TextWidget({
        markdown: '# VTO pipeline\nPacks and jobs, recoveries, the GPU queue, stuck jobs and circuit breakers. Gauges come from the watchdog sweep (every minute).',
        width: 24, height: 2,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Packs',
        width: 12,
        left: [
          pack.metricStarted({ statistic: 'Sum', period: five, label: 'started' }),
          pack.metricSucceeded({ statistic: 'Sum', period: five, label: 'finished' }),
          pack.metricFailed({ statistic: 'Sum', period: five, label: 'failed' }),
          pack.metricAborted({ statistic: 'Sum', period: five, label: 'stopped' }),
        ],
      }),
      new GraphWidget({
        title: 'Jobs by status',
        width: 12,
        stacked: true,
        left: WATCHED_STATUSES.map((status) => pipelineMetric('JobsByStatus', { status }, { label: status })),
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Recovery rate by error name (%, last hour)',
        width: 12,
        left: [
          pipelineMetric('RecoveryRate', {}, { statistic: 'Average', label: 'all recoverable errors' }),
          search('RecoveryRateByError', 'Average', minute, ''),
        ],
        leftYAxis: { min: 0, max: 100 },
        leftAnnotations: [{ value: props.recoveryRateThreshold ?? 90, label: 'alarm threshold' }],
      }),
      new GraphWidget({
        title: 'Recoveries by error, strategy and outcome',
        width: 12,
        left: [search('Recoveries', 'Sum', five, '')],
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'GPU queue: depth and oldest message age',
        width: 8,
        left: [
          data.gpuQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: minute, label: 'waiting' }),
          data.gpuQueue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', period: minute, label: 'in progress' }),
        ],
        right: [data.gpuQueue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: minute, label: 'oldest message age (s)' })],
      }),
      new GraphWidget({
        title: 'GPU dead-letter queue',
        width: 8,
        left: [data.gpuDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: minute, label: 'dead letters' })],
      }),
      new GraphWidget({
        title: 'Stuck jobs (past their status deadline)',
        width: 8,
        left: [pipelineMetric('StuckJobs', {}, { label: 'stuck jobs' })],
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Circuit breakers (0 closed, 1 half-open, 2 open)',
        width: 8,
        left: BREAKER_PROVIDERS.map((provider) => pipelineMetric('BreakerState', { provider }, { label: provider })),
        leftYAxis: { min: 0, max: 2 },
      }),
      new GraphWidget({
        title: 'Circuit breaker transitions',
        width: 8,
        left: [search('BreakerTransitions', 'Sum', five, '')],
      }),
      new GraphWidget({
        title: 'Watchdog and reconciler actions',
        width: 8,
        left: [search('WatchdogActions', 'Sum', five, '')],
      }),
    );
    dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: Object.values(this.alarms) }),
    );
    return dashboard;
  }
}
