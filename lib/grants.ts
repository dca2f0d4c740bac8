/**
 * Turns access declared beside the code (adapters/access.ts) into IAM statements on
 * this stack's resources: a table, an index, objects under a key pattern, a queue, a machine
 * or its executions, a secret, the lifecycle events bus. Exactly the
 * declared actions; wildcard resources (object key patterns, executions, `*`) are acknowledged
 * for cdk-nag here.
 */
import { ArnFormat, Stack, Token } from 'aws-cdk-lib';
import { Grant, ManagedPolicy, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { CfnStateMachine, type IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct, IConstruct } from 'constructs';
import { EVENT_BUS, TABLES } from '../core/resources.ts';
import type { Access, AccessTarget, QueueKey, SecretKey } from '../adapters/access.ts';
import type { PipelineData, TableKey } from './data.ts';
import { acknowledge, nagRef, wildcardResource, type Acknowledgement } from './nag.ts';

/** The resources access targets name; a target whose resource is not given here is an error. */
export interface AccessResources {
  readonly data: PipelineData;
  /** The secrets `secret:…` targets name (the hosted inpaint key, the webhook signing key). */
  readonly secrets?: { readonly [K in SecretKey]?: Pick<ISecret, 'secretArn'> };
  /** The webhook queue and its dead-letter queue (lib/events.ts), for `queue:webhooks…` targets. */
  readonly webhookQueues?: { readonly queue: IQueue; readonly deadLetter: IQueue };
  readonly stateMachines?: { readonly job: IStateMachine; readonly pack: IStateMachine };
}

export class AccessGrantError extends Error {
  override readonly name = 'AccessGrantError';
}

/**
 * The lifecycle bus's name, `{stack}-events`. The bus is built after the functions that put
 * events on it (lib/events.ts takes them as emitters), so their grants name it by this
 * name rather than by a reference to a construct that does not exist yet.
 */
export function eventBusName(scope: IConstruct): string {
  const stack = Stack.of(scope);
  if (Token.isUnresolved(stack.stackName)) throw new AccessGrantError(`${scope.node.path}: the event bus is named after the stack, whose name is not known at synth time`);
  return `${stack.stackName}-${EVENT_BUS.name}`;
}

interface ResolvedTarget {
  readonly arn: string;
  /** cdk-nag's id for this resource when it is a wildcard. */
  readonly wildcard?: string;
}

function machineName(sm: IStateMachine): string {
  const cfn = sm.node.defaultChild;
  if (cfn instanceof CfnStateMachine && typeof cfn.stateMachineName === 'string' && !Token.isUnresolved(cfn.stateMachineName)) return cfn.stateMachineName;
  const fromArn = Token.isUnresolved(sm.stateMachineArn) ? undefined : /:stateMachine:([^:]+)$/.exec(sm.stateMachineArn)?.[1];
  if (fromArn !== undefined) return fromArn;
  throw new AccessGrantError(`State machine ${sm.node.path} needs a name known at synth time to grant its executions`);
}

function resolveTarget(scope: IConstruct, on: AccessTarget, r: AccessResources): ResolvedTarget {
  const stack = Stack.of(scope);
  const [kind, rest = ''] = on === '*' ? ['*'] : on.split(/:(.*)/s);
  const machine = (key: string): IStateMachine => {
    const sm = r.stateMachines?.[key as 'job' | 'pack'];
    if (sm === undefined) throw new AccessGrantError(`${scope.node.path}: ${on} needs the state machines, which are not built yet where it is granted`);
    return sm;
  };
  switch (kind) {
    case '*':
      return { arn: '*', wildcard: wildcardResource('*') };
    case 'table':
      return { arn: r.data.tables[rest as TableKey].tableArn };
    case 'index': {
      const [table, index] = rest.split('/') as [TableKey, string];
      if (!TABLES[table].indexes.some((ix) => ix.name === index)) throw new AccessGrantError(`${on}: the ${table} table has no index ${index}`);
      return { arn: `${r.data.tables[table].tableArn}/index/${index}` };
    }
    case 'objects': {
      const pattern = rest.slice(rest.indexOf('/') + 1);
      return { arn: r.data.artifacts.arnForObjects(pattern), ...(pattern.includes('*') && { wildcard: wildcardResource(`${nagRef(r.data.artifacts, 'Arn')}/${pattern}`) }) };
    }
    case 'bucket':
      return { arn: r.data.artifacts.bucketArn };
    case 'queue': {
      const queues: Readonly<Record<QueueKey, IQueue | undefined>> = {
        gpu: r.data.gpuQueue, gpuDeadLetter: r.data.gpuDeadLetterQueue,
        webhooks: r.webhookQueues?.queue, webhooksDeadLetter: r.webhookQueues?.deadLetter,
      };
      const queue = queues[rest as QueueKey];
      if (queue === undefined) throw new AccessGrantError(`${scope.node.path}: ${on} needs the ${rest} queue, which is not given where it is granted`);
      return { arn: queue.queueArn };
    }
    case 'stateMachine':
      return { arn: machine(rest).stateMachineArn };
    case 'executions': {
      const name = machineName(machine(rest));
      const nagText = (v: string, pseudo: string) => (Token.isUnresolved(v) ? `<${pseudo}>` : v);
      return {
        arn: stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${name}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
        wildcard: wildcardResource(`arn:<AWS::Partition>:states:${nagText(stack.region, 'AWS::Region')}:${nagText(stack.account, 'AWS::AccountId')}:execution:${name}:*`),
      };
    }
    case 'bus':
      return { arn: stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: eventBusName(scope) }) };
    case 'secret': {
      const secret = r.secrets?.[rest as SecretKey];
      if (secret === undefined) throw new AccessGrantError(`${scope.node.path}: ${on} needs the ${rest} secret, which is not given where it is granted`);
      return { arn: secret.secretArn };
    }
    default:
      throw new AccessGrantError(`unknown access target ${on}`);
  }
}

