/**
 * The VTO pipeline stack: state (tables, bucket, queues), the state-machine functions and
 * the two state machines, with outputs an operator needs to find them.
 *
 * Extension points for what comes next: the API (API Gateway), the watchdog and reconciler
 * (EventBridge), the dashboard and alarms are separate constructs that take `data`,
 * `functions`, `stateMachines` and build their own functions with `functionDefaults`, so
 * they share runtime, bundling, logging and layers with these.
 */
import { CfnOutput, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { ManagedPolicy } from 'aws-cdk-lib/aws-iam';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnSecret, Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { PipelineData } from './data.ts';
import { StateFunctions, type ProviderEndpoints } from './functions.ts';
import { secretView } from './cdk-types.ts';
import { acknowledge, nagRef, wildcardResource } from './nag.ts';
import { settingsEnvironment, type DeploySettings } from './settings.ts';
import { sharpLayer } from './sharp-layer.ts';
import { PipelineStateMachines } from './state-machines.ts';
import { VtoApi } from './api.ts';
import { PipelineObservability, type PipelineObservabilityProps } from './observability.ts';
import { GPU_WORKER_ACCESS } from '../worker/access.ts';
import { accessPolicy } from './grants.ts';
import { PipelineEvents } from './events.ts';
import { GpuFleet } from './gpu-fleet.ts';
import type { GpuFleetOptions } from './gpu-fleet-settings.ts';
import { configEnvSchema } from '../adapters/config.ts';

export interface VtoStackProps extends StackProps, ProviderEndpoints {
  /**
   * Production safety: DynamoDB deletion protection, tables/queues/logs retained on stack
   * deletion, and stack termination protection. Turn off only for throwaway stacks.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * Complete ARN of an existing Secrets Manager secret whose string value is the hosted
   * inpaint API key.
   * @default - the stack creates an empty-valued secret; put the key in it after deploy
   */
  readonly hostedInpaintSecretArn?: string;
  /**
   * ARN of an existing layer with `sharp` for linux-arm64 in nodejs/node_modules, used instead
   * of the one this stack builds from layers/sharp (installed by `npm ci`).
   * @default - the stack's own sharp layer
   */
  readonly sharpLayerArn?: string;
  /**
   * Deploy-time settings (lib/settings.ts), checked at synth and passed to every function.
   * @default - none: the runtime's defaults
   */
  readonly settings?: DeploySettings;
  /**
   * How long function and execution logs are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * Watchdog schedule, alarm thresholds and the alarm email (lib/observability.ts).
   * @default - a sweep every minute, the seed thresholds, no email subscription
   */
  readonly observability?: Omit<PipelineObservabilityProps, 'data' | 'stateMachines' | 'layers' | 'logRetention' | 'logRemovalPolicy'>;
  /**
   * The GPU fleet (lib/gpu-fleet.ts): ComfyUI and the worker on GPU instances, scaled on the
   * GPU queue's backlog.
   * @default - no fleet: GPU workers run outside the stack (attach GpuWorkerPolicyArn)
   */
  readonly gpuFleet?: GpuFleetOptions;
}

/** Settings later constructs pass to PipelineFunction so every function is alike. */
export interface FunctionDefaults {
  readonly layers: readonly ILayerVersion[];
  readonly logRetention: RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

export class VtoStack extends Stack {
  public readonly data: PipelineData;
  public readonly hostedInpaintApiKey: ISecret;
  /** sharp for linux-arm64, attached to every function (their bundles leave sharp out). */
  public readonly sharpLayer: ILayerVersion;
  public readonly functions: StateFunctions;
  public readonly stateMachines: PipelineStateMachines;
  public readonly functionDefaults: FunctionDefaults;
  /** The app's REST API (IAM-authorised). */
  public readonly api: VtoApi;
  /** Watchdog, reconciler, dashboard and alarms. */
  public readonly observability: PipelineObservability;
  /** What a GPU worker host may call (worker/access.ts); attach it to the hosts' role. */
  public readonly gpuWorkerPolicy: ManagedPolicy;
  /** Lets an operator (user, group or role it is attached to) call the API: execute-api:Invoke. */
  public readonly operatorInvokePolicy: ManagedPolicy;
  /** Lifecycle events bus and the signed webhooks fed from it. */
  public readonly events: PipelineEvents;
  /** The GPU fleet, when the gpuFleet prop (context) asks for one. */
  public readonly gpuFleet: GpuFleet | undefined;

  constructor(scope: Construct, id: string, props: VtoStackProps = {}) {
    const {
      deletionProtection, hostedInpaintSecretArn, sharpLayerArn, settings, logRetention: retention,
      segmentationUrl, analyzerUrl, hostedInpaintUrl, observability, gpuFleet, ...stackProps
    } = props;
    const protect = deletionProtection ?? true;
    super(scope, id, { terminationProtection: protect, ...stackProps });
    // S3 server access logs are allowed by a bucket policy, not the LogDelivery ACL, which
    // buckets with ACLs disabled (the default since 2023) reject.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    const retained = protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = retention ?? RetentionDays.THREE_MONTHS;

    // Checked before any construct is built, so a bad value fails synth first and alone.
    const environment = settingsEnvironment(settings ?? {});
    this.data = new PipelineData(this, 'Data', { deletionProtection: protect });
    this.hostedInpaintApiKey = this.hostedSecret(hostedInpaintSecretArn, retained);
    this.sharpLayer = sharpLayer(this, 'SharpLayer', sharpLayerArn);
    this.functionDefaults = {
      layers: [this.sharpLayer],
      logRetention,
      logRemovalPolicy: retained,
    };

    this.functions = new StateFunctions(this, 'StateFunctions', {
      data: this.data,
      hostedInpaintApiKey: this.hostedInpaintApiKey,
      sharpLayer: this.sharpLayer,
      environment,
      ...(segmentationUrl === undefined ? {} : { segmentationUrl }),
      ...(analyzerUrl === undefined ? {} : { analyzerUrl }),
      ...(hostedInpaintUrl === undefined ? {} : { hostedInpaintUrl }),
      logRetention,
      logRemovalPolicy: retained,
    });
    this.stateMachines = new PipelineStateMachines(this, 'StateMachines', {
      functions: this.functions.lambdas(),
      gpuQueue: this.data.gpuQueue,
      logRetention,
      logRemovalPolicy: retained,
    });
    this.api = new VtoApi(this, 'Api', {
      data: this.data,
      stateMachines: this.stateMachines,
      environment,
      layers: this.functionDefaults.layers,
      logRetention,
      logRemovalPolicy: retained,
    });
    this.observability = new PipelineObservability(this, 'Observability', {
      ...observability,
      environment: { ...observability?.environment, ...environment },
      data: this.data,
      stateMachines: this.stateMachines,
      layers: this.functionDefaults.layers,
      logRetention,
      logRemovalPolicy: retained,
    });
    this.gpuWorkerPolicy = accessPolicy(this, 'GpuWorkerPolicy', 'What VTO GPU worker hosts call: the GPU queue, artifacts, task tokens, attempt claims and the ComfyUI breaker',
      GPU_WORKER_ACCESS, { data: this.data });
    this.operatorInvokePolicy = new ManagedPolicy(this, 'OperatorInvokePolicy', {
      description: 'Attach to the operators (users, groups or roles) who call the VTO API',
    });
    this.api.grantInvoke(this.operatorInvokePolicy);
    acknowledge(this.operatorInvokePolicy, {
      id: wildcardResource(`arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:${nagRef(this.api.api)}/*/*/*`),
      reason: 'Operators may call every method of this one API (all stages, methods and paths); the grant is limited to the API itself.',
    });
    this.events = new PipelineEvents(this, 'Events', {
      data: this.data,
      emitters: [...Object.values(this.functions.functions), this.api.handler, this.observability.watchdog, this.observability.reconciler],
      environment,
      layers: this.functionDefaults.layers,
      logRetention,
      logRemovalPolicy: retained,
    });
    // One model list: the value the functions validate against is the one the fleet's tasks hold.
    const modelChain = configEnvSchema.shape.VTO_MODEL_CHAIN.parse(environment['VTO_MODEL_CHAIN']);
    this.gpuFleet = gpuFleet === undefined ? undefined : new GpuFleet(this, 'GpuFleet', {
      data: this.data, options: gpuFleet, modelChain, environment, logRetention, logRemovalPolicy: retained,
    });
    this.outputs();
  }

  private hostedSecret(arn: string | undefined, removalPolicy: RemovalPolicy): ISecret {
    if (arn !== undefined) return Secret.fromSecretCompleteArn(this, 'HostedInpaintApiKey', arn);
    const secret = new Secret(this, 'HostedInpaintApiKey', {
      description: 'API key of the hosted inpaint provider. Put the key as the secret string: aws secretsmanager put-secret-value --secret-id <arn> --secret-string <key>',
      removalPolicy,
    });
    // Created empty (CloudFormation makes an empty secret when neither SecretString nor
    // GenerateSecretString is set): a generated random string would read as a key and be sent.
    (secret.node.defaultChild as CfnSecret).addPropertyDeletionOverride('GenerateSecretString');
    acknowledge(secret, {
      id: 'AwsSolutions-SMG4',
      reason: 'A third-party provider issues this API key; it is rotated at the provider and put here by an operator, so no rotation Lambda can create one.',
    });
    return secretView(secret);
  }

  private outputs(): void {
    const region = Stack.of(this).region;
    const consoleLink = (arn: string) =>
      Fn.join('', ['https://', region, '.console.aws.amazon.com/states/home?region=', region, '#/statemachines/view/', arn]);
    const { job, pack } = this.stateMachines;
    const { tables, gpuQueue, gpuDeadLetterQueue, artifacts } = this.data;
    const out: Record<string, [string, string]> = {
      PackStateMachineArn: [pack.stateMachineArn, 'Start a pack here (input {"packId"})'],
      PackStateMachineConsole: [consoleLink(pack.stateMachineArn), 'Pack executions in the Step Functions console'],
      JobStateMachineArn: [job.stateMachineArn, 'One execution per job run'],
      JobStateMachineConsole: [consoleLink(job.stateMachineArn), 'Job executions in the Step Functions console'],
      PacksTableName: [tables.packs.tableName, 'Packs'],
      JobsTableName: [tables.jobs.tableName, 'Jobs'],
      EventsTableName: [tables.events.tableName, 'Recovery events'],
      ControlTableName: [tables.control.tableName, 'Circuit breakers, control flags, idempotency records'],
      GpuQueueUrl: [gpuQueue.queueUrl, 'GPU workers poll this queue (GPU_QUEUE_URL)'],
      GpuQueueName: [gpuQueue.queueName, 'GPU queue name'],
      GpuDeadLetterQueueUrl: [gpuDeadLetterQueue.queueUrl, 'GPU messages nobody finished'],
      ArtifactsBucketName: [artifacts.bucketName, 'Images, masks and outputs (ARTIFACTS_BUCKET)'],
      GpuWorkerPolicyArn: [this.gpuWorkerPolicy.managedPolicyArn, 'Attach to the GPU worker hosts\' role'],
      HostedInpaintSecretArn: [this.hostedInpaintApiKey.secretArn, 'Put the hosted inpaint API key here'],
      ApiUrl: [this.api.url, 'The app API (SigV4, service execute-api)'],
      OperatorInvokePolicyArn: [this.operatorInvokePolicy.managedPolicyArn, 'Attach to operators who call the API (execute-api:Invoke)'],
      AlarmTopicArn: [this.observability.alarmTopic.topicArn, 'Subscribe here to the pipeline alarms'],
      DashboardName: [this.observability.dashboard.dashboardName, 'The pipeline dashboard in CloudWatch'],
      EventBusName: [this.events.bus.eventBusName, 'Lifecycle events (source vto.pipeline); add rules of your own here'],
      WebhookSecretArn: [this.events.webhookSecret.secretArn, 'Webhook receivers verify Vto-Signature with this secret\'s value'],
      WebhookDeadLetterQueueUrl: [this.events.webhookDeadLetterQueue.queueUrl, 'Webhook deliveries given up on'],
    };
    for (const [id, [value, description]] of Object.entries(out)) new CfnOutput(this, id, { value, description });
  }
}
