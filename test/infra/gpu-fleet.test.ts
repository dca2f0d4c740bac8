/**
 * The GPU fleet (`-c gpuFleet=ecs`, lib/gpu-fleet.ts) as synthesized: bounds and pace from the
 * scaling schema, the metric math the policies scale on, scale-in protection, logs, the task
 * role against the worker's declared access, one model list for the API and the fleet,
 * cdk-nag, and synth failing on a bad fleet setting naming its key. Built through the app's
 * context, as `npm run synth -- -c gpuFleet=ecs` does; asset staging is off (templates only).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnElement, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_SCALING_DEFAULTS } from '../../core/fleet-scaling-settings.ts';
import { access } from '../../adapters/access.ts';
import { configEnvSchema } from '../../adapters/config.ts';
import { createVtoApp } from '../../lib/app.ts';
import { BACKLOG_PER_WORKER, FLEET_MODELS_ACCESS, WAITING_WITH_NO_WORKER, WORKER_METRICS_PORT, type GpuFleet } from '../../lib/gpu-fleet.ts';
import { MODELS_PREFIX } from '../../lib/gpu-fleet-models.ts';
import { accessStatements } from '../../lib/grants.ts';
import type { VtoStack } from '../../lib/stack.ts';
import { GPU_WORKER_ACCESS } from '../../worker/access.ts';

type Json = Record<string, unknown>;
interface Container { Name: string; Environment?: { Name: string; Value: unknown }[]; [k: string]: unknown }

const outRoot = mkdtempSync(join(tmpdir(), 'vto-fleet-'));
let apps = 0;
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

const synth = (context: Json = {}) => createVtoApp({
  outdir: join(outRoot, `app-${++apps}`),
  context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:disable-asset-staging': true, ...context },
});
const idOf = (stack: VtoStack, c: IConstruct) => {
  const el = c instanceof CfnElement ? c : c.node.defaultChild;
  if (!(el instanceof CfnElement)) throw new TypeError(`${c.node.path} has no CloudFormation element`);
  return stack.resolve(el.logicalId) as string;
};
const only = (t: Template, type: string): Json => {
  const all = Object.values(t.findResources(type));
  expect(all, type).toHaveLength(1);
  return all[0]?.['Properties'] as Json;
};
const containersOf = (t: Template) => only(t, 'AWS::ECS::TaskDefinition')['ContainerDefinitions'] as Container[];
const container = (t: Template, name: string) => {
  const c = containersOf(t).find((x) => x.Name === name);
  if (c === undefined) throw new Error(`no container ${name}`);
  return c;
};
const envOf = (c: Container) => Object.fromEntries((c.Environment ?? []).map((e) => [e.Name, e.Value]));

const apiModelChain = (stack: VtoStack, t: Template) =>
  (t.findResources('AWS::Lambda::Function')[idOf(stack, stack.api.handler.function)]?.['Properties'] as { Environment: { Variables: Json } }).Environment.Variables['VTO_MODEL_CHAIN'];

function fleetOf(stack: VtoStack): GpuFleet {
  if (stack.gpuFleet === undefined) throw new Error('the stack has no fleet');
  return stack.gpuFleet;
}

describe('without the gpuFleet context', () => {
  it('builds no fleet: the stack is as before', () => {
    // Act
    const { stack } = synth();
    const t = Template.fromStack(stack);

    // Assess
    expect(stack.gpuFleet).toBeUndefined();
    for (const type of ['AWS::ECS::Cluster', 'AWS::EC2::VPC', 'AWS::AutoScaling::AutoScalingGroup', 'AWS::ApplicationAutoScaling::ScalingPolicy']) t.resourceCountIs(type, 0);
    expect(Object.keys(t.findOutputs('*')).filter((k) => k.startsWith('GpuFleet'))).toEqual([]);
  });
});

describe('the fleet with the default scaling settings', () => {
  let stack: VtoStack;
  let t: Template;
  beforeAll(() => {
    stack = synth({ gpuFleet: 'ecs' }).stack;
    t = Template.fromStack(stack);
  });

  it('bounds the hosts and the service by the schema\'s defaults, from zero', () => {
    const d = FLEET_SCALING_DEFAULTS;
    expect(only(t, 'AWS::AutoScaling::AutoScalingGroup')).toMatchObject({ MinSize: '0', MaxSize: String(d.maxWorkers), NewInstancesProtectedFromScaleIn: true });
    expect(only(t, 'AWS::ApplicationAutoScaling::ScalableTarget')).toMatchObject({
      MinCapacity: d.minWorkers, MaxCapacity: d.maxWorkers, ScalableDimension: 'ecs:service:DesiredCount', ServiceNamespace: 'ecs',
    });
    expect(only(t, 'AWS::ECS::Service')).toMatchObject({ DesiredCount: d.minWorkers });
  });

  it('lets the capacity provider size the hosts, never terminating an instance with a task, and draining them', () => {
    expect(only(t, 'AWS::ECS::CapacityProvider')).toMatchObject({
      AutoScalingGroupProvider: { ManagedScaling: { Status: 'ENABLED', TargetCapacity: 100 }, ManagedTerminationProtection: 'ENABLED', ManagedDraining: 'ENABLED' },
    });
    const [cp] = Object.keys(t.findResources('AWS::ECS::CapacityProvider'));
    expect(only(t, 'AWS::ECS::Service')['CapacityProviderStrategy']).toEqual([{ CapacityProvider: { Ref: cp }, Weight: 1 }]);
  });

  it('tracks backlog per running worker at backlogPerWorker with the schema\'s cooldowns, on the GPU queue and the service', () => {
    // Prepare
    const fleet = fleetOf(stack);
    const queueName = { 'Fn::GetAtt': [idOf(stack, stack.data.gpuQueue), 'QueueName'] };
    const dims = [{ Name: 'ClusterName', Value: { Ref: idOf(stack, fleet.cluster) } }, { Name: 'ServiceName', Value: { 'Fn::GetAtt': [idOf(stack, fleet.service), 'Name'] } }];

    // Act
    const policy = t.findResources('AWS::ApplicationAutoScaling::ScalingPolicy', { Properties: { PolicyType: 'TargetTrackingScaling' } });

    // Assess
    expect(Object.values(policy)).toHaveLength(1);
    expect(Object.values(policy)[0]?.['Properties']).toMatchObject({
      ScalingTargetId: { Ref: idOf(stack, fleet.scalableTarget) },
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: FLEET_SCALING_DEFAULTS.backlogPerWorker,
        ScaleOutCooldown: FLEET_SCALING_DEFAULTS.scaleOutCooldownSeconds,
        ScaleInCooldown: FLEET_SCALING_DEFAULTS.scaleInCooldownSeconds,
        CustomizedMetricSpecification: {
          Metrics: [
            { Id: 'visible', ReturnData: false, MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: queueName }] } } },
            { Id: 'inflight', ReturnData: false, MetricStat: { Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesNotVisible', Dimensions: [{ Name: 'QueueName', Value: queueName }] } } },
            { Id: 'workers', ReturnData: false, MetricStat: { Metric: { Namespace: 'ECS/ContainerInsights', MetricName: 'RunningTaskCount', Dimensions: dims } } },
            { Id: 'backlogPerWorker', ReturnData: true, Expression: BACKLOG_PER_WORKER },
          ],
        },
      },
    });
    // The denominator never reaches zero: while no worker runs, the backlog counts for one.
    expect(BACKLOG_PER_WORKER).toMatch(/\/ IF\(FILL\(workers, 0\) > 0, FILL\(workers, 0\), 1\)$/);
    t.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
  });

  it('leaves zero with a step to exactly one worker, alarmed on messages waiting while the service wants none', () => {
    // Prepare
    const fleet = fleetOf(stack);

    // Act
    const step = t.findResources('AWS::ApplicationAutoScaling::ScalingPolicy', { Properties: { PolicyType: 'StepScaling' } });
    const [stepId] = Object.keys(step);
    const alarm = t.findResources('AWS::CloudWatch::Alarm')[idOf(stack, fleet.fromZeroAlarm as unknown as IConstruct)]?.['Properties'] as Json;

    // Assess
    expect(Object.values(step)[0]?.['Properties']).toMatchObject({
      ScalingTargetId: { Ref: idOf(stack, fleet.scalableTarget) },
      StepScalingPolicyConfiguration: { AdjustmentType: 'ExactCapacity', StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }], Cooldown: FLEET_SCALING_DEFAULTS.scaleOutCooldownSeconds },
    });
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1, AlarmActions: [{ Ref: stepId }] });
    const metrics = alarm['Metrics'] as Json[];
    expect(metrics.find((m) => m['ReturnData'] !== false)).toMatchObject({ Expression: WAITING_WITH_NO_WORKER });
    expect(metrics.map((m) => (m['MetricStat'] as { Metric?: { MetricName: string } } | undefined)?.Metric?.MetricName).filter(Boolean).sort())
      .toEqual(['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesVisible', 'DesiredTaskCount']);
  });

  it('boots the ECS-optimized GPU AMI from its SSM parameter at deploy time, with IMDSv2 and an encrypted root volume', () => {
    // Act
    const lt = (only(t, 'AWS::EC2::LaunchTemplate')['LaunchTemplateData']) as Json;
    const params = t.toJSON()['Parameters'] as Record<string, { Type: string; Default: string }>;
    const imageParam = Object.entries(params).find(([, p]) => p.Type === 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');

    // Assess
    expect(imageParam?.[1].Default).toBe('/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id');
    expect(lt).toMatchObject({
      ImageId: { Ref: imageParam?.[0] }, InstanceType: 'g5.xlarge',
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
      BlockDeviceMappings: [{ Ebs: { Encrypted: true, VolumeType: 'gp3' } }],
    });
    expect(lt['InstanceMarketOptions']).toBeUndefined();
    expect(JSON.stringify(lt['UserData'])).toContain('ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true');
  });

  it('runs ComfyUI on the GPU beside the worker, after the model sync, and stops the worker with SIGTERM inside its grace', () => {
    // Act
    const task = only(t, 'AWS::ECS::TaskDefinition');
    const worker = container(t, 'worker');
    const comfy = container(t, 'comfyui');
    const env = envOf(worker);

    // Assess
    expect(task['NetworkMode']).toBe('host');
    expect(containersOf(t).map((c) => [c.Name, c['Essential']])).toEqual([['models', false], ['comfyui', true], ['worker', true], ['metrics', false]]);
    expect(comfy).toMatchObject({ ResourceRequirements: [{ Type: 'GPU', Value: '1' }], DependsOn: [{ ContainerName: 'models', Condition: 'SUCCESS' }] });
    expect(worker).toMatchObject({ DependsOn: [{ ContainerName: 'comfyui', Condition: 'START' }] });
    expect(env).toMatchObject({
      GPU_QUEUE_URL: { Ref: idOf(stack, stack.data.gpuQueue) },
      ARTIFACTS_BUCKET: { Ref: idOf(stack, stack.data.artifacts) },
      CONTROL_TABLE: { Ref: idOf(stack, stack.data.tables.control) },
      COMFYUI_URL: 'http://127.0.0.1:8188',
    });
    // The ECS stop timeout covers the worker's drain grace.
    expect(Number(worker['StopTimeout']) * 1000).toBeGreaterThan(Number(env['VTO_SHUTDOWN_GRACE_MS']));
    expect(Number(worker['StopTimeout'])).toBeLessThanOrEqual(120);
  });

  it('logs every container to the fleet\'s log group, kept as long as the stack\'s other logs', () => {
    // Prepare
    const fleet = fleetOf(stack);
    const groupId = idOf(stack, fleet.logGroup);

    // Assess
    for (const c of containersOf(t)) {
      expect(c['LogConfiguration'], c.Name).toMatchObject({ LogDriver: 'awslogs', Options: { 'awslogs-group': { Ref: groupId } } });
    }
    for (const g of [fleet.logGroup, fleet.metricsLogGroup]) {
      expect(t.findResources('AWS::Logs::LogGroup')[idOf(stack, g)]?.['Properties']).toMatchObject({ RetentionInDays: 90 });
    }
  });

  it('scrapes the worker\'s Prometheus metrics into CloudWatch through the agent beside it', () => {
    // Act
    const env = envOf(container(t, 'metrics'));
    const resolved = stack.resolve(env) as Json;
    const cw = JSON.stringify(resolved['CW_CONFIG_CONTENT']);
    const scrape = JSON.stringify(resolved['PROMETHEUS_CONFIG_CONTENT']);

    // Assess
    expect(envOf(container(t, 'worker'))['VTO_METRICS_PORT']).toBe(String(WORKER_METRICS_PORT));
    expect(scrape).toContain(`127.0.0.1:${WORKER_METRICS_PORT}`);
    expect(cw).toContain('env:PROMETHEUS_CONFIG_CONTENT');
    expect(cw).toContain(idOf(stack, fleetOf(stack).metricsLogGroup));
    expect(cw).toContain('^orchestrator_pool_workers_(total|busy)$');
  });

  it('gives the task role exactly the worker\'s declared access, the model reads and the metrics log writes', () => {
    // Prepare
    const fleet = fleetOf(stack);
    const roleId = idOf(stack, fleet.taskDefinition.taskRole as unknown as IConstruct);
    const pairs = (statements: Json[]) => statements.flatMap((st) => ([st['Action']].flat() as string[])
      .flatMap((a) => [st['Resource']].flat().map((r) => `${a} ${JSON.stringify(r)}`))).sort();
    const declared = accessStatements(stack, access(GPU_WORKER_ACCESS, FLEET_MODELS_ACCESS), { data: stack.data })
      .statements.map((st) => stack.resolve(st.toStatementJson()) as Json);
    const metricsLogs = { 'Fn::GetAtt': [idOf(stack, fleet.metricsLogGroup), 'Arn'] };

    // Act
    const granted = Object.values(t.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify((p['Properties'] as Json)['Roles']).includes(`"${roleId}"`))
      .flatMap((p) => ((p['Properties'] as Json)['PolicyDocument'] as { Statement: Json[] }).Statement);

    // Assess
    expect(pairs(granted)).toEqual(pairs([...declared, { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: metricsLogs }]));
    expect(pairs(granted)).toContain(`s3:GetObject ${JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [idOf(stack, stack.data.artifacts), 'Arn'] }, `/${MODELS_PREFIX}*`]] })}`);
  });

  it('gives the model sync the runtime\'s default model list when modelChain is unset, as the API reads it', () => {
    const chain = configEnvSchema.shape.VTO_MODEL_CHAIN.parse(apiModelChain(stack, t));
    expect(apiModelChain(stack, t)).toBeUndefined();
    expect(envOf(container(t, 'models'))['VTO_MODEL_CHAIN']).toBe(chain.join(','));
    expect(chain.length).toBeGreaterThan(0);
    // A new task warms up on the first model of that list before it takes a job.
    expect(envOf(container(t, 'worker'))['VTO_WARMUP_MODEL']).toBe(chain[0]);
  });

  it('outputs the cluster and service names', () => {
    const fleet = fleetOf(stack);
    const outputs = t.findOutputs('*');
    expect(outputs['GpuFleetClusterName']?.['Value']).toEqual({ Ref: idOf(stack, fleet.cluster) });
    expect(outputs['GpuFleetServiceName']?.['Value']).toEqual({ 'Fn::GetAtt': [idOf(stack, fleet.service), 'Name'] });
  });
});

describe('fleet settings from context', () => {
  it('takes bounds, pace, instance type and Spot from context; a warm minimum needs no step from zero', () => {
    // Act
    const { stack } = synth({
      gpuFleet: 'ecs', gpuFleetMinWorkers: '2', gpuFleetMaxWorkers: 6, gpuFleetBacklogPerWorker: '3',
      gpuFleetScaleOutCooldownSeconds: 90, gpuFleetScaleInCooldownSeconds: '600', gpuFleetInstanceType: 'g6.2xlarge', gpuFleetSpot: 'true',
      modelChain: 'a.safetensors, b.safetensors',
    });
    const t = Template.fromStack(stack);

    // Assess
    expect(only(t, 'AWS::AutoScaling::AutoScalingGroup')).toMatchObject({ MinSize: '0', MaxSize: '6', CapacityRebalance: true });
    expect(only(t, 'AWS::ApplicationAutoScaling::ScalableTarget')).toMatchObject({ MinCapacity: 2, MaxCapacity: 6 });
    expect(only(t, 'AWS::ECS::Service')).toMatchObject({ DesiredCount: 2 });
    expect(only(t, 'AWS::ApplicationAutoScaling::ScalingPolicy')).toMatchObject({
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: { TargetValue: 3, ScaleOutCooldown: 90, ScaleInCooldown: 600 },
    });
    expect(Object.keys(t.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('GpuFleet'))).toEqual([]);
    const lt = only(t, 'AWS::EC2::LaunchTemplate')['LaunchTemplateData'] as Json;
    expect(lt).toMatchObject({ InstanceType: 'g6.2xlarge', InstanceMarketOptions: { MarketType: 'spot' } });
    expect(JSON.stringify(lt['UserData'])).toContain('ECS_ENABLE_SPOT_INSTANCE_DRAINING=true');
    // One model list: what the API parses from its variable is what the fleet's tasks copy.
    expect(apiModelChain(stack, t)).toBe('a.safetensors, b.safetensors');
    expect(envOf(container(t, 'models'))['VTO_MODEL_CHAIN']).toBe('a.safetensors,b.safetensors');
    expect(envOf(container(t, 'worker'))['VTO_WARMUP_MODEL']).toBe('a.safetensors');
  });

  it.each([
    [{ gpuFleetMinWorkers: '-1' }, /^context gpuFleetMinWorkers is invalid: .*>=0.* \(got "-1"\)$/],
    [{ gpuFleetMaxWorkers: 'many' }, /^context gpuFleetMaxWorkers is invalid: .*expected number.* \(got "many"\)$/],
    [{ gpuFleetMinWorkers: 5 }, /^context gpuFleetMinWorkers is invalid: minWorkers must not exceed maxWorkers \(got 5\)$/],
    [{ gpuFleetScaleInCooldownSeconds: '1.5' }, /^context gpuFleetScaleInCooldownSeconds is invalid: .*expected int.* \(got "1.5"\)$/],
    [{ gpuFleet: 'eks' }, /^context gpuFleet is invalid: must be ecs, or unset for no fleet \(got "eks"\)$/],
    [{ gpuFleetInstanceType: 'm5.large' }, /^context gpuFleetInstanceType is invalid: must be a GPU instance type/],
    [{ gpuFleetSpot: 'maybe' }, /^context gpuFleetSpot is invalid: must be true or false \(got "maybe"\)$/],
  ] as const)('fails synth on a bad fleet setting, naming its key (%o)', (context, message) => {
    // Act
    let error: unknown;
    try { synth({ gpuFleet: 'ecs', ...context }); } catch (e) { error = e; }

    // Assess
    expect(error).toMatchObject({ name: 'GpuFleetSettingError' });
    expect((error as Error).message).toMatch(message);
  });
});

describe('cdk-nag AwsSolutions checks with the fleet on', () => {
  it('synthesizes with zero unacknowledged findings, every acknowledgement with a reason', () => {
    // Prepare
    const { app, stack } = synth({ gpuFleet: 'ecs', gpuFleetSpot: true });

    // Act
    const report = new AwsSolutionsChecks(app).validateScope(app);

    // Assess
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(() => app.synth()).not.toThrow();
    const acks = fleetOf(stack).node.findAll().flatMap((c) => c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>)));
    expect(acks.length).toBeGreaterThan(0);
    expect(acks.filter(([, reason]) => reason.trim().length < 20)).toEqual([]);
  });
});
