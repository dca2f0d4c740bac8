/**
 * The GPU fleet (`-c gpuFleet=ecs`): ComfyUI and the GPU worker on GPU instances, scaled on
 * the GPU queue's backlog per worker, from zero (or a warm minimum) to a maximum.
 *
 * Why ECS on EC2 with a capacity provider rather than a bare Auto Scaling group: the pieces
 * this fleet needs are ECS features. The worker marks its own task protected while it holds
 * a message (task scale-in protection through the agent, worker/task-protection.ts), so a
 * scale-in stops only idle tasks; managed termination protection keeps the instance of a
 * running task; managed draining and Spot instance draining stop tasks with SIGTERM (the
 * worker's drain path: running jobs finish for shutdownGraceMs, the rest are released) before
 * an instance goes; and one task definition runs ComfyUI, the worker, the model sync and the
 * metrics agent side by side with awslogs. An ASG alone would need lifecycle hooks and a
 * per-instance agent to do the same.
 *
 * One task per instance (it reserves the instance's GPU), in host network mode: ComfyUI,
 * the worker's /metrics and the CloudWatch agent talk over 127.0.0.1 and nothing listens
 * outside the instance. ComfyUI is its own container beside the worker's (two images: the
 * worker's is Node only and rebuilt with the code, ComfyUI's is CUDA and Python and changes
 * rarely).
 *
 * Scaling (Application Auto Scaling on the service's desired count; the capacity provider
 * adds and removes instances to fit the tasks):
 * - target tracking keeps (ApproximateNumberOfMessagesVisible + NotVisible) / running workers
 *   at backlogPerWorker, with the schema's cooldowns. Target tracking multiplies the current
 *   count, so it can never leave zero;
 * - so with minWorkers 0 a step policy sets the count to 1 when the service wants no task and
 *   the queue holds any message; target tracking takes over from one.
 * While no task runs yet (instances booting) the backlog is divided by 1, so a burst that
 * arrives during a cold start still scales out to backlog / backlogPerWorker.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import { AdjustmentType, CfnScalingPolicy, ScalableTarget, ServiceNamespace, StepScalingAction } from 'aws-cdk-lib/aws-applicationautoscaling';
import { AutoScalingGroup } from 'aws-cdk-lib/aws-autoscaling';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { ApplicationScalingAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import {
  BlockDeviceVolume, EbsDeviceVolumeType, FlowLogDestination, FlowLogTrafficType, GatewayVpcEndpointAwsService, InstanceType, LaunchTemplate,
  SecurityGroup, SubnetType, UserData, Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  AmiHardwareType, AsgCapacityProvider, Cluster, ContainerDependencyCondition, ContainerImage, ContainerInsights, Ec2Service,
  Ec2TaskDefinition, EcsOptimizedImage, LogDrivers, NetworkMode, type ContainerDefinition,
} from 'aws-cdk-lib/aws-ecs';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FleetScalingSettings } from '../core/fleet-scaling-settings.ts';
import { access, grant } from '../adapters/access.ts';
import { GPU_WORKER_ACCESS } from '../worker/access.ts';
import type { PipelineData } from './data.ts';
import { clusterView, vpcView } from './cdk-types.ts';
import { grantAccess } from './grants.ts';
import { MODEL_SYNC_SCRIPT, MODELS_HOST_PATH, MODELS_MOUNT, MODELS_PREFIX } from './gpu-fleet-models.ts';
import type { GpuFleetOptions } from './gpu-fleet-settings.ts';
import { acknowledge, wildcardAction, wildcardResource } from './nag.ts';

/** The model sync reads the chain's files (the sync lists the bucket: the worker's access already holds s3:ListBucket). */
export const FLEET_MODELS_ACCESS = access(grant(`objects:artifacts/${MODELS_PREFIX}*`, 's3', 'GetObject'));

/** Images the fleet pulls from public registries, pinned. */
export const FLEET_IMAGES = {
  awsCli: 'public.ecr.aws/aws-cli/aws-cli:2.27.50',
  cloudWatchAgent: 'public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300057.0b1161',
} as const;

/** The repository root: the worker image's build context (worker/Dockerfile, .dockerignore). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the worker's Prometheus metrics are served inside the task (host network, loopback only). */
export const WORKER_METRICS_PORT = 9464;
const COMFY_PORT = 8188;
/** Worker SIGTERM grace (VTO_SHUTDOWN_GRACE_MS) and the container's stop timeout just past it, inside Spot's 2-minute notice. */
const SHUTDOWN_GRACE_SECONDS = 25;
const STOP_TIMEOUT_SECONDS = SHUTDOWN_GRACE_SECONDS + 15;
/** ComfyUI boots and loads a model before it answers; the worker waits this long for it. */
const COMFY_START_TIMEOUT_MS = 15 * 60_000;

