/**
 * The synthesized VtoStack: the properties that matter on AWS, read from the template.
 * Asset bundling is skipped here (`aws:cdk:bundling-stacks: []`, as `cdk ls` does); the
 * entries must still exist, and test/infra/bundling.test.ts bundles for real.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnElement, Stack, Validations, type AppProps } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES, STATE_MACHINES, TABLES } from '../../core/resources.ts';
import { ERROR_NAMES } from '../../core/taxonomy.ts';
import { STATE_FUNCTIONS, type StateFunctionId } from '../../statemachines/tasks.ts';
import { CONTEXT_KEYS, createVtoApp } from '../../lib/app.ts';
import { PipelineData, PipelineDataError, UNCLAIMED_UPLOAD_TAG } from '../../lib/data.ts';
import { STATE_FUNCTION_DEFS } from '../../lambdas/catalog.ts';
import { AccessGrantError, accessStatements } from '../../lib/grants.ts';
import { WEBHOOK_SENDER_ACCESS } from '../../adapters/webhook-delivery.ts';
import { HOSTED_INPAINT_SECRET_ENV } from '../../lib/functions.ts';
import { EmptyAcknowledgementReasonError, acknowledge } from '../../lib/nag.ts';
import { PipelineFunction, SecretInEnvironmentError } from '../../lib/pipeline-function.ts';
import { SYNC_EVENTS_RULE, placeholdersOf } from '../../lib/state-machines.ts';
import { VtoStack, type VtoStackProps } from '../../lib/stack.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../core/metrics.ts';

type Json = Record<string, unknown>;

const outRoot = mkdtempSync(join(tmpdir(), 'vto-infra-'));
let apps = 0;
// No bundling and no asset copies (the 20 MB sharp layer): these tests read the template.
const appProps = (): AppProps => ({ outdir: join(outRoot, `app-${++apps}`), context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:disable-asset-staging': true } });
const newStack = (props: VtoStackProps = {}) => new VtoStack(new App(appProps()), 'Test', props);
/** A scope for constructs tested alone. */
const bareStack = () => new Stack(new App(appProps()), 'Test');
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

const logicalId = (stack: VtoStack, c: IConstruct) => {
  const el = c instanceof CfnElement ? c : c.node.defaultChild;
  if (!(el instanceof CfnElement)) throw new TypeError(`${c.node.path} has no CloudFormation element`);
  return stack.resolve(el.logicalId) as string;
};
const fnId = (stack: VtoStack, fn: StateFunctionId) => logicalId(stack, stack.functions.functions[fn].function);
const resourcesOf = (t: Template, type: string) => Object.entries(t.findResources(type)) as [string, { Properties: Json }][];
const statementsOf = (t: Template, roleLogicalId: string): Json[] =>
  resourcesOf(t, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties['Roles']).includes(`"${roleLogicalId}"`))
    .flatMap(([, p]) => (p.Properties['PolicyDocument'] as { Statement: Json[] }).Statement);
const actionsOn = (statements: Json[], resourceRef: string): string[] =>
  statements.filter((s) => JSON.stringify(s['Resource']).includes(resourceRef)).flatMap((s) => [s['Action']].flat() as string[]);
const committed = (key: keyof typeof STATE_MACHINES) => readFileSync(`statemachines/${STATE_MACHINES[key].file}`, 'utf8');

