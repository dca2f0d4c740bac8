/**
 * The offline stack: everything `npm start` and the integration tests run, in one
 * process tree. DynamoDB Local and fauxqs stand for DynamoDB, SQS and S3; the local Step
 * Functions service runs the committed ASL with the real Lambda handlers in process; the
 * simulated ComfyUI and providers stand for the GPU hosts and external APIs; GPU worker
 * agents run as child processes. Everything reaches the emulators through the standard
 * AWS_ENDPOINT_URL_* variables, so no handler or worker knows it is offline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit, stopChild } from './child-processes.ts';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EVENT_BUS, GPU_TASK, STATE_MACHINES, physicalName } from '../core/resources.ts';
import { DEFAULT_PARAMS } from '../core/params.ts';
import { STATE_FUNCTION_DEFS, timeoutSecondsOf } from '../lambdas/catalog.ts';
import { STATE_FUNCTIONS, GPU_QUEUE_URL_KEY, JOB_STATE_MACHINE_ARN_KEY, functionArnKey } from '../statemachines/tasks.ts';
import { startComfySim, type ComfySim } from './comfyui/server.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, awsEnvFor, startEmulators, type Emulators } from './emulators.ts';
import { startProviderSims, type ProviderSims } from './providers/server.ts';
import { startLocalApi } from './api-server.ts';
import { runsAs, type Denial } from './iam/enforce.ts';
import { MACHINE_PRINCIPALS, WEBHOOK_SENDER_PRINCIPAL } from './iam/policies.ts';
import { startOfflineIam, type OfflineIam } from './iam/offline.ts';
import { queueArnOf } from './iam/requests.ts';
import { startLocalBus } from './events/bus.ts';
import { startQueuePoller, type SqsHandler } from './events/queue-poller.ts';
import { WEBHOOK_RULE_PATTERN } from '../core/lifecycle.ts';
import { EVENT_BUS_ENV } from '../adapters/lifecycle-events.ts';
import { reconcilerListener, startWatchdogTimer, type WatchdogTimer } from './recovery.ts';
import { watchdogSettingsFromEnv } from '../adapters/watchdog-settings.ts';
import { DEFAULT_GPU_DEADLINE_SECONDS, DEFAULT_PROVIDER_TIMEOUT_MS } from '../adapters/config.ts';
import { provision, type Provisioned } from './provision.ts';
import { startLocalStepFunctions, type EventBridgeStepFunctionsStatusEvent, type LambdaFunctionConfig, type LambdaHandler, type LocalStepFunctions } from './stepfunctions/index.ts';
import { createSupervisor, type SupervisorLog } from './supervisor.ts';
import { resetProcessCaches } from '../adapters/process-caches.ts';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { logger } from '../adapters/logging.ts';
import { OFFLINE_HANDLER_OUTPUT_ENV } from './handler-output.ts';
import type { FleetScalingSettings } from '../core/fleet-scaling-settings.ts';
import { COLD_START } from './comfyui/physics.ts';
import { startFleetScaler, type FleetScaler } from './fleet-scaler.ts';
import { asPrincipal } from './iam/enforce.ts';
import { callCheckPlugin } from '../adapters/aws-clients.ts';
import { GPU_WORKER_PRINCIPAL } from './iam/policies.ts';

export const LOCAL_ACCOUNT = '000000000000';

/** Models the simulated GPUs have installed: the head of the fallback chain is not among them for some demo jobs. */
export const LOCAL_MODELS = [DEFAULT_PARAMS.model, 'sd15-inpaint.safetensors', 'realistic-vision-inpaint.safetensors'];

