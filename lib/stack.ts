/**
 * The VTO pipeline stack: state (tables, bucket, queues), the state-machine functions and
 * the two state machines, with outputs an operator needs to find them.
 *
 * Extension points for what comes next: the API (API Gateway), the watchdog and reconciler
 * (EventBridge), the dashboard and alarms are separate constructs that take `data`,
 * `functions`, `stateMachines` and build their own functions with `functionDefaults`, so
 * they share runtime, bundling, logging and layers with these.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, CfnOutput, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Architecture, Code, LayerVersion, Runtime, type ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { PipelineData } from './data.ts';
import { StateFunctions, type ProviderEndpoints } from './functions.ts';
import { secretView } from './cdk-types.ts';
import { acknowledge } from './nag.ts';
import { PipelineStateMachines } from './state-machines.ts';
import { VtoApi } from './api.ts';
import { PipelineObservability, type PipelineObservabilityProps } from './observability.ts';
import { PipelineEvents } from './events.ts';

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
   * ARN of a published layer with `sharp` for linux-arm64 in nodejs/node_modules.
   * @default - see sharpLayerDir
   */
  readonly sharpLayerArn?: string;
  /**
   * Local directory holding `nodejs/node_modules/sharp` built for linux-arm64, packaged as a
   * layer by this stack (`npm install --prefix <dir>/nodejs --os=linux --cpu=arm64 --libc=glibc sharp`).
   * @default - no sharp layer: synth warns, and image functions fail to load sharp on Lambda
   */
  readonly sharpLayerDir?: string;
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
}

export class VtoStackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VtoStackError';
  }
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
  public readonly sharpLayer: ILayerVersion | undefined;
  public readonly functions: StateFunctions;
  public readonly stateMachines: PipelineStateMachines;
  public readonly functionDefaults: FunctionDefaults;
  /** The app's REST API (IAM-authorised). */
  public readonly api: VtoApi;
  /** Watchdog, reconciler, dashboard and alarms. */
  public readonly observability: PipelineObservability;
  /** Lifecycle events bus and the signed webhooks fed from it. */
  public readonly events: PipelineEvents;

  constructor(scope: Construct, id: string, props: VtoStackProps = {}) {
    const {
      deletionProtection, hostedInpaintSecretArn, sharpLayerArn, sharpLayerDir, logRetention: retention,
      segmentationUrl, analyzerUrl, hostedInpaintUrl, observability, ...stackProps
    } = props;
    const protect = deletionProtection ?? true;
    super(scope, id, { terminationProtection: protect, ...stackProps });
    // S3 server access logs are allowed by a bucket policy, not the LogDelivery ACL, which
    // buckets with ACLs disabled (the default since 2023) reject.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    const retained = protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = retention ?? RetentionDays.THREE_MONTHS;

    this.data = new PipelineData(this, 'Data', { deletionProtection: protect });
    this.hostedInpaintApiKey = this.hostedSecret(hostedInpaintSecretArn);
    this.sharpLayer = this.sharp(sharpLayerArn, sharpLayerDir);
    this.functionDefaults = {
      layers: this.sharpLayer === undefined ? [] : [this.sharpLayer],
      logRetention,
      logRemovalPolicy: retained,
    };

    this.functions = new StateFunctions(this, 'StateFunctions', {
      data: this.data,
      hostedInpaintApiKey: this.hostedInpaintApiKey,
      ...(this.sharpLayer === undefined ? {} : { sharpLayer: this.sharpLayer }),
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
      layers: this.functionDefaults.layers,
      logRetention,
      logRemovalPolicy: retained,
    });
    this.observability = new PipelineObservability(this, 'Observability', {
      ...observability,
      data: this.data,
      stateMachines: this.stateMachines,
      layers: this.functionDefaults.layers,
      logRetention,
      logRemovalPolicy: retained,
    });
    this.events = new PipelineEvents(this, 'Events', {
      data: this.data,
      emitters: [...Object.values(this.functions.functions), this.api.handler, this.observability.watchdog, this.observability.reconciler],
      layers: this.functionDefaults.layers,
      logRetention,
      logRemovalPolicy: retained,
    });
    for (const [name, value] of Object.entries({ segmentationUrl, hostedInpaintUrl })) {
      if (value === undefined) {
        Annotations.of(this).addWarningV2(`vto:${name}Missing`, `${name} is not set (-c ${name}=https://…): that provider's functions fail with a ConfigError until it is.`);
      }
    }
    this.outputs();
  }

  private hostedSecret(arn: string | undefined): ISecret {
    if (arn !== undefined) return Secret.fromSecretCompleteArn(this, 'HostedInpaintApiKey', arn);
    const secret = new Secret(this, 'HostedInpaintApiKey', {
      description: 'API key of the hosted inpaint provider. Put the key as the secret string: aws secretsmanager put-secret-value --secret-id <arn> --secret-string <key>',
    });
    acknowledge(secret, {
      id: 'AwsSolutions-SMG4',
      reason: 'A third-party provider issues this API key; it is rotated at the provider and put here by an operator, so no rotation Lambda can create one.',
    });
    return secretView(secret);
  }

  private sharp(arn: string | undefined, dir: string | undefined): ILayerVersion | undefined {
    if (arn !== undefined && dir !== undefined) throw new VtoStackError('Give either sharpLayerArn or sharpLayerDir, not both');
    if (arn !== undefined) return LayerVersion.fromLayerVersionArn(this, 'SharpLayer', arn);
    if (dir !== undefined) {
      if (!existsSync(join(dir, 'nodejs', 'node_modules', 'sharp', 'package.json'))) {
        throw new VtoStackError(`sharpLayerDir ${dir} has no nodejs/node_modules/sharp; build it with: npm install --prefix ${join(dir, 'nodejs')} --os=linux --cpu=arm64 --libc=glibc sharp`);
      }
      return new LayerVersion(this, 'SharpLayer', {
        code: Code.fromAsset(dir),
        compatibleArchitectures: [Architecture.ARM_64],
        compatibleRuntimes: [Runtime.NODEJS_24_X],
        description: 'sharp and libvips for linux-arm64',
      });
    }
    Annotations.of(this).addWarningV2('vto:sharpLayerMissing',
      'No sharp layer (-c sharpLayerArn=… or -c sharpLayerDir=…): bundles leave sharp out, so image functions cannot load it on Lambda.');
    return undefined;
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
      HostedInpaintSecretArn: [this.hostedInpaintApiKey.secretArn, 'Put the hosted inpaint API key here'],
      ApiUrl: [this.api.url, 'The app API (SigV4, service execute-api)'],
      AlarmTopicArn: [this.observability.alarmTopic.topicArn, 'Subscribe here to the pipeline alarms'],
      DashboardName: [this.observability.dashboard.dashboardName, 'The pipeline dashboard in CloudWatch'],
      EventBusName: [this.events.bus.eventBusName, 'Lifecycle events (source vto.pipeline); add rules of your own here'],
      WebhookSecretArn: [this.events.webhookSecret.secretArn, 'Webhook receivers verify Vto-Signature with this secret\'s value'],
      WebhookDeadLetterQueueUrl: [this.events.webhookDeadLetterQueue.queueUrl, 'Webhook deliveries given up on'],
    };
    for (const [id, [value, description]] of Object.entries(out)) new CfnOutput(this, id, { value, description });
  }
}
