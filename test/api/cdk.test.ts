/**
 * The API's CDK construct, synthesized with cdk-nag's AwsSolutions checks: IAM on every
 * method, no gateway validation (the function's zod schemas are the one validator), stage throttling, access
 * logs and tracing, CORS only when asked, gateway refusals in the API's error shape; and
 * the RestApi holds exactly the routes of the committed OpenAPI document.
 */
import { readFileSync } from 'node:fs';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { VtoApi, VtoApiError, type VtoApiProps } from '../../lib/api.ts';
import { PipelineData } from '../../lib/data.ts';
import { OPENAPI_PATH } from '../../lambdas/api/openapi.ts';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

function synth(props: Partial<VtoApiProps> = {}): Template {
  // No bundling: these tests read the template, not the function's code.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const stack = new Stack(app, 'ApiTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  // As VtoStack sets it: access logs by bucket policy, which buckets without ACLs need.
  stack.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
  const data = new PipelineData(stack, 'Data', { deletionProtection: false });
  const stateMachines = {
    pack: StateMachine.fromStateMachineArn(stack, 'Pack', 'arn:aws:states:eu-west-1:123456789012:stateMachine:vto-pack'),
    job: StateMachine.fromStateMachineArn(stack, 'Job', 'arn:aws:states:eu-west-1:123456789012:stateMachine:vto-job'),
  };
  new VtoApi(stack, 'Api', { data, stateMachines, ...props });
  return Template.fromStack(stack);
}

/** "METHOD /path" of every method of the RestApi, rebuilt from the resource tree. */
function gatewayRoutes(t: Template): string[] {
  const resources = t.toJSON()['Resources'] as Resources;
  const pathOf = (ref: unknown): string => {
    const logicalId = (ref as { Ref?: string }).Ref;
    if (logicalId === undefined) return ''; // Fn::GetAtt RootResourceId
    const r = resources[logicalId]!.Properties;
    return `${pathOf(r['ParentId'])}/${String(r['PathPart'])}`;
  };
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::ApiGateway::Method')
    .map((r) => `${String(r.Properties['HttpMethod'])} ${pathOf(r.Properties['ResourceId']) || '/'}`)
    .sort();
}

const methods = (t: Template) => Object.values(t.findResources('AWS::ApiGateway::Method')) as { Properties: Record<string, unknown> }[];

describe('the API construct', () => {
  const t = synth();

  it('synthesizes with every cdk-nag AwsSolutions finding resolved or acknowledged', () => {
    expect(t.toJSON()['Resources']).toBeDefined();
  });

  it('holds exactly the routes of the committed OpenAPI document, and the document exactly those of the RestApi', () => {
    const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    expect(gatewayRoutes(t)).toEqual(documented);
  });

  it('requires IAM authorization on every method', () => {
    expect(methods(t).map((m) => m.Properties['AuthorizationType'])).toEqual(methods(t).map(() => 'AWS_IAM'));
  });

  it('leaves body and parameter validation to the function: no gateway models or validators to answer with another 400', () => {
    t.resourceCountIs('AWS::ApiGateway::RequestValidator', 0);
    t.resourceCountIs('AWS::ApiGateway::Model', 0);
    for (const m of methods(t)) expect(m.Properties['RequestModels'], String(m.Properties['OperationName'])).toBeUndefined();
  });

  it('throttles, access-logs and traces the stage', () => {
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1', TracingEnabled: true,
      AccessLogSetting: { DestinationArn: {} },
      MethodSettings: [{ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100, LoggingLevel: 'ERROR', DataTraceEnabled: false }],
    });
  });

  it('answers gateway refusals in the API\'s error shape', () => {
    const responses = Object.values(t.findResources('AWS::ApiGateway::GatewayResponse')) as { Properties: { ResponseType: string; ResponseTemplates: Record<string, string> } }[];
    expect(responses.map((r) => r.Properties.ResponseType).sort()).toEqual(['DEFAULT_4XX', 'DEFAULT_5XX']);
    const sample = responses.find((r) => r.Properties.ResponseType === 'DEFAULT_4XX')!.Properties.ResponseTemplates['application/json']!;
    // With the context variables filled in as API Gateway does, the template is the error shape.
    const filled = sample.replaceAll('$context.error.messageString', '"Missing Authentication Token"').replace('$context.error.responseType', 'MISSING_AUTHENTICATION_TOKEN').replace('$context.requestId', 'r-1');
    expect(JSON.parse(filled)).toEqual({ message: 'Missing Authentication Token', error: { code: 'MISSING_AUTHENTICATION_TOKEN', message: 'Missing Authentication Token' }, requestId: 'r-1' });
  });

  it('has no CORS unless origins are given', () => {
    expect(methods(t).filter((m) => m.Properties['HttpMethod'] === 'OPTIONS')).toEqual([]);
  });

  it('gives the function the machines, tables, bucket and queues it needs, and lets it start and stop executions', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x', Architectures: ['arm64'],
      Environment: { Variables: {
        PACK_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:vto-pack',
        JOB_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:vto-job',
        PACKS_TABLE: {}, JOBS_TABLE: {}, EVENTS_TABLE: {}, CONTROL_TABLE: {}, ARTIFACTS_BUCKET: {}, GPU_QUEUE_URL: {}, GPU_DLQ_URL: {},
      } },
    });
    const actions = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    for (const a of ['states:StartExecution', 'states:StopExecution', 'states:ListExecutions', 'sqs:GetQueueAttributes', 's3:PutObject', 's3:DeleteObject']) {
      expect(actions).toContain(a);
    }
  });
});

describe('CORS when origins are given', () => {
  it('answers preflight for those origins only, without authorization, and adds the origin to gateway refusals', () => {
    const t = synth({ corsOrigins: ['https://console.example.com'] });
    const options = methods(t).filter((m) => m.Properties['HttpMethod'] === 'OPTIONS');
    expect(options.length).toBeGreaterThan(0);
    expect(options.every((m) => m.Properties['AuthorizationType'] === 'NONE')).toBe(true);
    expect(JSON.stringify(options)).toContain("'https://console.example.com'");
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'DEFAULT_4XX', ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': "'https://console.example.com'" } });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { VTO_API_CORS_ORIGINS: 'https://console.example.com' } } });
  });

  it.each([['*'], ['console.example.com'], ['https://console.example.com/path']])('refuses the origin %s', (origin) => {
    expect(() => synth({ corsOrigins: [origin] })).toThrow(VtoApiError);
  });
});
