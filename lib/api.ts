/**
 * The REST API: API Gateway in front of one Lambda function (lambdas/api/handler.ts)
 * that serves every route of lambdas/api/spec.ts. Every method needs IAM authorization
 * (SigV4, execute-api); request bodies and parameters are validated by the function alone
 * (its zod schemas), so a 400 names the same fields offline and deployed; the stage is throttled,
 * access-logged and traced; CORS answers only the origins given (none by default);
 * gateway refusals use the API's error shape.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AccessLogFormat, AuthorizationType, EndpointType, LambdaIntegration, LogGroupLogDestination,
  MethodLoggingLevel, ResponseType, RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BUCKETS, QUEUES, STATE_MACHINES, TABLES } from '../core/resources.ts';
import { OPERATION_IDS, ROUTES, type RouteSpec } from '../lambdas/api/spec.ts';
import type { PipelineData, TableKey } from './data.ts';
import { acknowledge } from './nag.ts';
import { PipelineFunction } from './pipeline-function.ts';
import { grantAccess } from './grants.ts';
import { API_ACCESS } from '../lambdas/api/access.ts';

/** The handler's entry, from the project root. */
export const API_HANDLER_ENTRY = 'lambdas/api/handler.ts';

export interface VtoApiProps {
  /** Tables, bucket and queues the API reads and writes. */
  readonly data: PipelineData;
  /** The machines the API starts, lists and stops. */
  readonly stateMachines: { readonly pack: IStateMachine; readonly job: IStateMachine };
  /**
   * Browser origins allowed by CORS (preflight and response headers).
   * @default - none: no CORS at all (the console signs on its server, not in the browser)
   */
  readonly corsOrigins?: readonly string[];
  /**
   * Stage throttling: steady requests per second and burst.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Stage name; the URL ends in it.
   * @default 'v1'
   */
  readonly stageName?: string;
  /**
   * Extra settings for the API function, e.g. `VTO_MODEL_CHAIN` (the installed models; see
   * adapters/config.ts) or `VTO_STUCK_AFTER_SECONDS` (lambdas/api/settings.ts).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default - none */
  readonly layers?: readonly ILayerVersion[];
  /** How long function, access and execution logs are kept. @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

export class VtoApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VtoApiError';
  }
}

/** API Gateway's refusals (signature, throttling) in the API's error shape. */
const GATEWAY_ERROR_TEMPLATE =
  '{"message":$context.error.messageString,"error":{"code":"$context.error.responseType","message":$context.error.messageString},"requestId":"$context.requestId"}';

export class VtoApi extends Construct {
  public readonly api: RestApi;
  public readonly handler: PipelineFunction;
  public readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: VtoApiProps) {
    super(scope, id);
    const { data, stateMachines } = props;
    const throttle = props.throttle ?? { rateLimit: 50, burstLimit: 100 };
    if (throttle.rateLimit <= 0 || throttle.burstLimit <= 0) throw new VtoApiError('throttle limits must be positive');
    const cors = [...(props.corsOrigins ?? [])];
    for (const origin of cors) {
      if (origin === '*' || !/^https?:\/\/[^/]+$/.test(origin)) throw new VtoApiError(`corsOrigins must be origins like https://console.example.com, got ${origin}`);
    }
    const logRetention = props.logRetention ?? RetentionDays.THREE_MONTHS;
    const logRemovalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;

    // ------------------------------------------------------------ the function
    const environment: Record<string, string> = {
      ...props.environment,
      [BUCKETS.artifacts.envVar]: data.artifacts.bucketName,
      [QUEUES.gpu.envVar]: data.gpuQueue.queueUrl,
      [QUEUES.gpu.deadLetter.envVar]: data.gpuDeadLetterQueue.queueUrl,
      [STATE_MACHINES.pack.envVar]: stateMachines.pack.stateMachineArn,
      [STATE_MACHINES.job.envVar]: stateMachines.job.stateMachineArn,
      ...(cors.length > 0 && { VTO_API_CORS_ORIGINS: cors.join(',') }),
    };
    for (const key of Object.keys(TABLES) as TableKey[]) environment[TABLES[key].envVar] = data.tables[key].tableName;
    this.handler = new PipelineFunction(this, 'Handler', {
      entry: API_HANDLER_ENTRY,
      description: 'VTO REST API: packs, jobs, uploads, statistics, health, emergency stop',
      memoryMiB: 1024,
      timeoutSeconds: 29,
      environment,
      layers: props.layers ?? [],
      logRetention,
      logRemovalPolicy,
    });
    this.grantAccess(props);

    // ------------------------------------------------------------ the REST API
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy: logRemovalPolicy });
    const stageName = props.stageName ?? 'v1';
    this.api = new RestApi(this, 'Api', {
      description: 'VTO pipeline API (IAM-authorised)',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Execution logging (loggingLevel) needs the account-level CloudWatch role.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: logRemovalPolicy,
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      deployOptions: {
        stageName,
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields({
          caller: true, httpMethod: true, ip: true, protocol: true, requestTime: true, resourcePath: true, responseLength: true, status: true, user: true,
        }),
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
      },
      ...(cors.length > 0 && {
        defaultCorsPreflightOptions: {
          allowOrigins: cors,
          allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
          allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'],
        },
      }),
    });
    this.gatewayResponses(cors);

    const integration = new LambdaIntegration(this.handler.function, { proxy: true, scopePermissionToMethod: false });
    for (const opId of OPERATION_IDS) {
      const r: RouteSpec = ROUTES[opId];
      this.api.root.resourceForPath(r.path).addMethod(r.method, integration, { operationName: opId, authorizationType: AuthorizationType.IAM });
    }
    acknowledge(this.api, {
      id: 'AwsSolutions-APIG2',
      reason: 'Bodies and parameters are validated once, by the function\'s zod schemas, whose 400 names each field (README); gateway models would answer the same bad request with a different 400.',
    });
    acknowledge(this.api, {
      id: 'AwsSolutions-COG4',
      reason: 'Every method uses IAM authorization (SigV4): callers are AWS principals (the app, the CLI, the console server), not Cognito users.',
    });
    acknowledge(this.api, {
      id: 'AwsSolutions-APIG3',
      reason: 'A regional, IAM-authorised API: unsigned requests are refused before the integration and the stage is throttled. Attach a WAF web ACL to the stage if the account requires one.',
    });
    acknowledge(this.api, {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: 'API Gateway\'s account-level logging role uses the AWS-managed policy written for exactly this purpose.',
    });
  }

  /** The stage URL, ending in the stage name. */
  public get url(): string {
    return this.api.url;
  }

  /** Lets a principal call every method of the API (execute-api:Invoke). */
  public grantInvoke(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({ grantee, actions: ['execute-api:Invoke'], resourceArns: [this.api.arnForExecuteApi()] });
  }

  private gatewayResponses(cors: readonly string[]): void {
    const headers = cors.length === 1 ? { 'Access-Control-Allow-Origin': `'${cors[0]}'` } : undefined;
    const add = (id: string, type: ResponseType, template: string) =>
      this.api.addGatewayResponse(id, { type, templates: { 'application/json': template }, ...(headers && { responseHeaders: headers }) });
    add('Default4xx', ResponseType.DEFAULT_4XX, GATEWAY_ERROR_TEMPLATE);
    add('Default5xx', ResponseType.DEFAULT_5XX, GATEWAY_ERROR_TEMPLATE);
  }

  /** Exactly what the API's code declares (lambdas/api/access.ts). */
  private grantAccess(props: VtoApiProps): void {
    grantAccess(this.handler, API_ACCESS, { data: props.data, stateMachines: props.stateMachines });
  }
}