export interface StackOptions {
  /** Real seconds per simulated second: 1 is real time, 0.05 runs 20× faster. @default 0.05 */
  readonly timeScale?: number;
  /** GPU worker processes, each beside its own simulated ComfyUI. @default 2 */
  readonly workers?: number;
  /** Tasks each worker takes beyond the one it runs (VTO_PREFETCH); the rest wait in SQS. @default 1 */
  readonly prefetch?: number;
  /** The workers' requestTimeoutMs (each HTTP call to ComfyUI and S3); the load test sets it. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Fault profile of the simulators (local/faults.ts). @default 'default' */
  readonly profile?: string;
  /** Seed of the fault decisions. @default 1 */
  readonly seed?: number;
  /** Simulated GPU time per sampler step, in ms (before scaling). @default 20 */
  readonly stepMs?: number;
  /** Prefix of the resource names. @default 'vto' */
  readonly prefix?: string;
  /** Called with each execution status change, as EventBridge would deliver it. */
  readonly onStatusChange?: (event: EventBridgeStepFunctionsStatusEvent) => void | Promise<void>;
  /** Run the watchdog on a timer standing for its schedule (the reconciler always hears status changes). @default true */
  readonly watchdog?: boolean;
  /** Where worker and simulator logs go. @default 'ignore' */
  readonly logs?: 'inherit' | 'ignore';
  /**
   * How far DynamoDB index queries lag behind writes, in real ms, as AWS's eventually
   * consistent GSIs may (local/dynamodb-index-lag.ts); 0 reads indexes consistently.
   * `npm start` uses {@link DEFAULT_INDEX_LAG_MS}. @default 0
   */
  readonly indexLagMs?: number;
  /**
   * Refuse every SDK call the synthesized IAM policies do not allow, as AWS would (local/iam/).
   * @default true
   */
  readonly iam?: boolean;
  /** Replace a worker that exits unasked (local/supervisor.ts). @default true */
  readonly supervise?: boolean;
  /** Where the supervisor's JSON lines go. @default one line each on stderr */
  readonly onSupervisorLog?: SupervisorLog;
  /** How long webhook deliveries are retried, in real seconds before scaling. @default 86400 */
  readonly webhookRetryWindowSeconds?: number;
  /**
   * State-function handlers running at once in this process (default: 3 per core, at least 4).
   * Later invocations wait in order (local/stepfunctions/lambda-slots.ts says why).
   */
  readonly lambdaConcurrency?: number;
  /** Finished packs older than this many days (scaled) are erased by the watchdog (the packRetentionDays context). @default kept */
  readonly packRetentionDays?: number;
  /**
   * Autoscale the GPU fleet within these bounds (local/fleet-scaler.ts, core/scaling.ts);
   * `workers` is then ignored. Each new worker's host pays the modelled cold start
   * (COLD_START: boot, then model load by the worker's warm-up prompt). Without it the
   * fleet is `workers` hosts, already warm, as before.
   */
  readonly fleet?: FleetScalingSettings;
  /** Pipeline seconds between two scaling decisions. @default 5 */
  readonly scalerPeriodSeconds?: number;
}

/** One GPU host the stack ran: from its launch (cold start included) until it was stopped: what a cloud bills. */
export interface GpuHost {
  readonly id: string;
  readonly comfy: ComfySim;
  /** Epoch ms. */
  readonly launchedAt: number;
  endedAt: number | null;
}

/** Index lag of `npm start`: long enough to catch a decision taken on a stale index read. */
export const DEFAULT_INDEX_LAG_MS = 500;

/** The worker's lease (message visibility, attempt claim and presence) offline, in the whole seconds SQS takes. */
export const workerLeaseSeconds = (timeScale: number) => Math.max(1, Math.round(GPU_TASK.leaseSeconds * timeScale));

/** The supervisor's bound, in simulated seconds (scaled like every other wait). */
export const WORKER_RESTART_POLICY = { maxRestarts: 5, windowSeconds: 600, backoffSeconds: 5, maxBackoffSeconds: 60 } as const;

export interface WorkerProcess {
  readonly id: string;
  readonly process: ChildProcess;
  readonly metricsUrl: string;
  readonly comfy: ComfySim;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Asks the worker to scale in (SIGUSR2): true when it holds nothing and drains, false when
   * it refused (it holds a message) or did not answer within 5 s. `onAccepted` runs as the
   * answer is read, before the worker can have exited.
   */
  askScaleIn(onAccepted: () => void): Promise<boolean>;
}

export interface Endpoints {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  stepFunctions: string;
  dynamodb: string;
  sqs: string;
  s3: string;
  comfyui: string[];
  providers: { segmentation: string; analyzer: string; hosted: string };
  workers: { id: string; metricsUrl: string }[];
  stateMachines: { pack: string; job: string };
  queues: { gpu: string; gpuDlq: string };
  bucket: string;
  tables: Record<string, string>;
  api?: string;
  console?: string;
  /** The local event bus: GET {events}/events?after=SEQ&pack=ID (vto events tail). */
  events: string;
  /** The secret webhooks are signed with (on AWS it lives in Secrets Manager). */
  webhookSecret: string;
}

