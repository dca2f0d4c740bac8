/**
 * ARNs and names as Step Functions forms and checks them.
 */
import { InvalidArn, InvalidName } from './api-errors.ts';

export interface Account {
  readonly region: string;
  readonly accountId: string;
}

export const stateMachineArn = (a: Account, name: string): string =>
  `arn:aws:states:${a.region}:${a.accountId}:stateMachine:${name}`;

export const executionArn = (a: Account, machineName: string, name: string): string =>
  `arn:aws:states:${a.region}:${a.accountId}:execution:${machineName}:${name}`;

export const lambdaFunctionArn = (a: Account, functionName: string): string =>
  functionName.startsWith('arn:') ? functionName : `arn:aws:lambda:${a.region}:${a.accountId}:function:${functionName}`;

/** Whitespace, brackets, wildcards, these punctuation marks and control characters are refused. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

/** Names of state machines and executions: 1–80 characters, none of FORBIDDEN. */
export function assertValidName(kind: 'execution' | 'state machine', name: string): void {
  if (name.length < 1 || name.length > 80) throw new InvalidName(`Invalid ${kind} name: '${name}' must be 1 to 80 characters long.`);
  if (FORBIDDEN.test(name)) throw new InvalidName(`Invalid ${kind} name: '${name}' contains a character Step Functions does not allow.`);
}

/** Checks an ARN's service and resource type; returns it unchanged. */
export function assertArn(arn: unknown, resourceType: 'stateMachine' | 'execution'): string {
  if (typeof arn !== 'string' || !new RegExp(`^arn:aws[a-z-]*:states:[a-z0-9-]+:\\d{12}:${resourceType}:`).test(arn)) {
    throw new InvalidArn(`Invalid Arn: '${String(arn)}'`);
  }
  return arn;
}

/** `arn:aws:lambda:r:a:function:name[:qualifier]` → `name`; a plain name stays itself. */
export function functionNameOf(nameOrArn: string): string {
  const m = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(nameOrArn);
  return m?.[1] ?? nameOrArn;
}
