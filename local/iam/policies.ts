/**
 * Each principal's IAM policies as the CDK stack synthesizes them, with the template's
 * tokens (table, queue, bucket, state machine and secret ARNs, partition, region, account)
 * and the names it gives (the machines, the event bus) replaced by placeholders that name the
 * environment variable holding the local resource (`{{JOBS_TABLE}}`). Binding them to an
 * environment (bindPlaceholders, evaluate.ts) gives the policies of one offline run, whatever
 * names it provisioned.
 *
 * Synthesis (aws-cdk-lib, bundling skipped) takes seconds, so its result is cached in the
 * OS temp directory under a hash of every source it depends on.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUCKETS, EVENT_BUS, QUEUES, SECRETS, STATE_MACHINES, TABLES } from '../../core/resources.ts';

/** A policy statement as IAM reads it (Action and Resource always lists). */
export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string[];
  readonly NotAction?: string[];
  readonly Resource?: string[];
  readonly NotResource?: string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Every principal's identity-based statements, resources as placeholders. */
export interface SymbolicPolicies {
  readonly principals: Readonly<Record<string, readonly Statement[]>>;
}

/** The principals whose roles the offline stack runs as: function ids, `Api`, `Watchdog`, `Reconciler`, `WebhookSender`, `GpuWorker`, the machines. */
export const MACHINE_PRINCIPALS = { job: 'JobMachine', pack: 'PackMachine' } as const;

/** The webhook sender's role (lib/events.ts). */
export const WEBHOOK_SENDER_PRINCIPAL = 'WebhookSender';

/** GPU worker hosts run under the stack's GpuWorkerPolicy. */
export const GPU_WORKER_PRINCIPAL = 'GpuWorker';

/** A stack name no resource name contains by chance, so the machines' and the bus's names can be found in ARNs built from them. */
const SYNTH_STACK = 'VtoIamSynth';
const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws', 'AWS::Region': '{{AWS_REGION}}', 'AWS::AccountId': '{{ACCOUNT}}', 'AWS::URLSuffix': 'amazonaws.com',
};

export class PolicySynthesisError extends Error {
  override readonly name = 'PolicySynthesisError';
}

type Cfn = unknown;
interface Attrs { readonly ref: string; readonly [attr: string]: string }

/** What a resource of the template stands for offline, by logical id. */
type Resolved = Map<string, Attrs>;

