/**
 * Runs one variant of the recovery benchmark in this process: a fresh offline stack, the
 * seeded demo workload (same job ids, so the same faults, for both variants), our machines
 * or the blanket-retry baseline, the chaos driver, then everything read back through
 * clients of the benchmark's own: DynamoDB items, execution histories, DescribeExecution,
 * the simulators' prompt logs and the queue samples.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand,
  type ExecutionListItem, type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { signedFetch } from '../client/signed-fetch.ts';
import { packExecutionName, parseJobRecord, parsePackRecord, type JobRecord, type PackRecord } from '../core/job.ts';
import { STATE_MACHINES } from '../core/resources.ts';
import { startLocalApi, type LocalApi } from '../local/api-server.ts';
import { createDemoPack } from '../local/demo.ts';
import { getProfile } from '../local/faults.ts';
import { LOCAL_MODELS, localFunctionArn, startOfflineStack, type OfflineStack } from '../local/stack.ts';
import { JOB_STATES } from '../statemachines/job.ts';
import { GPU_QUEUE_URL_KEY, JOB_STATE_MACHINE_ARN_KEY, STATE_FUNCTIONS, functionArnKey } from '../statemachines/tasks.ts';
import { CALM, planChaos, type ChaosAction } from './chaos-plan.ts';
import { isAlive, startChaos, type Operator } from './chaos.ts';
import { installClientCounters } from './counters.ts';
import { planFaults } from './fault-plan.ts';
import { fromSdk } from './history.ts';
import { startSampler } from './sampler.ts';
import { buildVariantReport, type CollectedExecution, type Variant, type VariantReport } from './variant-report.ts';

export interface VariantOptions {
  readonly variant: Variant;
  readonly profile: string;
  readonly jobs: number;
  readonly seed: number;
  readonly timeScale: number;
  readonly workers: number;
  readonly prefetch?: number;
  /** Kills, duplicate deliveries, a provider outage, an emergency stop (profile `chaos`). */
  readonly chaos: boolean;
  /** Which of them. @default all */
  readonly chaosActions?: readonly ChaosAction[];
  /** Longest the workload may take before it is read as it stands (jobs left running count as lost). */
  readonly deadlineMs: number;
  readonly sampleMs?: number;
  readonly log?: (line: string) => void;
}

const TERMINAL_JOB = new Set(['complete', 'failed']);
/** States that run a recovery strategy: entering one after a non-recoverable failure is a false recovery. */
const STRATEGY_STATES = [JOB_STATES.reduce, JOB_STATES.switchModel, JOB_STATES.resume, JOB_STATES.resegment, JOB_STATES.planFix, JOB_STATES.backoff];
const FINISHED_PACK = new Set(['complete', 'completed_with_failures', 'failed']);

/** The baseline job machine and a pack machine whose Map starts it; our machines otherwise. */
export function machinesFor(stack: OfflineStack, variant: Variant): { pack: string; job: string } {
  if (variant === 'ours') return stack.endpoints.stateMachines;
  const substitutions: Record<string, string> = {
    [GPU_QUEUE_URL_KEY]: stack.resources.queues.gpu.url,
    ...Object.fromEntries(STATE_FUNCTIONS.map((id) => [functionArnKey(id), localFunctionArn(id)])),
  };
  const asl = (file: string) => readFileSync(fileURLToPath(new URL(`../statemachines/${file}`, import.meta.url)), 'utf8');
  const job = stack.sfn.createStateMachine({ name: 'vto-job-baseline', definition: asl('baseline.asl.json'), substitutions });
  const pack = stack.sfn.createStateMachine({
    name: 'vto-pack-baseline', definition: asl(STATE_MACHINES.pack.file),
    substitutions: { ...substitutions, [JOB_STATE_MACHINE_ARN_KEY]: job.stateMachineArn },
  });
  return { pack: pack.stateMachineArn, job: job.stateMachineArn };
}

