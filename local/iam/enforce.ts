/**
 * IAM offline: every SDK call a principal's code makes through the project's clients
 * (adapters/aws-clients.ts) is evaluated against that principal's synthesized
 * policies before it is sent, and refused with the service's AccessDenied error.
 *
 * Who calls: the in-process Lambda handlers share one process and its cached clients, so the
 * principal travels with the invocation in an AsyncLocalStorage (`asPrincipal`), set by
 * whatever invokes the handler (the local Step Functions service's Lambda tasks, the local
 * API gateway, the watchdog and reconciler runners). A process that is one principal (a GPU
 * worker) names it in VTO_IAM_PRINCIPAL. A call with no principal (a test seeding tables,
 * provisioning) is not checked: it stands for an operator, not for the product's code.
 *
 * Every refusal is also recorded, because code may swallow the error (a breaker write
 * failing only logs a warning): tests assert that no call was refused.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync } from 'node:fs';
import { setCallCheck, type SdkCall } from '../../adapters/aws-clients.ts';
import { PolicyEvaluator, accessDenied } from './evaluate.ts';
import type { SymbolicPolicies } from './policies.ts';
import { authRequests, type AuthRequest, type Place } from './requests.ts';

export interface Denial extends AuthRequest {
  readonly principal: string;
  /** `DynamoDBClient.PutItemCommand` */
  readonly call: string;
  readonly message: string;
}

const principalStore = new AsyncLocalStorage<string>();

/** Runs `work` as `principal`: the SDK calls it makes are checked against that principal's policies. */
export function asPrincipal<T>(principal: string, work: () => T): T {
  return principalStore.run(principal, work);
}

/** Wraps a handler so every invocation runs as `principal`. */
export function runsAs<A extends unknown[], R>(principal: string, handler: (...args: A) => R): (...args: A) => R {
  return (...args: A) => asPrincipal(principal, () => handler(...args));
}

export interface EnforcementOptions extends Place {
  readonly policies: SymbolicPolicies;
  /** Where resource names are read when the policies are bound. @default process.env, read at each call */
  readonly env?: () => Readonly<Record<string, string | undefined>>;
  /** The principal of calls made outside `asPrincipal`. @default none: such calls are not checked */
  readonly defaultPrincipal?: string;
  /** Appends each refusal as a JSON line here (for processes whose refusals a parent collects). */
  readonly denialsFile?: string;
}

export interface Enforcement {
  /** Refusals since the start (or the last clear). */
  denials(): Denial[];
  clear(): void;
  /** Checks one request as `principal` (for calls the local services make for a role, such as a machine's SendMessage). */
  authorize(principal: string, client: string, r: AuthRequest): void;
  /** Removes the check. */
  stop(): void;
}

/** Turns enforcement on for every client of this process. */
export function enforceIam(o: EnforcementOptions): Enforcement {
  const place: Place = { region: o.region, account: o.account };
  const readEnv = o.env ?? (() => process.env);
  let denials: Denial[] = [];
  let cached: { key: string; evaluator: PolicyEvaluator } | undefined;
  // The variables the policies' placeholders name: the policies are bound again when one
  // changes (tests provision fresh names per file).
  const bound = [...new Set([...JSON.stringify(o.policies).matchAll(/\{\{(?:\w+:)?([A-Z0-9_]+)\}\}/g)].map((m) => m[1] ?? ''))];
  const evaluator = () => {
    const env = readEnv();
    const key = bound.map((name) => env[name] ?? '').join('\n');
    if (cached?.key !== key) cached = { key, evaluator: new PolicyEvaluator(o.policies, place, env) };
    return cached.evaluator;
  };
  const authorize = (principal: string, client: string, r: AuthRequest, call: string) => {
    const verdict = evaluator().verdict(principal, r);
    if (verdict === 'allowed') return;
    const error = accessDenied(client, place, principal, r, verdict);
    const denial: Denial = { principal, call, ...r, message: error.message };
    denials.push(denial);
    if (o.denialsFile !== undefined) appendFileSync(o.denialsFile, `${JSON.stringify(denial)}\n`);
    throw error;
  };
  const check = (call: SdkCall) => {
    const principal = principalStore.getStore() ?? o.defaultPrincipal;
    if (principal === undefined) return;
    for (const r of authRequests(place, call)) authorize(principal, call.client, r, `${call.client}.${call.command}`);
  };
  setCallCheck(check);
  return {
    denials: () => [...denials],
    clear: () => { denials = []; },
    authorize: (principal, client, r) => authorize(principal, client, r, `${client}.local`),
    stop: () => setCallCheck(),
  };
}

/** Environment variables that carry enforcement into a child process (a GPU worker). */
export const IAM_ENV = {
  policiesFile: 'VTO_IAM_POLICIES_FILE',
  principal: 'VTO_IAM_PRINCIPAL',
  denialsFile: 'VTO_IAM_DENIALS_FILE',
  account: 'VTO_IAM_ACCOUNT',
} as const;
