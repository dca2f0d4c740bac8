/**
 * Evaluates requests against one run's policies with pbac (an IAM-compatible evaluator):
 * an explicit Deny wins, else an Allow whose Action and Resource patterns match, else the
 * implicit deny. A refusal is thrown as the calling service throws it on AWS: its service
 * exception class, AccessDenied(Exception), AWS's message naming the assumed role, the action
 * and the resource.
 */
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { EventBridgeServiceException } from '@aws-sdk/client-eventbridge';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import { SFNServiceException } from '@aws-sdk/client-sfn';
import { SQSServiceException } from '@aws-sdk/client-sqs';
import PBAC from 'pbac';
import type { Statement, SymbolicPolicies } from './policies.ts';
import { queueArnOf, type AuthRequest, type Place } from './requests.ts';

export class UnknownPrincipalError extends Error {
  override readonly name = 'UnknownPrincipalError';
}

/** Replaces the placeholders of synthesized policies with this run's resource names. */
export function bindPlaceholders(text: string, p: Place, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(/\{\{(?:(queueArn|machineName):)?([A-Z0-9_]+)\}\}/g, (_m, fn: string | undefined, name: string) => {
    if (name === 'AWS_REGION' && fn === undefined) return p.region;
    if (name === 'ACCOUNT' && fn === undefined) return p.account;
    const value = env[name];
    // An unset resource matches nothing, so calls on it are denied (as they would be on AWS).
    if (value === undefined || value === '') return `unset:${name}`;
    if (fn === 'queueArn') return queueArnOf(p, value);
    if (fn === 'machineName') return value.slice(value.lastIndexOf(':') + 1);
    return value;
  });
}

const lower = (xs: readonly string[] | undefined) => xs?.map((x) => x.toLowerCase());

/** IAM matches actions case-insensitively; pbac does not, so both sides are lower-cased. */
function forPbac(s: Statement, bind: (t: string) => string): Record<string, unknown> {
  return {
    ...s,
    ...(s.Action && { Action: lower(s.Action) }),
    ...(s.NotAction && { NotAction: lower(s.NotAction) }),
    ...(s.Resource && { Resource: s.Resource.map(bind) }),
    ...(s.NotResource && { NotResource: s.NotResource.map(bind) }),
  };
}

export type Verdict = 'allowed' | 'implicitDeny' | 'explicitDeny';

export class PolicyEvaluator {
  readonly #engines = new Map<string, PBAC>();

  constructor(policies: SymbolicPolicies, p: Place, env: Readonly<Record<string, string | undefined>>) {
    const bind = (t: string) => bindPlaceholders(t, p, env);
    for (const [principal, statements] of Object.entries(policies.principals)) {
      const Statement = statements.map((s) => forPbac(s, bind));
      this.#engines.set(principal, new PBAC(Statement.length === 0 ? [] : [{ Version: '2012-10-17', Statement }], { validatePolicies: false }));
    }
  }

  get principals(): string[] {
    return [...this.#engines.keys()];
  }

  verdict(principal: string, r: AuthRequest): Verdict {
    const engine = this.#engines.get(principal);
    if (engine === undefined) throw new UnknownPrincipalError(`no synthesized role for principal ${principal}; known: ${this.principals.join(', ')}`);
    const q = { action: r.action.toLowerCase(), resource: r.resource, context: {} };
    if (engine.filterPoliciesBy({ ...q, effect: 'Deny', principal: {} })) return 'explicitDeny';
    return engine.filterPoliciesBy({ ...q, effect: 'Allow', principal: {} }) ? 'allowed' : 'implicitDeny';
  }
}

/** The role and session a principal runs as offline, as AWS names an assumed role in a refusal. */
export const assumedRoleArn = (p: Place, principal: string) => `arn:aws:sts::${p.account}:assumed-role/vto-${principal}-role/vto-${principal}`;

type ServiceExceptionClass = new (o: { name: string; $fault: 'client'; $metadata: { httpStatusCode: number }; message: string }) => Error;

/** Per client: the exception class, the error name and the status AWS answers a refusal with. */
const REFUSALS: Readonly<Record<string, { cls: ServiceExceptionClass; name: string; status: number; quoted?: boolean }>> = {
  DynamoDBClient: { cls: DynamoDBServiceException, name: 'AccessDeniedException', status: 400 },
  SFNClient: { cls: SFNServiceException, name: 'AccessDeniedException', status: 400 },
  SecretsManagerClient: { cls: SecretsManagerServiceException, name: 'AccessDeniedException', status: 400 },
  EventBridgeClient: { cls: EventBridgeServiceException, name: 'AccessDeniedException', status: 400 },
  SQSClient: { cls: SQSServiceException, name: 'AccessDenied', status: 403 },
  S3Client: { cls: S3ServiceException, name: 'AccessDenied', status: 403, quoted: true },
};

/** The error the service returns when IAM refuses the request. */
export function accessDenied(client: string, p: Place, principal: string, r: AuthRequest, verdict: Exclude<Verdict, 'allowed'>): Error {
  const refusal = REFUSALS[client] ?? { cls: Error as unknown as ServiceExceptionClass, name: 'AccessDeniedException', status: 400 };
  const resource = refusal.quoted === true ? `"${r.resource}"` : r.resource;
  const why = verdict === 'explicitDeny'
    ? 'with an explicit deny in an identity-based policy'
    : `because no identity-based policy allows the ${r.action} action`;
  const message = `User: ${assumedRoleArn(p, principal)} is not authorized to perform: ${r.action} on resource: ${resource} ${why}`;
  const e = new refusal.cls({ name: refusal.name, $fault: 'client', $metadata: { httpStatusCode: refusal.status }, message });
  e.name = refusal.name;
  return e;
}