export interface GpuFleetProps {
  readonly data: PipelineData;
  readonly options: GpuFleetOptions;
  /** VTO_MODEL_CHAIN as the functions read it: the models every task holds. */
  readonly modelChain: readonly string[];
  /** Deploy-time settings (lib/settings.ts) the worker reads too (VTO_BREAKER_*). */
  readonly environment: Readonly<Record<string, string>>;
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

export class GpuFleet extends Construct {
  public readonly vpc: Vpc;
  public readonly cluster: Cluster;
  public readonly autoScalingGroup: AutoScalingGroup;
  public readonly capacityProvider: AsgCapacityProvider;
  public readonly taskDefinition: Ec2TaskDefinition;
  public readonly service: Ec2Service;
  public readonly scalableTarget: ScalableTarget;
  /** Target tracking on backlog per running worker. */
  public readonly backlogPolicy: CfnScalingPolicy;
  /** From zero to one (minWorkers 0 only). */
  public readonly fromZeroAlarm: Alarm | undefined;
  public readonly logGroup: LogGroup;
  public readonly metricsLogGroup: LogGroup;
  public readonly containers: Readonly<Record<'worker' | 'comfyui' | 'models' | 'metrics', ContainerDefinition>>;

  constructor(scope: Construct, id: string, props: GpuFleetProps) {
    super(scope, id);
    const { data, options, logRetention, logRemovalPolicy } = props;
    const { scaling } = options;
    const logs = (name: string) => new LogGroup(this, name, { retention: logRetention, removalPolicy: logRemovalPolicy });

    // Public subnets and no NAT gateway: the instances only call AWS APIs, and a NAT costs
    // more than a small fleet. S3 and DynamoDB go through (free) gateway endpoints. Nothing
    // is reachable from outside: the security group admits no inbound traffic.
    this.vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'hosts', subnetType: SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 }, DynamoDb: { service: GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: { rejected: { destination: FlowLogDestination.toCloudWatchLogs(logs('FlowLogs')), trafficType: FlowLogTrafficType.REJECT } },
    });
    const vpc = vpcView(this.vpc);
    const securityGroup = new SecurityGroup(this, 'HostSecurityGroup', { vpc, description: 'VTO GPU hosts: no inbound traffic; outbound HTTPS to AWS APIs', allowAllOutbound: true });

    // Container Insights gives the service's RunningTaskCount and DesiredTaskCount the scaling reads.
    this.cluster = new Cluster(this, 'Cluster', { vpc, containerInsightsV2: ContainerInsights.ENABLED });

    const userData = UserData.forLinux();
    // Host-network tasks get their task role's credentials from the agent (not the instance's).
    userData.addCommands('echo ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true >> /etc/ecs/ecs.config');
    // On a Spot interruption notice the agent sets the instance DRAINING: its task gets SIGTERM
    // within the 2-minute notice. (Set here: CDK adds it only to groups it builds the user data of.)
    if (options.spot) userData.addCommands('echo ECS_ENABLE_SPOT_INSTANCE_DRAINING=true >> /etc/ecs/ecs.config');
    const launchTemplate = new LaunchTemplate(this, 'HostTemplate', {
      // The ECS-optimized GPU AMI (NVIDIA driver and container toolkit), resolved by CloudFormation
      // from its public SSM parameter at deploy time: synth looks nothing up.
      machineImage: EcsOptimizedImage.amazonLinux2023(AmiHardwareType.GPU),
      instanceType: new InstanceType(options.instanceType),
      role: new Role(this, 'HostRole', { assumedBy: new ServicePrincipal('ec2.amazonaws.com'), description: 'VTO GPU hosts: the ECS agent only (tasks have their own role)' }),
      userData,
      securityGroup,
      associatePublicIpAddress: true,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      detailedMonitoring: true,
      // Images (CUDA, PyTorch) and models live on the root volume.
      blockDevices: [{ deviceName: '/dev/xvda', volume: BlockDeviceVolume.ebs(200, { encrypted: true, volumeType: EbsDeviceVolumeType.GP3, deleteOnTermination: true }) }],
      ...(options.spot && { spotOptions: {} }),
    });
    this.autoScalingGroup = new AutoScalingGroup(this, 'Hosts', {
      vpc,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      launchTemplate,
      // The capacity provider sets the group's size; these are its bounds.
      minCapacity: 0,
      maxCapacity: scaling.maxWorkers,
      ...(options.spot && { capacityRebalance: true }),
    });
    this.capacityProvider = new AsgCapacityProvider(this, 'CapacityProvider', {
      autoScalingGroup: this.autoScalingGroup,
      enableManagedScaling: true,
      targetCapacityPercent: 100,
      enableManagedTerminationProtection: true,
      enableManagedDraining: true,
    });
    this.cluster.addAsgCapacityProvider(this.capacityProvider);

