/**
 * The job and pack state machines, created from the committed statemachines/*.asl.json:
 * the ASL that runs offline is the ASL that deploys, and only the `${…}` placeholders
 * (function ARNs, the GPU queue URL, the job machine ARN) are substituted by CloudFormation.
 * Each machine's role is granted exactly what its definition's placeholders name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Grant, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { STATE_MACHINES } from '../core/resources.ts';
import {
  GPU_QUEUE_URL_KEY, JOB_STATE_MACHINE_ARN_KEY, STATE_FUNCTIONS, functionArnKey, type StateFunctionId,
} from '../statemachines/tasks.ts';
import { acknowledge, wildcardResource } from './nag.ts';
import { PROJECT_ROOT } from './pipeline-function.ts';

/** The rule Step Functions manages to learn that a `.sync` child execution ended. */
export const SYNC_EVENTS_RULE = 'StepFunctionsGetEventsForStepFunctionsExecutionRule';

type MachineKey = keyof typeof STATE_MACHINES;

export interface PipelineStateMachinesProps {
  /** The function behind every `${<Id>FunctionArn}` placeholder. */
  readonly functions: Readonly<Record<StateFunctionId, IFunction>>;
  /** The queue behind `${GpuQueueUrl}`. */
  readonly gpuQueue: IQueue;
  /**
   * Prefix of the machines' names; they read `<prefix>-job` and `<prefix>-pack` in the console.
   * @default - the stack name
   */
  readonly namePrefix?: string;
  /**
   * How long execution logs (level ALL, with execution data) are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the execution log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

export class StateMachineDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateMachineDefinitionError';
  }
}

/** The committed ASL of a machine, as deployed: compact JSON, same document. */
export function committedAsl(key: MachineKey): string {
  const text = readFileSync(join(PROJECT_ROOT, 'statemachines', STATE_MACHINES[key].file), 'utf8');
  return JSON.stringify(JSON.parse(text));
}

/** Every `${Name}` placeholder in a definition, in order of first appearance. */
export function placeholdersOf(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] ?? ''))];
}

export class PipelineStateMachines extends Construct {
  public readonly job: StateMachine;
  public readonly pack: StateMachine;
  public readonly jobLogGroup: LogGroup;
  public readonly packLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PipelineStateMachinesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const prefix = props.namePrefix ?? stack.stackName;
    const functionsByKey = new Map(STATE_FUNCTIONS.map((fn) => [functionArnKey(fn), props.functions[fn]]));

    const machine = (key: MachineKey, extra: Readonly<Record<string, string>>) => {
      const asl = committedAsl(key);
      const name = `${prefix}-${key}`;
      if (name.length > 80) throw new StateMachineDefinitionError(`State machine name ${name} is longer than 80 characters; pass a shorter namePrefix`);
      const substitutions: Record<string, string> = {};
      const invoked: IFunction[] = [];
      for (const placeholder of placeholdersOf(asl)) {
        const fn = functionsByKey.get(placeholder);
        const value = fn?.functionArn ?? extra[placeholder];
        if (value === undefined) {
          throw new StateMachineDefinitionError(`${STATE_MACHINES[key].file} uses \${${placeholder}}, which nothing substitutes`);
        }
        substitutions[placeholder] = value;
        if (fn !== undefined) invoked.push(fn);
      }
      const logGroup = new LogGroup(this, `${key === 'job' ? 'Job' : 'Pack'}Logs`, {
        // The vendedlogs prefix keeps CloudWatch Logs' resource policy small as machines multiply.
        // The stack id's UUID makes the name this stack instance's own: a group retained by a
        // failed first create cannot block the next create with "already exists".
        logGroupName: Fn.join('', [`/aws/vendedlogs/states/${name}-`, Fn.select(2, Fn.split('/', stack.stackId))]),
        retention: props.logRetention ?? RetentionDays.THREE_MONTHS,
        removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
      });
      const sm = new StateMachine(this, key === 'job' ? 'Job' : 'Pack', {
        stateMachineName: name,
        stateMachineType: StateMachineType.STANDARD,
        definitionBody: DefinitionBody.fromString(asl),
        definitionSubstitutions: substitutions,
        logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: true },
        tracingEnabled: true,
      });
      for (const fn of invoked) fn.grantInvokeLatestVersion(sm);
      acknowledge(sm.role, {
        id: wildcardResource('*'),
        reason: 'Step Functions needs X-Ray PutTraceSegments/GetSampling* and CloudWatch Logs delivery actions (CreateLogDelivery, PutResourcePolicy, …) for tracing and logging; neither supports resource-level permissions.',
      });
      return { sm, logGroup, uses: (placeholder: string) => placeholder in substitutions };
    };

    const job = machine('job', { [GPU_QUEUE_URL_KEY]: props.gpuQueue.queueUrl });
    if (job.uses(GPU_QUEUE_URL_KEY)) props.gpuQueue.grantSendMessages(job.sm);
    this.job = job.sm;
    this.jobLogGroup = job.logGroup;

    const pack = machine('pack', { [JOB_STATE_MACHINE_ARN_KEY]: this.job.stateMachineArn });
    this.pack = pack.sm;
    this.packLogGroup = pack.logGroup;
    if (pack.uses(JOB_STATE_MACHINE_ARN_KEY)) this.grantRunJobsSync(this.pack, `${prefix}-job`);
  }

  /**
   * What `states:startExecution.sync:2` on the job machine needs (Step Functions developer
   * guide, "IAM policies for nested workflows"): start it, describe and stop its executions,
   * and manage the rule through which Step Functions hears that a child ended.
   */
  private grantRunJobsSync(parent: StateMachine, jobMachineName: string): void {
    const stack = Stack.of(this);
    this.job.grantStartExecution(parent);
    // The job machine's name is known here, so the execution ARN needs no Fn::Split.
    const executions = stack.formatArn({
      service: 'states', resource: 'execution', resourceName: `${jobMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    Grant.addToPrincipal({ grantee: parent, actions: ['states:DescribeExecution', 'states:StopExecution'], resourceArns: [executions] });
    parent.addToRolePolicy(new PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: SYNC_EVENTS_RULE })],
    }));
    acknowledge(parent.role, {
      id: wildcardResource(`arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${jobMachineName}:*`),
      reason: 'The pack machine describes and stops the job executions it starts; their names are per job and unknown at deploy time, so the grant covers the job machine\'s executions only.',
    });
  }
}