function resolver(resources: Resolved) {
  const names = [
    ...Object.values(STATE_MACHINES).map((m) => [`${SYNTH_STACK}-${m.name}`, `{{machineName:${m.envVar}}}`] as const),
    [`${SYNTH_STACK}-${EVENT_BUS.name}`, `{{${EVENT_BUS.envVar}}}`] as const,
  ];
  const literal = (s: string) => names.reduce((acc, [from, to]) => acc.replaceAll(from, to), s);
  const resolve = (v: Cfn): string => {
    if (typeof v === 'string') return literal(v);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolicySynthesisError(`cannot resolve ${JSON.stringify(v)}`);
    const [fn, arg] = Object.entries(v)[0] ?? [];
    if (fn === 'Ref' && typeof arg === 'string') {
      const pseudo = PSEUDO[arg];
      if (pseudo !== undefined) return pseudo;
      return resources.get(arg)?.ref ?? `unresolved:${arg}`;
    }
    if (fn === 'Fn::GetAtt' && Array.isArray(arg)) {
      const [id, attr] = arg as [string, string];
      return resources.get(id)?.[attr] ?? `unresolved:${id}.${attr}`;
    }
    if (fn === 'Fn::Join' && Array.isArray(arg)) {
      const [sep, parts] = arg as [string, Cfn[]];
      return parts.map(resolve).join(sep);
    }
    if (fn === 'Fn::Select' && Array.isArray(arg)) {
      const [index, list] = arg as [number, Cfn];
      const items = Array.isArray(list) ? list.map(resolve) : splitOf(list);
      return items[Number(index)] ?? '';
    }
    throw new PolicySynthesisError(`cannot resolve ${fn ?? '?'} in a policy: ${JSON.stringify(v)}`);
  };
  const splitOf = (v: Cfn): string[] => {
    const arg = (v as Record<string, unknown>)['Fn::Split'];
    if (!Array.isArray(arg)) throw new PolicySynthesisError(`cannot resolve ${JSON.stringify(v)}`);
    return resolve(arg[1] as Cfn).split(String(arg[0]));
  };
  return resolve;
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function statementOf(raw: Record<string, unknown>, resolve: (v: Cfn) => string): Statement {
  const out: Record<string, unknown> = { Effect: raw['Effect'] };
  if (raw['Sid'] !== undefined) out['Sid'] = raw['Sid'];
  for (const key of ['Action', 'NotAction'] as const) if (raw[key] !== undefined) out[key] = list(raw[key]).map(String);
  for (const key of ['Resource', 'NotResource'] as const) if (raw[key] !== undefined) out[key] = list(raw[key]).map(resolve);
  if (raw['Condition'] !== undefined) out['Condition'] = raw['Condition'];
  return out as unknown as Statement;
}

/** Synthesizes the stack (no bundling, no cdk-nag) and reads every principal's statements. */
export async function synthesizePolicies(): Promise<SymbolicPolicies> {
  const [{ App, CfnElement, Stack }, { VtoStack }] = await Promise.all([import('aws-cdk-lib'), import('../../lib/stack.ts')]);
  const outdir = mkdtempSync(join(tmpdir(), 'vto-iam-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new VtoStack(app, SYNTH_STACK, { deletionProtection: false });
    const idOf = (c: { node: { defaultChild?: unknown } } | InstanceType<typeof CfnElement>): string => {
      const el = c instanceof CfnElement ? c : c.node.defaultChild;
      if (!(el instanceof CfnElement)) throw new PolicySynthesisError('a construct without a CloudFormation element');
      return Stack.of(el).resolve(el.logicalId) as string;
    };

    const resources: Resolved = new Map();
    for (const key of Object.keys(TABLES) as (keyof typeof TABLES)[]) {
      const name = `{{${TABLES[key].envVar}}}`;
      resources.set(idOf(stack.data.tables[key]), { ref: name, Arn: `arn:aws:dynamodb:{{AWS_REGION}}:{{ACCOUNT}}:table/${name}` });
    }
    const bucket = `{{${BUCKETS.artifacts.envVar}}}`;
    resources.set(idOf(stack.data.artifacts), { ref: bucket, Arn: `arn:aws:s3:::${bucket}` });
    const queues = [
      [stack.data.gpuQueue, QUEUES.gpu.envVar], [stack.data.gpuDeadLetterQueue, QUEUES.gpu.deadLetter.envVar],
      [stack.events.webhookQueue, QUEUES.webhooks.envVar], [stack.events.webhookDeadLetterQueue, QUEUES.webhooks.deadLetter.envVar],
    ] as const;
    for (const [queue, envVar] of queues) {
      resources.set(idOf(queue), { ref: `{{${envVar}}}`, Arn: `{{queueArn:${envVar}}}`, QueueUrl: `{{${envVar}}}` });
    }
    for (const key of Object.keys(STATE_MACHINES) as (keyof typeof STATE_MACHINES)[]) {
      const arn = `{{${STATE_MACHINES[key].envVar}}}`;
      resources.set(idOf(stack.stateMachines[key]), { ref: arn, Arn: arn, Name: `{{machineName:${STATE_MACHINES[key].envVar}}}` });
    }
    // A secret given at deploy time is an ARN in the template, not a resource of it.
    for (const [secret, envVar] of [[stack.hostedInpaintApiKey, SECRETS.hostedInpaint.envVar], [stack.events.webhookSecret, SECRETS.webhook.envVar]] as const) {
      if (secret.node.defaultChild !== undefined) resources.set(idOf(secret), { ref: `{{${envVar}}}` });
    }

    const roles = new Map<string, string>();
    for (const [id, f] of Object.entries(stack.functions.functions)) roles.set(idOf(f.role), id);
    roles.set(idOf(stack.api.handler.role), 'Api');
    roles.set(idOf(stack.observability.watchdog.role), 'Watchdog');
    roles.set(idOf(stack.observability.reconciler.role), 'Reconciler');
    roles.set(idOf(stack.events.sender.role), WEBHOOK_SENDER_PRINCIPAL);
    for (const key of Object.keys(MACHINE_PRINCIPALS) as (keyof typeof MACHINE_PRINCIPALS)[]) {
      roles.set(idOf(stack.stateMachines[key].role as unknown as { node: { defaultChild?: unknown } }), MACHINE_PRINCIPALS[key]);
    }
    const workerPolicyId = idOf(stack.gpuWorkerPolicy);

    const template = app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
    const resolve = resolver(resources);
    const principals: Record<string, Statement[]> = {};
    const add = (principal: string, doc: unknown) => {
      const statements = list((doc as { Statement?: unknown }).Statement) as Record<string, unknown>[];
      (principals[principal] ??= []).push(...statements.map((s) => statementOf(s, resolve)));
    };
    for (const principal of [...roles.values(), GPU_WORKER_PRINCIPAL]) principals[principal] = [];
    for (const [logicalId, r] of Object.entries(template.Resources)) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
        for (const role of list(p['Roles'])) {
          const principal = roles.get((role as { Ref?: string }).Ref ?? '');
          if (principal !== undefined) add(principal, p['PolicyDocument']);
        }
        if (logicalId === workerPolicyId) add(GPU_WORKER_PRINCIPAL, p['PolicyDocument']);
      }
      if (r.Type === 'AWS::IAM::Role') {
        const principal = roles.get(logicalId);
        if (principal === undefined) continue;
        for (const inline of list(p['Policies'])) add(principal, (inline as { PolicyDocument: unknown }).PolicyDocument);
        if (list(p['ManagedPolicyArns']).length > 0) throw new PolicySynthesisError(`${principal}'s role has managed policies, which the offline evaluator does not read`);
      }
    }
    return { principals };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Everything the synthesized policies depend on. */
const INPUTS = ['lib', 'lambdas', 'worker', 'adapters', 'core', 'statemachines', 'local/iam/policies.ts', 'package-lock.json'];

function sourcesHash(): string {
  const hash = createHash('sha256');
  const visit = (path: string) => {
    const abs = join(ROOT, path);
    if (!existsSync(abs)) return;
    let entries: string[] | undefined;
    try { entries = readdirSync(abs).sort(); } catch { entries = undefined; }
    if (entries === undefined) {
      hash.update(relative(ROOT, abs)).update(readFileSync(abs));
      return;
    }
    for (const e of entries) visit(join(path, e));
  };
  for (const i of INPUTS) visit(i);
  return hash.digest('hex').slice(0, 16);
}

/** The synthesized policies, from the cache when the sources have not changed. */
export async function loadPolicies(): Promise<SymbolicPolicies> {
  const file = join(tmpdir(), `vto-iam-policies-${sourcesHash()}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SymbolicPolicies;
  const policies = await synthesizePolicies();
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(policies));
  renameSync(partial, file);
  return policies;
}