    this.logGroup = logs('Logs');
    this.metricsLogGroup = logs('MetricsLogs');
    this.taskDefinition = new Ec2TaskDefinition(this, 'Task', { networkMode: NetworkMode.HOST });
    this.taskDefinition.addVolume({ name: 'models', host: { sourcePath: MODELS_HOST_PATH } });
    this.containers = this.addContainers(props);

    this.service = new Ec2Service(this, 'Service', {
      cluster: clusterView(this.cluster),
      taskDefinition: this.taskDefinition,
      desiredCount: scaling.minWorkers,
      // A deploy replaces tasks one GPU at a time without asking for a spare instance first.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { rollback: true },
      capacityProviderStrategies: [{ capacityProvider: this.capacityProvider.capacityProviderName, weight: 1 }],
    });

    this.scalableTarget = new ScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: ServiceNamespace.ECS,
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: `service/${this.cluster.clusterName}/${this.service.serviceName}`,
      minCapacity: scaling.minWorkers,
      maxCapacity: scaling.maxWorkers,
    });
    this.backlogPolicy = this.backlogTracking(data, scaling);
    this.fromZeroAlarm = scaling.minWorkers === 0 ? this.scaleFromZero(data, scaling) : undefined;

    new CfnOutput(Stack.of(this), 'GpuFleetClusterName', { value: this.cluster.clusterName, description: 'The GPU fleet\'s ECS cluster' });
    new CfnOutput(Stack.of(this), 'GpuFleetServiceName', { value: this.service.serviceName, description: 'The GPU fleet\'s ECS service (desired count scaled on the GPU queue\'s backlog)' });
    new CfnOutput(Stack.of(this), 'GpuFleetModelsUri', {
      value: `s3://${data.artifacts.bucketName}/${MODELS_PREFIX}`,
      description: 'Upload the models of VTO_MODEL_CHAIN here; each task copies them before ComfyUI starts',
    });
    this.acknowledgements();
  }

  private addContainers(props: GpuFleetProps): GpuFleet['containers'] {
    const { data, modelChain, environment } = props;
    const task = this.taskDefinition;
    const logging = (prefix: string) => LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: prefix });

    const models = task.addContainer('models', {
      image: ContainerImage.fromRegistry(FLEET_IMAGES.awsCli),
      essential: false,
      entryPoint: ['sh', '-c'],
      command: [MODEL_SYNC_SCRIPT],
      environment: {
        MODELS_BUCKET: data.artifacts.bucketName, MODELS_PREFIX, MODELS_DIR: MODELS_MOUNT,
        VTO_MODEL_CHAIN: modelChain.join(','), AWS_REGION: Stack.of(this).region,
      },
      memoryReservationMiB: 256,
      logging: logging('models'),
    });
    models.addMountPoints({ sourceVolume: 'models', containerPath: MODELS_MOUNT, readOnly: false });

    const comfyui = task.addContainer('comfyui', {
      image: ContainerImage.fromAsset(join(ROOT, 'worker', 'comfyui'), { platform: Platform.LINUX_AMD64 }),
      essential: true,
      gpuCount: 1,
      // Loopback only: the worker is its one client.
      command: ['--listen', '127.0.0.1', '--port', String(COMFY_PORT)],
      memoryReservationMiB: 8192,
      logging: logging('comfyui'),
    });
    // The image's extra_model_paths.yaml points ComfyUI's checkpoints at /models/checkpoints.
    comfyui.addMountPoints({ sourceVolume: 'models', containerPath: MODELS_MOUNT, readOnly: true });
    comfyui.addContainerDependencies({ container: models, condition: ContainerDependencyCondition.SUCCESS });

    const worker = task.addContainer('worker', {
      image: ContainerImage.fromAsset(ROOT, { file: 'worker/Dockerfile', platform: Platform.LINUX_AMD64 }),
      essential: true,
      environment: {
        ...environment,
        GPU_QUEUE_URL: data.gpuQueue.queueUrl,
        ARTIFACTS_BUCKET: data.artifacts.bucketName,
        CONTROL_TABLE: data.tables.control.tableName,
        COMFYUI_URL: `http://127.0.0.1:${COMFY_PORT}`,
        VTO_METRICS_HOST: '127.0.0.1',
        VTO_METRICS_PORT: String(WORKER_METRICS_PORT),
        VTO_SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_SECONDS * 1000),
        VTO_WORKER_START_TIMEOUT_MS: String(COMFY_START_TIMEOUT_MS),
        // A new task loads the first model with a warm-up prompt before it takes a job (worker/warmup.ts).
        VTO_WARMUP_MODEL: modelChain[0] ?? 'off',
        AWS_REGION: Stack.of(this).region,
      },
      // SIGTERM first (scale-in, Spot interruption, deploys): the worker drains within its grace.
      stopTimeout: Duration.seconds(STOP_TIMEOUT_SECONDS),
      memoryReservationMiB: 512,
      logging: logging('worker'),
    });
    worker.addContainerDependencies({ container: comfyui, condition: ContainerDependencyCondition.START });

    const metrics = task.addContainer('metrics', {
      image: ContainerImage.fromRegistry(FLEET_IMAGES.cloudWatchAgent),
      essential: false,
      environment: {
        CW_CONFIG_CONTENT: JSON.stringify(cloudWatchAgentConfig(this.metricsLogGroup.logGroupName, this.cluster.clusterName)),
        PROMETHEUS_CONFIG_CONTENT: prometheusScrapeConfig(this.cluster.clusterName),
      },
      memoryReservationMiB: 128,
      logging: logging('metrics'),
    });
    metrics.addContainerDependencies({ container: worker, condition: ContainerDependencyCondition.START });

    // The task role: exactly what the worker's code declares (worker/access.ts), the model
    // sync's reads, and the metrics agent's writes to its one log group.
    grantAccess(task.taskRole as Role, access(GPU_WORKER_ACCESS, FLEET_MODELS_ACCESS), { data });
    this.metricsLogGroup.grantWrite(task.taskRole);
    return { worker, comfyui, models, metrics };
  }

  private queueMetric(data: PipelineData, name: string): Metric {
    return new Metric({ namespace: 'AWS/SQS', metricName: name, dimensionsMap: { QueueName: data.gpuQueue.queueName }, statistic: 'Maximum', period: Duration.minutes(1) });
  }

  private serviceMetric(name: 'RunningTaskCount' | 'DesiredTaskCount'): Metric {
    return new Metric({
      namespace: 'ECS/ContainerInsights', metricName: name, statistic: 'Average', period: Duration.minutes(1),
      dimensionsMap: { ClusterName: this.cluster.clusterName, ServiceName: this.service.serviceName },
    });
  }

  /** Target tracking on backlog per running worker (metric math, which CDK's L2 does not render). */
  private backlogTracking(data: PipelineData, scaling: FleetScalingSettings): CfnScalingPolicy {
    const stat = (id: string, m: Metric) => {
      const c = m.toMetricConfig().metricStat;
      if (c === undefined) throw new Error(`${id} is not a plain metric`);
      return {
        id, returnData: false,
        metricStat: { stat: c.statistic, metric: { namespace: c.namespace, metricName: c.metricName, dimensions: (c.dimensions ?? []).map((d) => ({ name: d.name, value: d.value as string })) } },
      };
    };
    return new CfnScalingPolicy(this, 'BacklogPerWorker', {
      policyName: `${Stack.of(this).stackName}-gpu-backlog-per-worker`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: this.scalableTarget.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: scaling.backlogPerWorker,
        scaleOutCooldown: scaling.scaleOutCooldownSeconds,
        scaleInCooldown: scaling.scaleInCooldownSeconds,
        customizedMetricSpecification: {
          metrics: [
            stat('visible', this.queueMetric(data, 'ApproximateNumberOfMessagesVisible')),
            stat('inflight', this.queueMetric(data, 'ApproximateNumberOfMessagesNotVisible')),
            stat('workers', this.serviceMetric('RunningTaskCount')),
            { id: 'backlogPerWorker', expression: BACKLOG_PER_WORKER, label: 'GPU messages per running worker', returnData: true },
          ],
        },
      },
    });
  }

  /** Zero → one: target tracking multiplies the current count and cannot leave zero. */
  private scaleFromZero(data: PipelineData, scaling: FleetScalingSettings): Alarm {
    const action = new StepScalingAction(this, 'FromZero', {
      scalingTarget: this.scalableTarget,
      adjustmentType: AdjustmentType.EXACT_CAPACITY,
      cooldown: Duration.seconds(scaling.scaleOutCooldownSeconds),
    });
    action.addAdjustment({ adjustment: 1, lowerBound: 0 });
    const alarm = new Alarm(this, 'BacklogWithNoWorker', {
      alarmDescription: 'GPU messages wait and the fleet wants no worker: start one (target tracking takes over from one)',
      metric: new MathExpression({
        expression: WAITING_WITH_NO_WORKER,
        usingMetrics: {
          visible: this.queueMetric(data, 'ApproximateNumberOfMessagesVisible'),
          inflight: this.queueMetric(data, 'ApproximateNumberOfMessagesNotVisible'),
          desired: this.serviceMetric('DesiredTaskCount'),
        },
        period: Duration.minutes(1),
        label: 'GPU backlog with no worker wanted',
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new ApplicationScalingAction(action));
    return alarm;
  }

  private acknowledgements(): void {
    acknowledge(this.taskDefinition, {
      id: 'AwsSolutions-ECS2',
      reason: 'The containers\' environment holds resource names, URLs and tuning values only; no secret is passed (the worker reads none).',
    });
    acknowledge(this.autoScalingGroup, {
      id: 'AwsSolutions-AS3',
      reason: 'Scaling events are driven by the ECS capacity provider and visible in the ECS service events and the group\'s activity history; a notification per GPU host start/stop would be noise.',
    });
    // The instance role's statements are the ECS agent's, granted by CDK when the capacity provider is added.
    acknowledge(this.node.findChild('HostRole'), {
      id: wildcardResource('*'),
      reason: 'The ECS agent\'s own calls: ecs:DiscoverPollEndpoint, ecr:GetAuthorizationToken and the agent\'s log writes support no resource-level permissions, and ecs:Poll/StartTelemetrySession are limited to this cluster by condition, as AWS documents for the ECS instance role.',
    }, {
      id: wildcardAction('ecs:Submit*'),
      reason: 'The ECS agent reports task and container state with ecs:SubmitTaskStateChange/SubmitContainerStateChange/SubmitAttachmentStateChanges; CDK grants the family for the agent, limited to this cluster.',
    });
    acknowledge(this.taskDefinition.obtainExecutionRole() as unknown as Construct, {
      id: wildcardResource('*'),
      reason: 'The execution role pulls the worker and ComfyUI images: ecr:GetAuthorizationToken supports no resource-level permissions (the pulls themselves are granted on the two asset repositories).',
    });
  }
}

/** Backlog per running worker; while no task runs yet (instances booting) the backlog counts for one. */
export const BACKLOG_PER_WORKER = '(FILL(visible, 0) + FILL(inflight, 0)) / IF(FILL(workers, 0) > 0, FILL(workers, 0), 1)';
/** 1 when GPU messages wait and the service wants no task, else 0. */
export const WAITING_WITH_NO_WORKER = 'IF(FILL(desired, 0) < 1 AND (FILL(visible, 0) + FILL(inflight, 0)) > 0, 1, 0)';

/** The CloudWatch agent: scrape the worker's Prometheus endpoint, publish as EMF in the metrics log group. */
export function cloudWatchAgentConfig(logGroupName: string, clusterName: string): unknown {
  return {
    agent: { region: '' },
    logs: {
      metrics_collected: {
        prometheus: {
          cluster_name: clusterName,
          log_group_name: logGroupName,
          prometheus_config_path: 'env:PROMETHEUS_CONFIG_CONTENT',
          emf_processor: {
            metric_namespace: 'VTO/GpuWorkers',
            metric_declaration: [
              {
                source_labels: ['job'], label_matcher: '^vto-worker$', dimensions: [['ClusterName']],
                metric_selectors: ['^orchestrator_pool_workers_(total|busy)$', '^orchestrator_pool_queue_size$', '^orchestrator_worker_heartbeat_missed_total$', '^orchestrator_task_retries_total$'],
              },
              { source_labels: ['job'], label_matcher: '^vto-worker$', dimensions: [['ClusterName', 'code']], metric_selectors: ['^orchestrator_task_failures_total$'] },
            ],
          },
        },
      },
      force_flush_interval: 5,
    },
  };
}

/** Prometheus scrape configuration (YAML is a superset of JSON): the worker on loopback. */
export function prometheusScrapeConfig(clusterName: string): string {
  return JSON.stringify({
    global: { scrape_interval: '30s', scrape_timeout: '10s' },
    scrape_configs: [{ job_name: 'vto-worker', static_configs: [{ targets: [`127.0.0.1:${WORKER_METRICS_PORT}`], labels: { ClusterName: clusterName } }] }],
  });
}