export interface OfflineStack {
  readonly env: Record<string, string>;
  readonly endpoints: Endpoints;
  readonly resources: Provisioned;
  readonly sfn: LocalStepFunctions;
  /** The running workers; the supervisor swaps a replacement in at its predecessor's place. */
  readonly workers: WorkerProcess[];
  /** Everything the supervisor decided, in order. */
  readonly supervisorLog: readonly Record<string, unknown>[];
  readonly providers: ProviderSims;
  /** The watchdog's timer; undefined when the stack runs without it. */
  readonly watchdog: WatchdogTimer | undefined;
  /** Calls IAM refused so far (in process and in the workers); undefined when IAM is not enforced. */
  iamDenials(): Denial[] | undefined;
  /** Starts one more worker beside its own ComfyUI; `supervise: false` leaves it unreplaced when it dies. */
  addWorker(o?: { supervise?: boolean }): Promise<WorkerProcess>;
  /** Drains one worker (SIGTERM: it finishes what it holds), stops its host and forgets it; not a death. */
  stopWorker(id: string): Promise<void>;
  /**
   * Scales one worker in, as the fleet scaler does: the worker leaves only if it holds no
   * message at that instant (its host then stops; not a death) and refuses otherwise (false).
   */
  scaleInWorker(id: string): Promise<boolean>;
  /** The fleet scaler, when the stack runs with `fleet`. */
  readonly scaler: FleetScaler | undefined;
  /** Every GPU host started so far, with its launch and end (billing). */
  readonly hosts: readonly GpuHost[];
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const WORKER_BIN = fileURLToPath(new URL('../bin/worker.ts', import.meta.url));

/** The local ARN a function id is bound to. */
export const localFunctionArn = (id: string) => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:vto-${id}`;

/** Every state function's handler with the timeout it is deployed with (lambdas/catalog.ts). */
async function loadHandlers(): Promise<Record<string, LambdaFunctionConfig>> {
  const entries = await Promise.all(STATE_FUNCTIONS.map(async (id) => {
    const def = STATE_FUNCTION_DEFS[id];
    const mod = (await import(`${root}${def.entry}`)) as { handler: LambdaHandler };
    // Each function's SDK calls are checked against its own role when IAM is enforced.
    return [localFunctionArn(id), { handler: runsAs(id, mod.handler), timeoutSeconds: timeoutSecondsOf(def) }] as const;
  }));
  return Object.fromEntries(entries);
}

export async function startOfflineStack(options: StackOptions = {}): Promise<OfflineStack> {
  const timeScale = options.timeScale ?? 0.05;
  const profile = options.profile ?? 'default';
  const seed = options.seed ?? 1;
  const stepMs = Math.max(1, Math.round((options.stepMs ?? 20) * Math.min(1, timeScale * 4)));
  // The deployed generation deadline, compressed like every wait. It bounds the simulated
  // GPU's real work too (pixels, PNGs, step timers that fire late on a loaded machine), which
  // the time scale does not compress, so it is not made tighter than that: a hang is cut
  // sooner by the stall bounds, which follow the prompt's own progress.
  const gpuDeadlineMs = Math.max(3000, Math.round(DEFAULT_GPU_DEADLINE_SECONDS * 1000 * timeScale));
  const cleanups: (() => Promise<void>)[] = [];
  // Run before every cleanup: the supervisor must not replace workers the stack is stopping.
  let stopSupervisor: () => Promise<void> = async () => undefined;
  const stopAll = async () => {
    await stopSupervisor().catch(() => undefined);
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    // A JVM on a busy machine may take longer than the default to answer.
    const emulators: Emulators = await startEmulators({ indexLagMs: options.indexLagMs ?? 0, dynamoTimeoutMs: 120_000 });
    cleanups.push(() => emulators.stop());
    const awsEnv = awsEnvFor(emulators);
    Object.assign(process.env, awsEnv);

    const ddb = new DynamoDBClient({});
    const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
    const s3 = new S3Client({ forcePathStyle: true });
    cleanups.push(async () => { ddb.destroy(); sqs.destroy(); s3.destroy(); });
    const resources = await provision({ ddb, sqs, s3 }, options.prefix ?? 'vto');

    // The pipeline's event bus; its one rule feeds the webhook queue as the AWS rule does.
    const webhookSecret = randomBytes(32).toString('hex');
    const bus = await startLocalBus({
      busName: physicalName(EVENT_BUS.name, options.prefix ?? 'vto'), region: LOCAL_REGION, accountId: LOCAL_ACCOUNT,
      rules: [{
        name: 'webhooks', pattern: WEBHOOK_RULE_PATTERN,
        target: async (event) => { await sqs.send(new SendMessageCommand({ QueueUrl: resources.queues.webhooks.url, MessageBody: JSON.stringify(event) })); },
      }],
    });
    cleanups.push(() => bus.stop());

    // A 'slow' fault answers after the client has given up (PROVIDER_TIMEOUT_MS below), as its
    // description says; scaled with time, it answered within the timeout and injected nothing.
    const providers = await startProviderSims({ profile, seed, slowMs: DEFAULT_PROVIDER_TIMEOUT_MS + 2000 });
    cleanups.push(() => providers.stop());

    const handlerEnv: Record<string, string> = {
      ...resources.env,
      SEGMENTATION_URL: providers.urls.segmentation,
      ANALYZER_URL: providers.urls.analyzer,
      HOSTED_INPAINT_URL: providers.urls.hosted,
      VTO_TIME_SCALE: String(timeScale),
      // The simulated providers answer with real work on these cores, which the time scale
      // does not compress: their calls keep the deployed timeout, or a loaded machine's slow
      // answers read as provider failures (Transient.Network) and open breakers no fault opened.
      PROVIDER_TIMEOUT_MS: String(DEFAULT_PROVIDER_TIMEOUT_MS),
      VTO_MODEL_CHAIN: LOCAL_MODELS.join(','),
      VTO_GPU_DEADLINE_SECONDS: String(gpuDeadlineMs / 1000),
      ...OFFLINE_HANDLER_OUTPUT_ENV,
      [EVENT_BUS_ENV]: bus.busName,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.url,
      VTO_WEBHOOK_SECRET: webhookSecret,
      VTO_WEBHOOK_ALLOW_LOOPBACK: 'true',
      ...(options.webhookRetryWindowSeconds !== undefined && { VTO_WEBHOOK_RETRY_WINDOW_SECONDS: String(options.webhookRetryWindowSeconds) }),
      ...(options.packRetentionDays !== undefined && { VTO_PACK_RETENTION_DAYS: String(options.packRetentionDays) }),
    };
    Object.assign(process.env, handlerEnv);
    // The logger read its level when first imported, maybe before this stack's environment.
    logger.setLogLevel(OFFLINE_HANDLER_OUTPUT_ENV.POWERTOOLS_LOG_LEVEL as LogLevel);
    // What an earlier stack of this process parsed and connected to is not this stack's.
    resetProcessCaches();
    cleanups.push(async () => { resetProcessCaches(); });

    let iam: OfflineIam | undefined;
    if (options.iam ?? true) {
      const started = await startOfflineIam({ region: LOCAL_REGION, account: LOCAL_ACCOUNT });
      cleanups.push(async () => started.stop());
      iam = started;
    }

    let machineArns: string[] = [];
    const reconciler = await reconcilerListener(() => machineArns);
    const sfn = await startLocalStepFunctions({
      region: LOCAL_REGION,
      // Workers, the API, the watchdog and the CLI sign with these, as they would with IAM credentials on AWS.
      credentials: LOCAL_CREDENTIALS,
      accountId: LOCAL_ACCOUNT,
      timeScale,
      lambdaHandlers: await loadHandlers(),
      lambdaConcurrency: options.lambdaConcurrency ?? Math.max(4, 3 * availableParallelism()),
      sqs: {
        async send(queueUrl, body) {
          // Only the job machine sends to the GPU queue; it does so with its own role.
          iam?.enforcement.authorize(MACHINE_PRINCIPALS.job, 'SQSClient', { action: 'sqs:SendMessage', resource: queueArnOf({ region: LOCAL_REGION, account: LOCAL_ACCOUNT }, queueUrl) });
          const res = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
          return res.MessageId === undefined ? {} : { MessageId: res.MessageId };
        },
      },
      // EventBridge's status-change rule: the caller's listener and the reconciler both hear each event.
      onStatusChange: async (event) => {
        await Promise.allSettled([options.onStatusChange?.(event), reconciler(event)]);
      },
    });
    cleanups.push(() => sfn.stop());

    const substitutions: Record<string, string> = {
      [GPU_QUEUE_URL_KEY]: resources.queues.gpu.url,
      ...Object.fromEntries(STATE_FUNCTIONS.map((id) => [functionArnKey(id), localFunctionArn(id)])),
    };
    const asl = (key: keyof typeof STATE_MACHINES) =>
      readFileSync(fileURLToPath(new URL(`../statemachines/${STATE_MACHINES[key].file}`, import.meta.url)), 'utf8');
    const job = sfn.createStateMachine({ name: 'vto-job', definition: asl('job'), substitutions });
    const pack = sfn.createStateMachine({
      name: 'vto-pack', definition: asl('pack'),
      substitutions: { ...substitutions, [JOB_STATE_MACHINE_ARN_KEY]: job.stateMachineArn },
    });
    machineArns = [job.stateMachineArn, pack.stateMachineArn];
    const sfnEnv = {
      AWS_ENDPOINT_URL_SFN: sfn.url,
      [STATE_MACHINES.job.envVar]: job.stateMachineArn,
      [STATE_MACHINES.pack.envVar]: pack.stateMachineArn,
    };
    Object.assign(process.env, sfnEnv);
    const env = { ...awsEnv, ...handlerEnv, ...sfnEnv };

    // The app API as API Gateway would serve it: SigV4-checked, the same Lambda handler in process.
    const { handler: apiHandler } = await import('../lambdas/api/handler.ts');
    const api = await startLocalApi({ handler: runsAs('Api', apiHandler), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    cleanups.push(() => api.stop());
    // The webhook sender on its queue, as Lambda's SQS event source runs it: the handler's
    // calls are checked against the sender's role; the poller's receive and delete stand for
    // Lambda's event source (granted by CDK with it) and are not. The signing key comes from
    // VTO_WEBHOOK_SECRET here, so its Secrets Manager grant is proven by synthesis tests only.
    const { handler: webhookHandler } = (await import('../lambdas/handlers/webhook-sender.ts')) as { handler: SqsHandler };
    const poller = startQueuePoller({
      sqs, queueUrl: resources.queues.webhooks.url, queueArn: resources.queues.webhooks.arn, name: 'vto-webhook-sender',
      handler: runsAs(WEBHOOK_SENDER_PRINCIPAL, webhookHandler),
    });
    cleanups.push(() => poller.stop());

    const workers: WorkerProcess[] = [];
    const supervisorLog: Record<string, unknown>[] = [];
    const supervisor = createSupervisor<WorkerProcess>({
      policy: {
        maxRestarts: WORKER_RESTART_POLICY.maxRestarts,
        windowMs: WORKER_RESTART_POLICY.windowSeconds * 1000 * timeScale,
        backoffMs: WORKER_RESTART_POLICY.backoffSeconds * 1000 * timeScale,
        maxBackoffMs: WORKER_RESTART_POLICY.maxBackoffSeconds * 1000 * timeScale,
      },
      log: (line) => {
        const stamped = { at: new Date().toISOString(), ...line };
        supervisorLog.push(stamped);
        (options.onSupervisorLog ?? ((l) => process.stderr.write(`${JSON.stringify(l)}\n`)))(stamped);
      },
      onReplaced: (previous, next) => {
        const i = workers.indexOf(previous);
        if (i >= 0) workers[i] = next;
      },
    });
    stopSupervisor = () => supervisor.stop();

    const leaseSeconds = workerLeaseSeconds(timeScale);
    const fleet = options.fleet;
    const bootMs = fleet === undefined ? 0 : Math.round(COLD_START.hostBootSeconds * 1000 * timeScale);
    const spawnWorker = async (id: string, comfy: ComfySim): Promise<WorkerProcess> => {
      // Heartbeats renew the attempt claim (bin/worker.ts) well inside the lease, so a dead
      // worker's claim lapses no later than its message reappears to another worker.
      const heartbeatMs = Math.max(100, Math.round((leaseSeconds * 1000) / 8));
      const child = spawn(process.execPath, [...(iam?.workerExecArgv ?? []), WORKER_BIN, '--worker-id', id, '--metrics-port', '0'], {
        env: {
          ...process.env,
          ...env,
          ...iam?.workerEnv,
          COMFYUI_URL: comfy.url,
          GPU_QUEUE_URL: resources.queues.gpu.url,
          // The next prompt waits in ComfyUI's queue while the current one runs.
          VTO_PREFETCH: String(options.prefetch ?? 1),
          VTO_HEARTBEAT_INTERVAL_MS: String(heartbeatMs),
          VTO_VISIBILITY_TIMEOUT_SECONDS: String(leaseSeconds),
          VTO_POLL_WAIT_SECONDS: '1',
          VTO_REQUEST_TIMEOUT_MS: String(options.requestTimeoutMs ?? 10_000),
          VTO_WORKER_START_TIMEOUT_MS: String(Math.max(20_000, 3 * bootMs)),
          // An autoscaled worker loads its model before it polls, so no job pays the load.
          ...(fleet !== undefined && { VTO_WARMUP_MODEL: LOCAL_MODELS[0] }),
          VTO_AUTO_SHUTDOWN_MS: 'off',
          VTO_SHUTDOWN_GRACE_MS: '2000',
          VTO_GENERATION_TIMEOUT_MS: String(gpuDeadlineMs),
          // Stall bounds on the same clock as the deadline, so a hang is cut well before it.
          VTO_STALL_FLOOR_MS: String(Math.max(500, Math.round(60_000 * timeScale))),
          VTO_STALL_FIRST_PROGRESS_MS: String(Math.max(1000, Math.round(300_000 * timeScale))),
        },
        stdio: ['ignore', 'pipe', options.logs ?? 'ignore'],
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      killOnExit(child);
      cleanups.push(() => stopChild(child, 3000));
      // stdout: the metrics URL first, then one answer per scale-in request, in order.
      const answers: ((accepted: boolean) => void)[] = [];
      const lines = createInterface({ input: child.stdout! });
      const metricsUrl = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${id} did not start within 30 s`)), 30_000);
        void exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`${id} exited with code ${code} while starting`)); });
        lines.once('line', (line) => {
          clearTimeout(timer);
          try {
            resolve((JSON.parse(line) as { metricsUrl: string }).metricsUrl);
          } catch {
            reject(new Error(`${id} printed an unexpected first line: ${line}`));
          }
          lines.on('line', (later) => answers.shift()?.(later.includes('"scaleIn":"accepted"')));
        });
      });
      const askScaleIn = (onAccepted: () => void) => new Promise<boolean>((resolve) => {
        const answer = (accepted: boolean) => {
          clearTimeout(timer);
          if (accepted) onAccepted();
          resolve(accepted);
        };
        const timer = setTimeout(() => {
          const i = answers.indexOf(answer);
          if (i >= 0) answers.splice(i, 1);
          resolve(false);
        }, 5000);
        answers.push(answer);
        if (!child.kill('SIGUSR2')) answer(false);
      });
      return { id, process: child, metricsUrl, comfy, exited, askScaleIn };
    };

    let workerCount = 0;
    const hosts: GpuHost[] = [];
    const addWorker = async (o: { supervise?: boolean } = {}): Promise<WorkerProcess> => {
      const n = ++workerCount;
      const id = `worker-${n}`;
      const launchedAt = Date.now();
      const comfy = await startComfySim({
        profile, seed, stepMs, installedModels: LOCAL_MODELS,
        // A ComfyUI that dies (the 'crash' fault) comes back after its model loads again, as ECS
        // brings back a task's essential container; until then its worker's host breaker keeps
        // it from taking tasks. Left dead, it failed every task its worker took (Transient.Network).
        restartAfterCrashMs: Math.max(200, Math.round(COLD_START.modelLoadSeconds * 1000 * timeScale)),
        ...(fleet === undefined
          ? { modelLoadMs: Math.round(2000 * timeScale) }
          : { bootMs, modelLoadMs: Math.round(COLD_START.modelLoadSeconds * 1000 * timeScale) }),
      });
      cleanups.push(() => comfy.stop());
      const host: GpuHost = { id, comfy, launchedAt, endedAt: null };
      hosts.push(host);
      cleanups.push(async () => { host.endedAt ??= Date.now(); });
      const w = await spawnWorker(id, comfy);
      workers.push(w);
      // The replacement runs under the same id beside the same ComfyUI host.
      if (o.supervise ?? options.supervise ?? true) supervisor.watch(w, () => spawnWorker(id, comfy));
      return w;
    };
    /** A stopped worker leaves the fleet with its host: its ComfyUI stops and the host's end is stamped. */
    const retire = async (w: WorkerProcess): Promise<void> => {
      const i = workers.indexOf(w);
      if (i >= 0) workers.splice(i, 1);
      await w.comfy.stop();
      const host = hosts.find((h) => h.id === w.id);
      if (host !== undefined) host.endedAt ??= Date.now();
    };
    const stopWorker = async (id: string): Promise<void> => {
      const w = workers.find((x) => x.id === id);
      if (w === undefined) return;
      supervisor.release(w);
      // The worker's own grace (VTO_SHUTDOWN_GRACE_MS) bounds the drain; this only bounds a stuck one.
      await stopChild(w.process, 15_000);
      await retire(w);
    };
    const scaleInWorker = async (id: string): Promise<boolean> => {
      const w = workers.find((x) => x.id === id);
      if (w === undefined) return false;
      // Released as the worker accepts, so its exit is not taken for a death and replaced.
      if (!(await w.askScaleIn(() => supervisor.release(w)))) return false;
      await Promise.race([w.exited, new Promise((r) => setTimeout(r, 15_000))]);
      await stopChild(w.process, 1000);
      await retire(w);
      return true;
    };
    let scaler: FleetScaler | undefined;
    const scalerSqs = new SQSClient({ useQueueUrlAsEndpoint: false, maxAttempts: 3 });
    scalerSqs.middlewareStack.use(callCheckPlugin as Parameters<typeof scalerSqs.middlewareStack.use>[0]);
    cleanups.push(async () => scalerSqs.destroy());
    if (fleet === undefined) {
      for (let i = 0; i < (options.workers ?? 2); i++) await addWorker();
    } else {
      const started = startFleetScaler({
        queueUrl: resources.queues.gpu.url, settings: fleet, timeScale,
        periodMs: Math.max(50, Math.round((options.scalerPeriodSeconds ?? 5) * 1000 * timeScale)),
        workers: () => workers, start: () => addWorker(), stop: scaleInWorker,
        // The scaler reads the GPU queue's depth as the fleet's hosts may (GpuWorkerPolicy),
        // through a client of this stack's endpoint that carries the IAM call check.
        sqs: scalerSqs,
        asPrincipal: (work) => asPrincipal(GPU_WORKER_PRINCIPAL, work),
        log: (line) => {
          const stamped = { at: new Date().toISOString(), ...line };
          supervisorLog.push(stamped);
          (options.onSupervisorLog ?? ((l) => process.stderr.write(`${JSON.stringify(l)}\n`)))(stamped);
        },
      });
      // Stopped before the workers, so it starts and drains nothing while the stack stops.
      const stopSupervisorOnly = stopSupervisor;
      stopSupervisor = async () => { await started.stop(); await stopSupervisorOnly(); };
      scaler = started;
    }

    // The watchdog's EventBridge schedule (every minute), scaled like every other wait; stopped first on stop().
    let watchdog: WatchdogTimer | undefined;
    if (options.watchdog ?? true) {
      const timer = await startWatchdogTimer(watchdogSettingsFromEnv().sweepPeriodMs);
      cleanups.push(() => timer.stop());
      watchdog = timer;
    }

    const endpoints: Endpoints = {
      region: LOCAL_REGION,
      credentials: { ...LOCAL_CREDENTIALS },
      stepFunctions: sfn.url,
      dynamodb: emulators.dynamodbEndpoint,
      sqs: emulators.sqsEndpoint,
      s3: emulators.s3Endpoint,
      comfyui: workers.map((w) => w.comfy.url),
      providers: providers.urls,
      workers: workers.map((w) => ({ id: w.id, metricsUrl: w.metricsUrl })),
      stateMachines: { pack: pack.stateMachineArn, job: job.stateMachineArn },
      queues: { gpu: resources.queues.gpu.url, gpuDlq: resources.queues.gpu.dlqUrl },
      bucket: resources.buckets.artifacts,
      tables: resources.tables,
      api: api.url,
      events: bus.url,
      webhookSecret,
    };
    return {
      env, endpoints, resources, sfn, workers, supervisorLog, providers, watchdog, iamDenials: () => iam?.denials(), addWorker, stopWorker, scaleInWorker,
      scaler, hosts, stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