describe('the default stack', () => {
  let stack: VtoStack;
  let template: Template;
  beforeAll(() => {
    stack = newStack();
    template = Template.fromStack(stack);
  });

  const machine = (key: 'job' | 'pack') => {
    const props = template.findResources('AWS::StepFunctions::StateMachine')[logicalId(stack, stack.stateMachines[key])]?.['Properties'] as Json;
    return { props, definition: props['DefinitionString'] as string, substitutions: props['DefinitionSubstitutions'] as Json };
  };

  it.each(['job', 'pack'] as const)('deploys the committed %s ASL unchanged, with every placeholder substituted', (key) => {
    // Act
    const { definition, substitutions } = machine(key);

    // Assess
    expect(typeof definition).toBe('string');
    expect(JSON.parse(definition)).toEqual(JSON.parse(committed(key)));
    expect(Object.keys(substitutions).sort()).toEqual(placeholdersOf(committed(key)).sort());
  });

  it('substitutes each function placeholder with that function\'s ARN, the queue URL and the job machine ARN', () => {
    // Act
    const job = machine('job').substitutions;
    const pack = machine('pack').substitutions;

    // Assess
    for (const fn of STATE_FUNCTIONS) {
      const value = job[`${fn}FunctionArn`] ?? pack[`${fn}FunctionArn`];
      expect(value, fn).toEqual({ 'Fn::GetAtt': [fnId(stack, fn), 'Arn'] });
    }
    expect(job['GpuQueueUrl']).toEqual({ Ref: logicalId(stack, stack.data.gpuQueue) });
    expect(pack['JobStateMachineArn']).toEqual({ Ref: logicalId(stack, stack.stateMachines.job) });
  });

  it('matches every taxonomy error name in the deployed Retry and Catch blocks', () => {
    // Prepare
    const matched = new Set<string>();
    const collect = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(collect);
      else if (x !== null && typeof x === 'object') {
        for (const [k, v] of Object.entries(x)) {
          if (k === 'ErrorEquals') (v as string[]).forEach((n) => matched.add(n));
          else collect(v);
        }
      }
    };

    // Act
    collect(JSON.parse(machine('job').definition));
    collect(JSON.parse(machine('pack').definition));

    // Assess
    expect(ERROR_NAMES.filter((n) => !matched.has(n))).toEqual([]);
  });

  it.each(['job', 'pack'] as const)('runs the %s machine as STANDARD with logging level ALL and X-Ray tracing', (key) => {
    // Act
    const { props } = machine(key);

    // Assess
    expect(props).toMatchObject({
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
    });
  });

  it('runs every catalog function on nodejs24.x, arm64, ESM, with active tracing and its own log group', () => {
    // Act
    const functions = resourcesOf(template, 'AWS::Lambda::Function');

    // Assess
    // One function per state function, plus the API's, the watchdog's, the reconciler's and the webhook sender's.
    expect(functions).toHaveLength(STATE_FUNCTIONS.length + 4);
    for (const [id, { Properties: p }] of functions) {
      expect(p, id).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) as unknown } },
        Environment: { Variables: { POWERTOOLS_SERVICE_NAME: SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE } },
      });
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: Match.anyValue() });
  });

  it('gives no function a secret value: the hosted functions get the secret\'s ARN and read access', () => {
    // Prepare
    const secretId = logicalId(stack, stack.hostedInpaintApiKey);

    for (const fn of STATE_FUNCTIONS) {
      // Act
      const props = template.findResources('AWS::Lambda::Function')[fnId(stack, fn)]?.['Properties'] as { Environment: { Variables: Json } };
      const env = props.Environment.Variables;
      const canRead = actionsOn(statementsOf(template, logicalId(stack, stack.functions.functions[fn].role)), secretId);

      // Assess
      const hosted = STATE_FUNCTION_DEFS[fn].providers?.includes('hostedInpaint') ?? false;
      expect(Object.keys(env).filter((k) => /SECRET|KEY|TOKEN|PASSWORD/i.test(k) && !k.endsWith('_ARN')), fn).toEqual([]);
      expect(env[HOSTED_INPAINT_SECRET_ENV], fn).toEqual(hosted ? { Ref: secretId } : undefined);
      expect(canRead.includes('secretsmanager:GetSecretValue'), fn).toBe(hosted);
    }
    template.hasResourceProperties('AWS::SecretsManager::Secret', { SecretString: Match.absent() });
  });

  /** Each (action, resource) a set of statements allows, beyond logs and traces, sorted. */
  const pairs = (statements: Json[]) => statements.flatMap((st) => ([st['Action']].flat() as string[])
    .filter((a) => !a.startsWith('logs:') && !a.startsWith('xray:'))
    .flatMap((a) => [st['Resource']].flat().map((r) => `${a} ${JSON.stringify(r)}`))).sort();

  it('grants each function exactly the access its catalog entry declares, beyond its logs and traces', () => {
    for (const fn of STATE_FUNCTIONS) {
      // Act
      const granted = pairs(statementsOf(template, logicalId(stack, stack.functions.functions[fn].role)));
      const declared = accessStatements(stack, STATE_FUNCTION_DEFS[fn].access, { data: stack.data, secrets: { hostedInpaint: stack.hostedInpaintApiKey } })
        .statements.map((st) => stack.resolve(st.toStatementJson()) as Json);

      // Assess
      expect(granted, fn).toEqual(pairs(declared));
      expect(granted.length, fn).toBeGreaterThan(0);
    }
  });

  it('grants the webhook sender exactly its declared access, beyond its logs, traces and its event source\'s consume grant', () => {
    // Prepare: what CDK's SqsEventSource grants for Lambda's poller (Queue.grantConsumeMessages).
    const { events } = stack;
    const queue = JSON.stringify(stack.resolve(events.webhookQueue.queueArn));
    const consume = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'].map((a) => `${a} ${queue}`);

    // Act
    const granted = pairs(statementsOf(template, logicalId(stack, events.sender.role)));
    const declared = pairs(accessStatements(stack, WEBHOOK_SENDER_ACCESS, {
      data: stack.data, secrets: { webhook: events.webhookSecret }, webhookQueues: { queue: events.webhookQueue, deadLetter: events.webhookDeadLetterQueue },
    }).statements.map((st) => stack.resolve(st.toStatementJson()) as Json));

    // Assess: the declaration names the secret, both queues and the packs table, by their own ARNs.
    expect(granted).toEqual([...declared, ...consume].sort());
    expect(declared).toEqual([
      `dynamodb:GetItem ${JSON.stringify(stack.resolve(stack.data.tables.packs.tableArn))}`,
      `dynamodb:UpdateItem ${JSON.stringify(stack.resolve(stack.data.tables.packs.tableArn))}`,
      `secretsmanager:GetSecretValue ${JSON.stringify({ Ref: logicalId(stack, events.webhookSecret) })}`,
      `sqs:ChangeMessageVisibility ${queue}`,
      `sqs:SendMessage ${JSON.stringify(stack.resolve(events.webhookDeadLetterQueue.queueArn))}`,
    ]);
  });

  it('refuses a grant whose resource is not given where it is made, naming the target', () => {
    // Prepare
    const scope = bareStack();

    // Act + Assess
    const queues = { queue: stack.events.webhookQueue, deadLetter: stack.events.webhookDeadLetterQueue };
    expect(() => accessStatements(scope, WEBHOOK_SENDER_ACCESS, { data: stack.data, secrets: { webhook: stack.events.webhookSecret } }))
      .toThrow(new AccessGrantError('Test: queue:webhooks needs the webhooks queue, which is not given where it is granted'));
    expect(() => accessStatements(scope, WEBHOOK_SENDER_ACCESS, { data: stack.data, webhookQueues: queues }))
      .toThrow(new AccessGrantError('Test: secret:webhook needs the webhook secret, which is not given where it is granted'));
  });

  it('lets the circuit-breaking functions write their breakers in the control table', () => {
    const control = logicalId(stack, stack.data.tables.control);
    for (const fn of ['SegmentationCall', 'HostedSubmit', 'HostedPoll', 'QaCheck'] as const) {
      const actions = actionsOn(statementsOf(template, logicalId(stack, stack.functions.functions[fn].role)), control);
      expect(actions, fn).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem']));
    }
  });

  it.each(Object.entries(TABLES))('creates the %s table on demand, encrypted, with PITR, deletion protection, its indexes and TTL', (key, def) => {
    // Act
    const props = template.findResources('AWS::DynamoDB::GlobalTable')[logicalId(stack, stack.data.tables[key as keyof typeof TABLES])]?.['Properties'] as Json;

    // Assess
    expect(props).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      KeySchema: [{ AttributeName: def.partitionKey.name, KeyType: 'HASH' }, ...('sortKey' in def ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' }] : [])],
      Replicas: [{ DeletionProtectionEnabled: true, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }],
    });
    const indexes = (props['GlobalSecondaryIndexes'] ?? []) as Json[];
    expect(indexes.map((ix) => ix['IndexName'])).toEqual(def.indexes.map((ix) => ix.name));
    expect(props['TimeToLiveSpecification']).toEqual('ttlAttribute' in def ? { AttributeName: def.ttlAttribute, Enabled: true } : undefined);
  });

  it('indexes jobs by status and updatedAt for the watchdog, and expires recovery events by TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: Match.arrayWith([Match.objectLike({
        IndexName: 'byStatus',
        KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }, { AttributeName: 'updatedAt', KeyType: 'RANGE' }],
      })]),
    });
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } });
  });

  it('keeps artifacts encrypted, private, versioned, logged, TLS-only, and expires unclaimed uploads, old versions and aborted multipart uploads', () => {
    // Prepare
    const bucketId = logicalId(stack, stack.data.artifacts);

    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(stack, stack.data.accessLogs) } },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
          Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
          Match.objectLike({ TagFilters: [{ Key: UNCLAIMED_UPLOAD_TAG.key, Value: UNCLAIMED_UPLOAD_TAG.value }], ExpirationInDays: 7 }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]),
      },
    });
  });

  it('redrives the GPU queue to its dead-letter queue, with settings from core and TLS-only policies on both', () => {
    // Prepare
    const queueId = logicalId(stack, stack.data.gpuQueue);
    const dlqId = logicalId(stack, stack.data.gpuDeadLetterQueue);

    // Act
    const queue = template.findResources('AWS::SQS::Queue')[queueId]?.['Properties'] as Json;

    // Assess
    expect(queue).toMatchObject({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: QUEUES.gpu.visibilityTimeoutSeconds,
      MessageRetentionPeriod: QUEUES.gpu.retentionSeconds,
      ReceiveMessageWaitTimeSeconds: QUEUES.gpu.receiveWaitSeconds,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: QUEUES.gpu.deadLetter.maxReceiveCount },
    });
    for (const id of [queueId, dlqId]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
  });

  it('lets the job machine invoke its functions (unqualified ARNs) and send to the GPU queue, but start no executions', () => {
    // Act
    const statements = statementsOf(template, logicalId(stack, stack.stateMachines.job.role));

    // Assess
    expect(actionsOn(statements, logicalId(stack, stack.data.gpuQueue))).toContain('sqs:SendMessage');
    for (const fn of placeholdersOf(committed('job')).filter((p) => p.endsWith('FunctionArn'))) {
      expect(actionsOn(statements, fnId(stack, fn.replace(/FunctionArn$/, '') as StateFunctionId)), fn).toContain('lambda:InvokeFunction');
    }
    expect(statements.flatMap((s) => [s['Action']].flat())).not.toContain('states:StartExecution');
  });

  it('lets the pack machine start, describe and stop job executions and manage the .sync events rule', () => {
    // Act
    const statements = statementsOf(template, logicalId(stack, stack.stateMachines.pack.role));
    const text = JSON.stringify(statements);

    // Assess
    expect(actionsOn(statements, logicalId(stack, stack.stateMachines.job))).toEqual(['states:StartExecution']);
    expect(actionsOn(statements, ':execution:Test-job:*')).toEqual(['states:DescribeExecution', 'states:StopExecution']);
    expect(actionsOn(statements, `:rule/${SYNC_EVENTS_RULE}`)).toEqual(['events:PutTargets', 'events:PutRule', 'events:DescribeRule']);
    expect(text).not.toContain('sqs:SendMessage');
  });

  it('outputs the machines with console links, the tables, the queue and the bucket', () => {
    // Act
    const outputs = template.findOutputs('*');

    // Assess
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining([
      'PackStateMachineArn', 'JobStateMachineArn', 'PackStateMachineConsole', 'JobStateMachineConsole',
      'PacksTableName', 'JobsTableName', 'EventsTableName', 'ControlTableName',
      'GpuQueueUrl', 'GpuQueueName', 'GpuDeadLetterQueueUrl', 'ArtifactsBucketName', 'HostedInpaintSecretArn',
    ]));
    expect(outputs['JobStateMachineConsole']?.['Value']).toEqual({
      'Fn::Join': ['', [
        'https://', { Ref: 'AWS::Region' }, '.console.aws.amazon.com/states/home?region=', { Ref: 'AWS::Region' },
        '#/statemachines/view/', { Ref: logicalId(stack, stack.stateMachines.job) },
      ]],
    });
  });
});