async function listAll(sfn: SFNClient, stateMachineArn: string): Promise<ExecutionListItem[]> {
  const out: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000, ...(nextToken && { nextToken }) }));
    out.push(...(page.executions ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

async function historyOf(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, includeExecutionData: true, ...(nextToken && { nextToken }) }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

async function collectExecutions(sfn: SFNClient, items: readonly ExecutionListItem[]): Promise<CollectedExecution[]> {
  const sorted = [...items].sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
  return Promise.all(sorted.map(async (x) => ({
    name: x.name ?? '',
    status: x.status ?? 'UNKNOWN',
    startDate: x.startDate?.getTime() ?? 0,
    events: (await historyOf(sfn, x.executionArn!)).map(fromSdk),
  })));
}

/** POST /emergency-stop and POST /resume on the local API, signed as an operator's CLI would. */
function operatorFor(api: LocalApi, stack: OfflineStack): Operator {
  const call = async (path: string, body?: unknown) => {
    const res = await signedFetch(`${api.url}${path}`, {
      method: 'POST', ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    }, { credentials: stack.endpoints.credentials, region: stack.endpoints.region });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  return { emergencyStop: () => call('/emergency-stop', { reason: 'recovery benchmark: chaos' }), resume: () => call('/resume') };
}

export async function runVariant(o: VariantOptions): Promise<VariantReport> {
  const say = o.log ?? (() => undefined);
  const stack = await startOfflineStack({
    timeScale: o.timeScale, workers: o.workers, profile: o.profile, seed: o.seed,
    ...(o.prefetch !== undefined && { prefetch: o.prefetch }),
  });
  let api: LocalApi | undefined;
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const sfn = new SFNClient({});
  try {
    const machines = machinesFor(stack, o.variant);
    // The API (emergency stop, resume) starts the machines named here: the variant's own.
    process.env[STATE_MACHINES.job.envVar] = machines.job;
    process.env[STATE_MACHINES.pack.envVar] = machines.pack;
    const counters = installClientCounters();
    const plan = planFaults(getProfile(o.profile), o.seed, o.jobs, LOCAL_MODELS);
    const { pack } = await createDemoPack({ jobs: o.jobs, seed: o.seed, name: `recovery benchmark (${o.variant})` });
    counters.reset();

    const queueUrl = stack.resources.queues.gpu.url;
    const sampler = startSampler({
      sqsEndpoint: stack.endpoints.sqs,
      queueName: queueUrl.split('/').at(-1) ?? '',
      sims: () => stack.workers.map((w) => ({ sim: w.comfy, live: isAlive(w) })),
    }, o.sampleMs ?? 50);
    if (o.chaos && (o.chaosActions?.includes('stop') ?? true)) {
      const { handler } = await import('../lambdas/api/handler.ts');
      api = await startLocalApi({ handler, region: stack.endpoints.region, credentials: stack.endpoints.credentials });
    }
    let jobs: JobRecord[] = [];
    let packRecord: PackRecord | undefined;
    const read = async () => {
      const [q, p] = await Promise.all([
        ddb.send(new QueryCommand({ TableName: stack.resources.tables.jobs, IndexName: 'byPack', KeyConditionExpression: 'packId = :p', ExpressionAttributeValues: { ':p': pack.packId } })),
        ddb.send(new GetCommand({ TableName: stack.resources.tables.packs, Key: { packId: pack.packId } })),
      ]);
      jobs = (q.Items ?? []).map(parseJobRecord);
      packRecord = p.Item && parsePackRecord(p.Item);
    };
    const terminal = () => jobs.filter((j) => TERMINAL_JOB.has(j.status)).length;

    const startedAt = Date.now();
    const driver = startChaos({
      stack, plan: o.chaos ? planChaos(o.seed, o.jobs, o.chaosActions) : CALM, seed: o.seed, timeScale: o.timeScale, sampler, startedAt,
      gpuQueueUrl: queueUrl, controlTable: stack.resources.tables.control, totalJobs: o.jobs, jobIds: plan.map((p) => p.jobId),
      terminalJobs: async () => terminal(),
      operator: api === undefined ? null : operatorFor(api, stack),
    });
    await sfn.send(new StartExecutionCommand({ stateMachineArn: machines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId: pack.packId }) }));
    say(`${o.variant}: ${o.jobs} jobs submitted (pack ${pack.packId})`);

    const deadline = startedAt + o.deadlineMs;
    let lastTerminal = -1;
    for (;;) {
      await read().catch(() => undefined);
      if (terminal() !== lastTerminal) {
        lastTerminal = terminal();
        say(`${o.variant}: ${lastTerminal}/${o.jobs} jobs terminal, pack ${packRecord?.status ?? '?'}`);
      }
      const done = jobs.length === o.jobs && terminal() === o.jobs && packRecord !== undefined && FINISHED_PACK.has(packRecord.status) && driver.settled();
      if (done || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const endedAt = Date.now();
    // The pack execution ends right after it writes the pack's status: give it a moment.
    for (let i = 0; i < 50; i++) {
      const running = (await listAll(sfn, machines.pack)).filter((x) => x.status === 'RUNNING').length;
      if (running === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await driver.stop();
    await sampler.stop();
    await read();

    const jobItems = await listAll(sfn, machines.job);
    const packItems = await listAll(sfn, machines.pack);
    const jobExecutions = new Map<string, CollectedExecution[]>();
    for (const p of plan) {
      const mine = jobItems.filter((x) => x.name !== undefined && x.name.startsWith(`${p.jobId}-`));
      jobExecutions.set(p.jobId, await collectExecutions(sfn, mine));
    }
    const described = new Map<string, string>();
    for (const j of jobs) {
      if (j.executionArn === undefined) continue;
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: j.executionArn }));
      described.set(j.jobId, d.status ?? 'UNKNOWN');
    }
    const leftRes = await fetch(`${stack.endpoints.sqs.replace(/\/$/, '')}/_fauxqs/queues/${encodeURIComponent(queueUrl.split('/').at(-1) ?? '')}`);
    const left = leftRes.ok ? ((await leftRes.json()) as { messages: { ready: unknown[]; delayed: unknown[] } }).messages : { ready: [], delayed: [] };

    return buildVariantReport({
      variant: o.variant,
      plan,
      jobs,
      jobExecutions,
      packExecutions: await collectExecutions(sfn, packItems),
      described,
      runningExecutions: [...jobItems, ...packItems].filter((x) => x.status === 'RUNNING').length,
      prompts: stack.workers.flatMap((w) => w.comfy.promptLog().map((p) => ({ ...p, gpu: `gpu-of-${w.id}` }))),
      samples: sampler.samples,
      messages: [...sampler.messages.values()],
      messagesLeft: left.ready.length + left.delayed.length,
      dynamo: counters.dynamo,
      s3: counters.s3,
      chaos: o.chaos ? driver.log : null,
      wallSeconds: (endedAt - startedAt) / 1000,
      endedAt,
      timeScale: o.timeScale,
      recoveryStates: STRATEGY_STATES,
    });
  } finally {
    sfn.destroy();
    ddb.destroy();
    await api?.stop();
    await stack.stop();
  }
}