const WILDCARD_REASON = 'Declared beside the code that makes these calls (adapters/access.ts): per-pack and per-job keys and execution names are unknown at deploy time, '
  + 'so the grant is the narrowest pattern (a prefix, one machine\'s executions); task tokens name no resource, so SendTask* is granted on "*".';

/** One statement per declared target, and the acknowledgements its wildcards need. */
export function accessStatements(scope: IConstruct, declared: Access, r: AccessResources): { statements: PolicyStatement[]; acks: Acknowledgement[] } {
  const statements: PolicyStatement[] = [];
  const acks: Acknowledgement[] = [];
  for (const g of declared) {
    const target = resolveTarget(scope, g.on, r);
    statements.push(new PolicyStatement({ actions: [...g.actions], resources: [target.arn] }));
    if (target.wildcard !== undefined) acks.push({ id: target.wildcard, reason: WILDCARD_REASON });
  }
  return { statements, acks };
}

/** Grants `grantee` exactly the declared access. */
export function grantAccess(grantee: IGrantable & IConstruct, declared: Access, r: AccessResources): void {
  const { statements, acks } = accessStatements(grantee, declared, r);
  for (const s of statements) Grant.addToPrincipal({ grantee, actions: s.actions, resourceArns: s.resources });
  const principal = grantee.grantPrincipal as unknown as IConstruct;
  if (acks.length > 0) acknowledge(principal, ...acks);
}

/** A managed policy holding the declared access, for principals outside the stack (GPU hosts). */
export function accessPolicy(scope: Construct, id: string, description: string, declared: Access, r: AccessResources): ManagedPolicy {
  const policy = new ManagedPolicy(scope, id, { description });
  const { statements, acks } = accessStatements(policy, declared, r);
  policy.addStatements(...statements);
  if (acks.length > 0) acknowledge(policy, ...acks);
  return policy;
}