describe('deploy and redeploy safety', () => {
  let stack: VtoStack;
  let template: Template;
  beforeAll(() => {
    stack = newStack();
    template = Template.fromStack(stack);
  });

  it('names the machines\' log groups after this stack instance, so a group retained by a failed create cannot block the next', () => {
    for (const key of ['job', 'pack'] as const) {
      // Act
      const group = stack.stateMachines[key === 'job' ? 'jobLogGroup' : 'packLogGroup'];
      const props = template.findResources('AWS::Logs::LogGroup')[logicalId(stack, group)]?.['Properties'] as Json;

      // Assess
      expect(props['LogGroupName'], key).toEqual({
        'Fn::Join': ['', [`/aws/vendedlogs/states/Test-${key}-`, { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]],
      });
    }
    // No other log group has a fixed name.
    const named = resourcesOf(template, 'AWS::Logs::LogGroup').filter(([, r]) => typeof r.Properties['LogGroupName'] === 'string');
    expect(named).toEqual([]);
  });

  it('creates the hosted API key secret empty, and keeps it on deletion under deletion protection', () => {
    // Prepare
    const throwaway = newStack({ deletionProtection: false });

    // Act
    // The hosted inpaint key's secret (the webhook signing secret is generated: lib/events.ts).
    const hostedKey = (s: VtoStack) => Object.entries(Template.fromStack(s).findResources('AWS::SecretsManager::Secret'))
      .filter(([id]) => id === logicalId(s, s.hostedInpaintApiKey as unknown as IConstruct)).map(([, r]) => r);
    const secrets = hostedKey(stack);
    const dropped = hostedKey(throwaway);

    // Assess
    expect(secrets).toHaveLength(1);
    expect(secrets[0]?.['Properties']).not.toHaveProperty('GenerateSecretString');
    expect(secrets[0]?.['Properties']).not.toHaveProperty('SecretString');
    expect(secrets[0]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(dropped[0]).toMatchObject({ DeletionPolicy: 'Delete' });
  });

  it('outputs a managed policy that lets operators invoke every method of the API, and only that', () => {
    // Act
    const output = template.findOutputs('OperatorInvokePolicyArn')['OperatorInvokePolicyArn'];
    const policy = template.findResources('AWS::IAM::ManagedPolicy')[logicalId(stack, stack.operatorInvokePolicy)]?.['Properties'] as { PolicyDocument: { Statement: Json[] } };

    // Assess
    expect(output?.['Value']).toEqual({ Ref: logicalId(stack, stack.operatorInvokePolicy) });
    expect(policy.PolicyDocument.Statement).toHaveLength(1);
    expect(policy.PolicyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
    expect(JSON.stringify(policy.PolicyDocument.Statement[0]?.['Resource'])).toContain(`{"Ref":"${logicalId(stack, stack.api.api)}"}`);
  });

  it('passes deploy-time settings from context to every function as the variables the runtime parses', () => {
    // Prepare
    const context = {
      'aws:cdk:bundling-stacks': [], 'aws:cdk:disable-asset-staging': true, modelChain: ['a.safetensors', 'b.safetensors'], breakerFailureThreshold: 3,
      watchdogDeadlines: 'inpainting=2400', segmentationPrompts: 'shirt,top', watchdogRateMinutes: 2,
    };

    // Act
    const app = createVtoApp({ outdir: join(outRoot, `app-${++apps}`), context });
    const t = Template.fromStack(app.stack);

    // Assess
    const functions = resourcesOf(t, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(STATE_FUNCTIONS.length);
    for (const [id, { Properties: p }] of functions) {
      expect((p['Environment'] as { Variables: Json }).Variables, id).toMatchObject({
        VTO_MODEL_CHAIN: 'a.safetensors,b.safetensors', VTO_BREAKER_FAILURE_THRESHOLD: '3',
        VTO_WATCHDOG_DEADLINES: 'inpainting=2400', VTO_SEGMENTATION_PROMPTS: 'shirt,top',
      });
    }
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(2 minutes)' });
  });

  it('lists every context key in cdk.json and in README\'s deploy section', () => {
    // Act
    const cdkJson = JSON.parse(readFileSync('cdk.json', 'utf8')) as { context: Record<string, unknown> };
    const readme = readFileSync('README.md', 'utf8');
    const deploy = readme.slice(readme.indexOf('## Deploy'), readme.indexOf('## Development'));

    // Assess
    // Keys under @aws-cdk… are CDK's own feature flags, set to their defaults so the CLI has none to report.
    expect(Object.keys(cdkJson.context).filter((k) => !k.startsWith('@aws-cdk')).sort()).toEqual([...CONTEXT_KEYS].sort());
    for (const key of CONTEXT_KEYS) expect(deploy, key).toMatch(new RegExp(`^\\| [^|]*\`${key}\``, 'm'));
  });
});

describe('stack options', () => {
  it('drops deletion protection and retention for a throwaway stack', () => {
    // Act
    const template = Template.fromStack(newStack({ deletionProtection: false }));

    // Assess
    template.allResourcesProperties('AWS::DynamoDB::GlobalTable', { Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })] });
    expect(Object.values(template.findResources('AWS::DynamoDB::GlobalTable')).map((r) => r['DeletionPolicy'])).toEqual(['Delete', 'Delete', 'Delete', 'Delete']);
  });

  it('uses an existing hosted API key secret by ARN instead of creating one', () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vto/hosted-AbCdEf';

    // Act
    const stack = newStack({ hostedInpaintSecretArn: arn });
    const template = Template.fromStack(stack);

    // Assess
    // Only the webhook signing secret (lib/events.ts) is created.
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    expect(stack.node.tryFindChild('HostedInpaintApiKey')).not.toBeInstanceOf(Secret);
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ [HOSTED_INPAINT_SECRET_ENV]: arn }) } });
  });

  it('passes provider URLs to the functions that call them', () => {
    // Act
    const stack = newStack({ segmentationUrl: 'https://seg.example.com', analyzerUrl: 'https://an.example.com', hostedInpaintUrl: 'https://inpaint.example.com' });
    const template = Template.fromStack(stack);
    const env = (fn: StateFunctionId) =>
      (template.findResources('AWS::Lambda::Function')[fnId(stack, fn)]?.['Properties'] as { Environment: { Variables: Json } }).Environment.Variables;

    // Assess
    expect(env('SegmentationCall')['SEGMENTATION_URL']).toBe('https://seg.example.com');
    expect(env('QaCheck')['ANALYZER_URL']).toBe('https://an.example.com');
    expect(env('HostedPoll')['HOSTED_INPAINT_URL']).toBe('https://inpaint.example.com');
    expect(env('JobStart')['SEGMENTATION_URL']).toBeUndefined();
  });

  it('attaches the sharp layer installed by npm ci to every function, or an existing layer when its ARN is given', () => {
    // Prepare
    const arn = 'arn:aws:lambda:eu-west-1:123456789012:layer:sharp-arm64:3';
    const own = newStack();

    // Act
    const template = Template.fromStack(newStack({ sharpLayerArn: arn }));
    const ownTemplate = Template.fromStack(own);

    // Assess
    template.allResourcesProperties('AWS::Lambda::Function', { Layers: [arn] });
    template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
    ownTemplate.hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleArchitectures: ['arm64'], CompatibleRuntimes: ['nodejs24.x'] });
    ownTemplate.allResourcesProperties('AWS::Lambda::Function', { Layers: [{ Ref: logicalId(own, own.sharpLayer) }] });
  });

  it.each([
    [{ segmentationUrl: 'http://seg.example.com' }, { name: 'ProviderUrlError', message: 'segmentationUrl must be an https URL without a trailing slash, got "http://seg.example.com"' }],
    [{ settings: { breakerFailureThreshold: '0' } }, { name: 'DeploySettingError', message: 'context breakerFailureThreshold (VTO_BREAKER_FAILURE_THRESHOLD) is invalid: Invalid breaker settings: VTO_BREAKER_FAILURE_THRESHOLD: Too small: expected number to be >=1' }],
    [{ settings: { watchdogDeadlines: 'cooking=60' } }, { name: 'DeploySettingError', message: expect.stringMatching(/^context watchdogDeadlines \(VTO_WATCHDOG_DEADLINES\) is invalid: .*"cooking=60" is not status=seconds/) as unknown as string }],
    [{ settings: { providerTimeoutMs: 'soon' } }, { name: 'DeploySettingError', message: expect.stringMatching(/^context providerTimeoutMs \(PROVIDER_TIMEOUT_MS\) is invalid: PROVIDER_TIMEOUT_MS: /) as unknown as string }],
    [{ settings: { stuckAfterSeconds: '-5' } }, { name: 'DeploySettingError', message: expect.stringMatching(/^context stuckAfterSeconds \(VTO_STUCK_AFTER_SECONDS\) is invalid: VTO_STUCK_AFTER_SECONDS: /) as unknown as string }],
  ] as const)('fails at synth on a bad prop or setting, naming it (%o)', (props, expected) => {
    // Act
    let error: unknown;
    try { newStack(props); } catch (e) { error = e; }

    // Assess
    expect(error).toMatchObject({ name: expected.name, message: expected.message });
  });

  it('refuses a point-in-time recovery period DynamoDB does not offer', () => {
    // Act
    let error: unknown;
    try { new PipelineData(bareStack(), 'Data', { pointInTimeRecoveryDays: 36 }); } catch (e) { error = e; }

    // Assess
    expect(error).toBeInstanceOf(PipelineDataError);
    expect(error).toMatchObject({ name: 'PipelineDataError', message: 'pointInTimeRecoveryDays must be an integer from 1 to 35, got 36' });
  });

  it('refuses a secret-like environment variable on a function', () => {
    // Act
    let error: unknown;
    try {
      new PipelineFunction(bareStack(), 'Leaky', { entry: 'lambdas/handlers/job-start.ts', description: 'x', environment: { HOSTED_API_KEY: 'k' } });
    } catch (e) { error = e; }

    // Assess
    expect(error).toBeInstanceOf(SecretInEnvironmentError);
    expect(error).toMatchObject({
      name: 'SecretInEnvironmentError',
      message: 'Test/Leaky: environment variable HOSTED_API_KEY looks like a secret; pass its ARN (HOSTED_API_KEY_ARN) and grant read access instead',
    });
  });
});

