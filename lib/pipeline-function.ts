/**
 * A Lambda function built the way every function of the product is: Node.js 24 on arm64,
 * an ESM bundle made by the local esbuild (no Docker), X-Ray tracing, JSON logs to its own
 * log group with a retention, and a role of its own that starts with no permissions but
 * writing that log group. The state-machine functions use it, and so should the API,
 * watchdog and reconciler functions that come later.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal, type IGrantable, type IPrincipal } from 'aws-cdk-lib/aws-iam';
import {
  ApplicationLogLevel, Architecture, LoggingFormat, Runtime, SystemLogLevel, Tracing, type ILayerVersion,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { XRAY_ACKNOWLEDGEMENT, acknowledge } from './nag.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../core/metrics.ts';

/** The repository root: handler entries and the lock file are resolved from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Prepended to every ESM bundle: bundled CommonJS dependencies call `require` for Node
 * built-ins, which ESM scope lacks. The alias keeps the name clear of bundled code.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __vtoCreateRequire } from 'node:module'; const require = __vtoCreateRequire(import.meta.url);";

/**
 * Modules left out of the bundle and loaded at run time from a layer. sharp ships native
 * libvips binaries per platform; the ones installed here are linux-x64, so bundling would
 * ship the wrong ones to arm64 Lambda. Every function gets lib/sharp-layer.ts instead.
 */
export const EXTERNAL_MODULES = ['sharp'] as const;

/** Environment names that must never carry a value, only a reference (an ARN) to it. */
const SECRET_LIKE = /SECRET|PASSWORD|TOKEN|API_?KEY|CREDENTIAL/i;

export interface PipelineFunctionProps {
  /** Path of the handler module from the project root; it exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the Lambda console. */
  readonly description: string;
  /**
   * Memory in MiB.
   * @default 512
   */
  readonly memoryMiB?: number;
  /**
   * Timeout in seconds.
   * @default 30
   */
  readonly timeoutSeconds?: number;
  /**
   * Environment variables. Names that look like secrets must end in `_ARN`: functions get
   * the secret's ARN and read access, never its value.
   * @default - none beyond the ones every function gets
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Layers, such as the sharp layer for linux-arm64.
   * @default - none
   */
  readonly layers?: readonly ILayerVersion[];
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

export class SecretInEnvironmentError extends Error {
  constructor(fn: string, variable: string) {
    super(`${fn}: environment variable ${variable} looks like a secret; pass its ARN (${variable}_ARN) and grant read access instead`);
    this.name = 'SecretInEnvironmentError';
  }
}

/** Settings every function of the product shares. */
export const COMMON_ENVIRONMENT = {
  POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
  POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  POWERTOOLS_LOG_LEVEL: 'INFO',
  // Stack traces point into the TypeScript sources instead of the minified bundle.
  NODE_OPTIONS: '--enable-source-maps',
} as const;

export class PipelineFunction extends Construct implements IGrantable {
  public readonly function: NodejsFunction;
  /** The function's own execution role; grant to it (or to the function) as needed. */
  public readonly role: Role;
  public readonly logGroup: LogGroup;
  public readonly grantPrincipal: IPrincipal;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    const environment = { ...COMMON_ENVIRONMENT, ...props.environment };
    for (const name of Object.keys(environment)) {
      if (SECRET_LIKE.test(name) && !name.endsWith('_ARN')) throw new SecretInEnvironmentError(this.node.path, name);
    }

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // A role of our own instead of AWSLambdaBasicExecutionRole: it may write this log group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    this.logGroup.grantWrite(this.role);
    this.grantPrincipal = this.role;

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memoryMiB ?? 512,
      timeout: Duration.seconds(props.timeoutSeconds ?? 30),
      role: this.role,
      environment,
      layers: [...(props.layers ?? [])],
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel.INFO,
      systemLogLevelV2: SystemLogLevel.INFO,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        externalModules: [...EXTERNAL_MODULES],
        // Ship the SDK versions the tests ran with, not whatever the runtime carries.
        bundleAwsSDK: true,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
      },
    });
    acknowledge(this.role, XRAY_ACKNOWLEDGEMENT);
  }
}
