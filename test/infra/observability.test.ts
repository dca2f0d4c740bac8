/**
 * The watchdog, reconciler, dashboard and alarms in the synthesized VtoStack: the schedule
 * and the status-change rule, the dashboard's widgets, the alarms' metrics and thresholds,
 * the encrypted TLS-only alarm topic, least-privilege grants, and the metric names and
 * dimensions the functions really publish. (cdk-nag over the whole app: stack.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnElement, Duration, type AppProps } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC_NAMES, METRICS, type MetricName } from '../../core/metrics.ts';
import { metrics } from '../../adapters/logging.ts';
import { addPoint } from '../../adapters/metric-points.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE, ObservabilityError, RECONCILER_ENTRY, WATCHDOG_ENTRY } from '../../lib/observability.ts';
import { VtoStack, type VtoStackProps } from '../../lib/stack.ts';

type Json = Record<string, unknown>;

const outRoot = mkdtempSync(join(tmpdir(), 'vto-obs-'));
let apps = 0;
const appProps = (): AppProps => ({ outdir: join(outRoot, `app-${++apps}`), context: { 'aws:cdk:bundling-stacks': [] } });
const newStack = (props: VtoStackProps = {}) => new VtoStack(new App(appProps()), 'Test', props);
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

const logicalId = (stack: VtoStack, c: IConstruct) => {
  const el = c instanceof CfnElement ? c : c.node.defaultChild;
  if (!(el instanceof CfnElement)) throw new TypeError(`${c.node.path} has no CloudFormation element`);
  return stack.resolve(el.logicalId) as string;
};
const resourcesOf = (t: Template, type: string) => Object.entries(t.findResources(type)) as [string, { Properties: Json }][];
const statementsOf = (t: Template, roleLogicalId: string): Json[] =>
  resourcesOf(t, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties['Roles']).includes(`"${roleLogicalId}"`))
    .flatMap(([, p]) => (p.Properties['PolicyDocument'] as { Statement: Json[] }).Statement);

describe('the observability of the default stack', () => {
  let stack: VtoStack;
  let template: Template;
  let alarms: [string, { Properties: Json }][];
  beforeAll(() => {
    stack = newStack();
    template = Template.fromStack(stack);
    alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
  });

  const fnId = (which: 'watchdog' | 'reconciler') => logicalId(stack, stack.observability[which].function);
  const alarm = (name: keyof VtoStack['observability']['alarms']) => {
    const found = alarms.find(([id]) => id === logicalId(stack, stack.observability.alarms[name]));
    if (!found) throw new Error(`no alarm ${name}`);
    return found[1].Properties;
  };

  it('runs the watchdog every minute from an EventBridge schedule', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId('watchdog'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ VTO_WATCHDOG_PERIOD_SECONDS: '60' }) },
    });
  });

  it('sends failed, timed-out and aborted executions of both machines to the reconciler', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [
            { Ref: logicalId(stack, stack.stateMachines.job) },
            { Ref: logicalId(stack, stack.stateMachines.pack) },
          ],
        },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId('reconciler'), 'Arn'] }, RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 8 }) })],
    });
  });

  it('builds both functions from their handlers with the tables, bucket and machines in their environment', () => {
    for (const which of ['watchdog', 'reconciler'] as const) {
      const props = (template.findResources('AWS::Lambda::Function')[fnId(which)] as { Properties: Json }).Properties;
      expect(props, which).toMatchObject({
        Runtime: 'nodejs24.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' },
        Environment: { Variables: expect.objectContaining({ JOBS_TABLE: expect.anything(), CONTROL_TABLE: expect.anything(), JOB_STATE_MACHINE_ARN: expect.anything(), PACK_STATE_MACHINE_ARN: expect.anything() }) },
      });
    }
    expect([WATCHDOG_ENTRY, RECONCILER_ENTRY]).toEqual(['lambdas/handlers/watchdog.ts', 'lambdas/handlers/reconciler.ts']);
  });

  it('grants the watchdog what it uses on the job machine\'s executions, nothing broader', () => {
    // Act
    const statements = statementsOf(template, logicalId(stack, stack.observability.watchdog.role));
    const actions = statements.flatMap((s) => [s['Action']].flat() as string[]);

    // Assess
    expect(actions).toEqual(expect.arrayContaining(['states:StartExecution', 'states:DescribeExecution', 'states:GetExecutionHistory', 'states:StopExecution']));
    expect(actions.filter((a) => a.endsWith(':*') || a === '*')).toEqual([]);
    const stop = statements.find((s) => ([s['Action']].flat() as string[]).includes('states:StopExecution'))!;
    expect(JSON.stringify(stop['Resource'])).toContain(':execution:Test-job:*');
  });

  it('lets the reconciler start runs and describe job executions, but not stop them', () => {
    // Act
    const actions = statementsOf(template, logicalId(stack, stack.observability.reconciler.role)).flatMap((s) => [s['Action']].flat() as string[]);

    // Assess
    expect(actions).toEqual(expect.arrayContaining(['states:StartExecution', 'states:DescribeExecution']));
    expect(actions.filter((a) => a.startsWith('states:') && a !== 'states:StartExecution' && a !== 'states:DescribeExecution')).toEqual([]);
  });

  it('shows packs, jobs by status, recovery rate by error, GPU queue and age, dead letters, stuck jobs and breakers on the dashboard', () => {
    // Act
    const [, dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0]!;
    const body = JSON.stringify(dashboard.Properties['DashboardBody']);

    // Assess
    for (const title of [
      'Packs', 'Jobs by status', 'Recovery rate by error name', 'GPU queue: depth and oldest message age', 'GPU dead-letter queue',
      'Stuck jobs', 'Circuit breakers', 'Circuit breaker transitions', 'Watchdog and reconciler actions', 'Alarms',
    ]) expect(body, title).toContain(`\\"title\\":\\"${title}`);
    for (const metric of ['JobsByStatus', 'RecoveryRateByError', 'ApproximateAgeOfOldestMessage', 'ApproximateNumberOfMessagesVisible', 'StuckJobs', 'BreakerState', 'ExecutionsStarted']) {
      expect(body, metric).toContain(metric);
    }
    for (const provider of ['comfyui', 'hosted-inpaint', 'segmentation', 'analyzer']) expect(body).toContain(`\\"provider\\",\\"${provider}\\"`);
  });

  it('alarms when the GPU dead-letter queue is not empty', () => {
    expect(alarm('deadLetters')).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Statistic: 'Maximum', Period: 60,
      Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1,
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, stack.data.gpuDeadLetterQueue), 'QueueName'] } }],
    });
  });

  it('alarms when jobs stay stuck for 10 minutes', () => {
    expect(alarm('stuckJobs')).toMatchObject({
      MetricName: 'StuckJobs', Namespace: 'VTO', Dimensions: [{ Name: 'service', Value: 'vto-pipeline' }], Period: 60,
      Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 10, DatapointsToAlarm: 10,
    });
  });

  it('alarms when the recovery rate stays under 90 %', () => {
    expect(alarm('recoveryRate')).toMatchObject({
      MetricName: 'RecoveryRate', Namespace: 'VTO', Statistic: 'Average', Threshold: 90, ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('alarms on failed or timed-out executions of either machine', () => {
    for (const [name, machine, threshold] of [['failedPackExecutions', 'pack', 1], ['failedJobExecutions', 'job', 10]] as const) {
      const p = alarm(name);
      expect(p, name).toMatchObject({ Threshold: threshold, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      const metrics = p['Metrics'] as Json[];
      expect(metrics.find((m) => m['Expression'] === 'failed + timedOut'), name).toBeDefined();
      const names = metrics.flatMap((m) => (m['MetricStat'] ? [(m['MetricStat'] as { Metric: Json }).Metric] : []));
      expect(names.map((m) => m['MetricName']).sort(), name).toEqual(['ExecutionsFailed', 'ExecutionsTimedOut']);
      expect(JSON.stringify(names), name).toContain(logicalId(stack, stack.stateMachines[machine]));
    }
  });

  it('notifies an encrypted, TLS-only SNS topic of every alarm and its recovery', () => {
    const topicId = logicalId(stack, stack.observability.alarmTopic);
    const names = Object.keys(stack.observability.alarms) as (keyof VtoStack['observability']['alarms'])[];
    for (const name of names) {
      expect(alarm(name)['AlarmActions'], name).toEqual([{ Ref: topicId }]);
      expect(alarm(name)['OKActions'], name).toEqual([{ Ref: topicId }]);
    }
    expect(names).toHaveLength(6);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
  });
});

describe('observability settings', () => {
  it('takes the watchdog rate, thresholds and an alarm email', () => {
    // Act
    const stack = newStack({ observability: { watchdogRate: Duration.minutes(5), recoveryRateThreshold: 95, stuckJobsMinutes: 30, alarmEmail: 'ops@example.com' } });
    const t = Template.fromStack(stack);

    // Assess
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ VTO_WATCHDOG_PERIOD_SECONDS: '300' }) } });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RecoveryRate', Threshold: 95 });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'StuckJobs', EvaluationPeriods: 30 });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('refuses a schedule faster than EventBridge runs one', () => {
    expect(() => newStack({ observability: { watchdogRate: Duration.seconds(30) } })).toThrow(ObservabilityError);
  });
});

describe('the metrics the dashboard and alarms read', () => {
  it('are the ones the functions publish: namespace, service dimension, name and unit of the definition', () => {
    // Act
    addPoint('StuckJobs', 0);
    const emf = metrics.serializeMetrics() as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: Json[] }[] }; service?: string };
    metrics.clearMetrics();

    // Assess
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: METRICS_NAMESPACE, Dimensions: [['service']], Metrics: [{ Name: 'StuckJobs', Unit: METRICS.StuckJobs.unit }] });
    expect(emf.service).toBe(METRICS_SERVICE);
  });

  it('reads in the dashboard and the alarms only defined metrics, by their defined dimensions', () => {
    // Act
    const template = Template.fromStack(newStack());
    const text = JSON.stringify(template.toJSON());
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties).filter((p) => p['Namespace'] === METRICS_NAMESPACE);
    const searches = [...text.matchAll(/\{VTO,([a-z,]+)\} MetricName=\\*"(\w+)/g)].map((m) => ({ keys: m[1]!, name: m[2]! }));

    // Assess
    expect(alarms.length).toBeGreaterThan(0);
    for (const a of alarms) {
      const name = a['MetricName'] as MetricName;
      expect(METRIC_NAMES, String(name)).toContain(name);
      expect((a['Dimensions'] as { Name: string }[]).map((d) => d.Name).sort()).toEqual(['service']);
    }
    expect(searches.length).toBeGreaterThan(0);
    for (const s of searches) {
      expect(METRIC_NAMES, s.name).toContain(s.name);
      expect(s.keys, s.name).toBe(['service', ...METRICS[s.name as MetricName].dimensions].sort().join(','));
    }
  });
});