describe('cdk-nag AwsSolutions checks', () => {
  const acknowledgements = (root: IConstruct) =>
    root.node.findAll().flatMap((c) => c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id, reason }))));

  let app: App;
  beforeAll(() => {
    app = createVtoApp(appProps()).app;
  });

  it('synthesizes the app with zero unacknowledged findings', () => {
    // Act
    const report = new AwsSolutionsChecks(app).validateScope(app);

    // Assess
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(() => app.synth()).not.toThrow();
  });

  it('acknowledges findings only with a reason', () => {
    // Act
    const acks = acknowledgements(app);

    // Assess
    expect(acks.length).toBeGreaterThan(0);
    expect(acks.filter((a) => a.reason.trim().length < 20)).toEqual([]);
  });

  it('fails synthesis of the app when a finding is not acknowledged', () => {
    // Prepare
    const vto = createVtoApp(appProps());
    new Bucket(vto.stack, 'Unchecked');

    // Act
    let error: unknown;
    try { vto.app.synth(); } catch (e) { error = e; }

    // Assess
    expect(error).toMatchObject({ name: 'ValidationFailed' });
    expect((error as Error).message).toContain("Vto/Unchecked/Resource aws-cdk-lib.aws_s3.CfnBucket\n   Acknowledge with 'AwsSolutions::AwsSolutions-S1'");
  });

  it('rejects an acknowledgement without a reason', () => {
    // Act
    let error: unknown;
    try { acknowledge(bareStack(), { id: 'AwsSolutions-S1', reason: ' ' }); } catch (e) { error = e; }

    // Assess
    expect(error).toBeInstanceOf(EmptyAcknowledgementReasonError);
    expect(error).toMatchObject({ name: 'EmptyAcknowledgementReasonError', message: 'The acknowledgement of AwsSolutions-S1 needs a reason' });
  });
});
