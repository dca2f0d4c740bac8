/**
 * The GPU worker agent (docs/architecture.md §2, step 5): long-polls the GPU queue, runs each task on ComfyUI
 * and answers its Step Functions token.
 *
 * Delivery semantics. SQS delivers at least once, so one job attempt (jobId, attempt) may
 * arrive more than once; it never runs twice at once in this process:
 * - The same SQS message again (its visibility lapsed mid-run): SQS honours only the
 *   newest receipt handle of a message, so the running job adopts it (visibility
 *   extensions and the final delete use it) and extends it at once. The old handle is
 *   stale; nothing is deleted.
 * - Another SQS message with the same attempt (the body sent twice): it is parked with
 *   the running job, its visibility extended with the job's, and settled with it —
 *   deleted once the attempt is answered or dropped, released if the job is released.
 *   Deleting it at once would also be safe, but parking keeps it if this worker dies.
 * - An attempt already answered here: deleted without running.
 * - Across workers, the first thing a job does is a SendTaskHeartbeat: a closed task
 *   (answered elsewhere, stopped, timed out) answers TaskTimedOut/InvalidToken and the
 *   message is dropped without running. Then it claims the attempt (attempt claims in the
 *   control table): a claim another worker holds leaves the message to that worker (hidden
 *   until the claim would lapse, never deleted); a lapsed claim is taken over.
 *
 * Leases. Waiting is not failing: a message no worker took waits in SQS. A worker takes one
 * only when it can run it soon (the running prompt plus `prefetch`), and holds it with a
 * short lease: the message's visibility and the attempt's claim, renewed every third of
 * `visibilityTimeoutSeconds`. A dead worker's message reappears when its lease lapses and
 * another worker takes the attempt over with the same task token.
 *
 * Keeping the GPU fed. A job holds one of the 1 + prefetch slots from receipt until its
 * prompt ends on ComfyUI; its output upload and its answer then run beside the next prompt,
 * while the freed slot already fetches and queues the one after.
 */
import {
  ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand,
  type Message, type SQSClient,
} from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { createClassifier, type Classifier } from '../core/classifier.ts';
import { CircuitOpenError } from '../core/errors.ts';
import type { GpuTaskMessage, GpuTaskOutput } from '../core/gpu-message.ts';
import { breakerVerdict, type ErrorName } from '../core/taxonomy.ts';
import { documentClient, s3Client, sfnClient, sqsClient } from '../adapters/aws-clients.ts';
import { TaughtPatternStore, taughtCache } from '../adapters/taught-patterns.ts';
import { ComfyClient } from './comfy-client.ts';
import { sleep } from './comfy-socket.ts';
import type { WorkerConfig } from './config.ts';
import { fitCause, toTaskFailure, type TaskFailure } from './failure.ts';
import { JobRunner, JobStopped, type StopReason } from './job-runner.ts';
import { createLogger, type Logger } from './logger.ts';
import { attemptKey, parseTaskBody, queueSeconds, receiveCount, runOf } from './message.ts';
import { startMetricsServer, type Health, type MetricsServer } from './metrics-server.ts';
import { WorkerMetrics } from './metrics.ts';
import { waitForComfy } from './readiness.ts';
import { warmUp } from './warmup.ts';
import { RecentKeys, repeat } from './repeat.ts';
import { TaskAnswerer, TokenGoneError } from './task-answer.ts';
import { access, grant } from '../adapters/access.ts';

/** The agent's own queue calls: long polls, deletes, visibility changes, the backlog gauge. */
export const GPU_QUEUE_ACCESS = access(grant('queue:gpu', 'sqs', 'ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility', 'GetQueueAttributes'));

/** The circuit breaker of this worker's ComfyUI host (DynamoDB-backed, plugged in by the caller). */
export interface CircuitBreakerHook {
  /** Throws CircuitOpenError (Transient.CircuitOpen) while the breaker refuses calls. */
  beforeCall(signal?: AbortSignal): Promise<void>;
  onSuccess(): Promise<void>;
  onFailure(): Promise<void>;
  /**
   * Resolves once the breaker would admit a call (no trial is spent); the poll loop waits on it.
   * Without it a refusing breaker's tasks are taken, refused and given back in a loop, each
   * round spending one of the message's receives before the queue dead-letters it.
   */
  untilAdmitting?(signal: AbortSignal): Promise<void>;
}

const NO_BREAKER: CircuitBreakerHook = { beforeCall: async () => {}, onSuccess: async () => {}, onFailure: async () => {} };

export type ClaimResult =
  | { readonly held: true }
  | { readonly held: false; readonly holder: string; readonly expiresAt: number };

/** Leases on (jobId, attempt, run), shared by every worker (adapters/attempt-claims.ts); `run` is the task's token digest. */
export interface AttemptClaimHook {
  claim(jobId: string, attempt: number, run?: string): Promise<ClaimResult>;
  /** False when another worker took the attempt over. */
  renew(jobId: string, attempt: number, run?: string): Promise<boolean>;
}

export interface GpuWorkerOptions {
  readonly config: WorkerConfig;
  /** Defaults: the process-wide clients of adapters/aws-clients.ts. */
  readonly clients?: { readonly sqs?: SQSClient; readonly s3?: S3Client; readonly sfn?: SFNClient };
  readonly breaker?: CircuitBreakerHook;
  /**
   * Claims on (jobId, attempt) shared by every worker (adapters/attempt-claims.ts),
   * so copies of one attempt never run on two workers at once. None: this worker's own
   * duplicate guard only.
   */
  readonly claims?: AttemptClaimHook;
  readonly log?: Logger;
  readonly classifier?: Classifier;
  /**
   * Called with the number of messages held whenever it changes (ECS task scale-in
   * protection: worker/task-protection.ts keeps a task that holds work from being stopped).
   */
  readonly onHeldChange?: (held: number) => void;
}

export type ExitReason = 'signal' | 'idle' | 'stopped' | 'scale-in';

interface ActiveJob {
  readonly key: string;
  readonly task: GpuTaskMessage;
  readonly messageId: string | undefined;
  receipt: string;
  /** Receipts of other messages carrying the same attempt, settled with this one. */
  readonly duplicates: string[];
  readonly stop: AbortController;
  readonly log: Logger;
  promptId: string | null;
  /** Holds one of the 1 + prefetch slots until its prompt ends on ComfyUI. */
  slot: boolean;
}

/** A given classifier as is; otherwise the built-ins and configured patterns, plus the taught ones when the control table is known. */
function classifierOf(given: Classifier | undefined, c: WorkerConfig, log: Logger): () => Promise<Classifier> {
  if (given !== undefined) return async () => given;
  const base = { patterns: c.classifierPatterns };
  const table = c.controlTable;
  if (table === undefined) {
    const fixed = createClassifier(base);
    return async () => fixed;
  }
  const store = new TaughtPatternStore({ client: documentClient, table: () => table });
  const cache = taughtCache({ read: () => store.read(), base, onError: (err) => log.warn('taught classifier patterns not read; classifying with the last copy', { err }) });
  return () => cache.classifier();
}

export class GpuWorker {
  readonly config: WorkerConfig;
  readonly metrics: WorkerMetrics;
  readonly #log: Logger;
  readonly #sqs: SQSClient;
  readonly #sfn: TaskAnswerer;
  readonly #runner: JobRunner;
  readonly #comfy: ComfyClient;
  /** Set after an out-of-memory failure: POST /free before the next prompt is queued. */
  #freeing: Promise<void> | null = null;
  readonly #breaker: CircuitBreakerHook;
  readonly #claims: AttemptClaimHook | undefined;
  /** The classifier with the operator-taught patterns as read at most a TTL ago (built-ins only without a control table). */
  readonly #classifier: () => Promise<Classifier>;
  readonly #onHeldChange: (held: number) => void;
  readonly #active = new Map<string, ActiveJob>();
  readonly #answered = new RecentKeys(10_000);
  readonly #tasks = new Set<Promise<void>>();
  readonly #pollAbort = new AbortController();
  #status: Health['status'] = 'starting';
  #startedAt = Date.now();
  /** When the worker last held nothing; meaningful while #active is empty. */
  #idleSince = Date.now();
  #server: MetricsServer | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #slotWaiters: (() => void)[] = [];
  #idleTimer: NodeJS.Timeout | undefined;
  #resolveDone!: (r: ExitReason) => void;
  /** Resolves once the worker has stopped, with why. */
  readonly done: Promise<ExitReason> = new Promise((r) => (this.#resolveDone = r));

  constructor(options: GpuWorkerOptions) {
    const c = (this.config = options.config);
    this.#log = options.log ?? createLogger({ level: c.logLevel, bound: { workerId: c.workerId } });
    this.#sqs = options.clients?.sqs ?? sqsClient();
    this.#sfn = new TaskAnswerer(options.clients?.sfn ?? sfnClient(), c.requestTimeoutMs);
    this.#breaker = options.breaker ?? NO_BREAKER;
    this.#claims = options.claims;
    this.#classifier = classifierOf(options.classifier, c, this.#log);
    this.#onHeldChange = options.onHeldChange ?? (() => {});
    this.metrics = new WorkerMetrics({ slots: this.slots, log: this.#log, sampleQueueSize: () => this.#sampleQueueSize() });
    this.#comfy = new ComfyClient({ baseUrl: c.comfyUrl, requestTimeoutMs: c.requestTimeoutMs });
    this.#runner = new JobRunner({
      comfy: this.#comfy,
      s3: options.clients?.s3 ?? s3Client(),
      bucket: c.artifactsBucket,
      requestTimeoutMs: c.requestTimeoutMs,
      historyPollMs: c.historyPollMs,
      wsReconnectAttempts: c.wsReconnectAttempts,
      wsReconnectDelayMs: c.wsReconnectDelayMs,
      workerId: c.workerId,
      onReconnect: () => this.metrics.retries.inc(),
      stall: { factor: c.stallFactor, floorMs: c.stallFloorMs, firstProgressMs: c.stallFirstProgressMs },
    });
  }

  /** Prompts kept on ComfyUI at once: the running one and the prefetched. */
  get slots(): number {
    return 1 + this.config.prefetch;
  }

  /** Messages held at most: the slots, and as many finishing (outputs, answer) beside them. */
  get #maxHeld(): number {
    return 2 * this.slots;
  }

  #slotsTaken(): number {
    let n = 0;
    for (const j of this.#active.values()) if (j.slot) n += 1;
    return n;
  }

  #releaseSlot(job: ActiveJob): void {
    if (!job.slot) return;
    job.slot = false;
    this.#wakeSlotWaiters();
  }

  /** http://host:port of /metrics and /healthz; set once started. */
  get metricsUrl(): string {
    if (!this.#server) throw new Error('the worker has not started');
    return `${this.#server.url}/metrics`;
  }

  health(): Health {
    return {
      status: this.#status, busy: this.#active.size, slots: this.slots,
      idleSeconds: this.#active.size > 0 ? null : (Date.now() - this.#idleSince) / 1000,
      uptime: (Date.now() - this.#startedAt) / 1000,
    };
  }

  /** Starts serving /metrics and /healthz (status "starting" until ComfyUI is ready). Idempotent. */
  async listen(): Promise<string> {
    this.#server ??= await startMetricsServer({
      registry: this.metrics.registry, health: () => this.health(), host: this.config.metricsHost, port: this.config.metricsPort,
    });
    return this.metricsUrl;
  }

  /**
   * Serves metrics, waits for ComfyUI, then starts polling. Throws ComfyNotReadyError when
   * ComfyUI never answers; returns quietly when stop() came first.
   */
  async start(): Promise<void> {
    this.#startedAt = Date.now();
    await this.listen();
    try {
      await waitForComfy(new ComfyClient({ baseUrl: this.config.comfyUrl, requestTimeoutMs: this.config.requestTimeoutMs }),
        this.config.workerStartTimeoutMs, this.#log, this.#pollAbort.signal);
    } catch (e) {
      if (this.#pollAbort.signal.aborted) return;
      await this.#server?.close();
      this.#status = 'stopped';
      throw e;
    }
    if (this.#pollAbort.signal.aborted) return;
    await this.#cancelLeftovers();
    if (this.config.warmupModel !== null) {
      this.#status = 'warming';
      const w = await warmUp(this.#comfy, {
        model: this.config.warmupModel, workerId: this.config.workerId, timeoutMs: this.config.generationTimeoutMs,
        pollMs: Math.min(this.config.historyPollMs, 250), log: this.#log, signal: this.#pollAbort.signal,
      });
      this.metrics.warmupSeconds.set(w.seconds);
      if (this.#pollAbort.signal.aborted) return;
    }
    this.#status = 'ok';
    this.#idleSince = Date.now();
    this.#log.info('GPU worker polling', { queueUrl: this.config.queueUrl, prefetch: this.config.prefetch, leaseSeconds: this.config.visibilityTimeoutSeconds, metricsUrl: this.metricsUrl });
    this.#armIdle();
    this.#loop = this.#pollLoop();
  }

  /**
   * Prompts of pipeline tasks already on this ComfyUI belong to a worker that died here (each
   * worker has its own ComfyUI): their tasks run again elsewhere once the lease lapses, so
   * they are stopped rather than left to hold the GPU for nobody.
   */
  async #cancelLeftovers(): Promise<void> {
    try {
      const leftovers = (await this.#comfy.queued()).filter((p) => p.extraData['vto'] !== undefined);
      for (const p of leftovers) await this.#comfy.cancel(p.promptId);
      if (leftovers.length > 0) this.#log.warn('cancelled prompts a previous worker left on ComfyUI', { promptIds: leftovers.map((p) => p.promptId) });
    } catch (e) {
      this.#log.warn('could not read ComfyUI\'s queue for prompts a previous worker left', { err: e });
    }
  }

  /**
   * Stops polling, lets in-flight jobs finish for up to shutdownGraceMs, then releases
   * the rest (prompt interrupted, message visible again at once, token not answered).
   */
  stop(reason: ExitReason = 'stopped'): Promise<void> {
    this.#stopping ??= this.#drain(reason);
    return this.#stopping;
  }

  /**
   * A scale-in request, honoured as ECS task scale-in protection would: the worker leaves
   * (drains) only while it is polling and holds nothing, and otherwise refuses and keeps
   * working. Checked and acted on in one synchronous step, so no message can be taken between
   * the check and the stop (one received meanwhile goes straight back to the queue).
   */
  scaleIn(): boolean {
    if (this.#status !== 'ok' || this.#active.size > 0) return false;
    void this.stop('scale-in');
    return true;
  }

  async #drain(reason: ExitReason): Promise<void> {
    this.#status = 'draining';
    clearTimeout(this.#idleTimer);
    this.#pollAbort.abort(new Error('worker stopping'));
    this.#wakeSlotWaiters();
    this.#log.info('GPU worker stopping', { reason, inFlight: this.#active.size, graceMs: this.config.shutdownGraceMs });
    await this.#loop;
    const settled = Promise.allSettled([...this.#tasks]);
    const inTime = await Promise.race([settled.then(() => true), sleep(this.config.shutdownGraceMs).then(() => false)]);
    if (!inTime) {
      for (const job of this.#active.values()) job.stop.abort(new JobStopped('release', 'the worker is shutting down'));
      await Promise.race([Promise.allSettled([...this.#tasks]), sleep(this.config.requestTimeoutMs * 2 + 1000)]);
    }
    await this.#server?.close();
    this.#status = 'stopped';
    this.#log.info('GPU worker stopped', { reason, released: !inTime });
    this.#resolveDone(reason);
  }

  #armIdle(): void {
    const ms = this.config.autoShutdownMs;
    clearTimeout(this.#idleTimer);
    if (ms === null || this.#active.size > 0 || this.#status !== 'ok') return;
    this.#idleTimer = setTimeout(() => {
      if (this.#active.size > 0) return;
      this.#log.info('idle for autoShutdownMs; shutting down', { autoShutdownMs: ms });
      void this.stop('idle');
    }, ms);
  }

  #wakeSlotWaiters(): void {
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const w of waiters) w();
  }

  async #pollLoop(): Promise<void> {
    const c = this.config;
    let backoffMs = 0;
    while (!this.#pollAbort.signal.aborted) {
      const free = Math.min(this.slots - this.#slotsTaken(), this.#maxHeld - this.#active.size);
      if (free <= 0) {
        await new Promise<void>((r) => this.#slotWaiters.push(r));
        continue;
      }
      // A host whose breaker is open takes nothing: its tasks go to the other hosts.
      if (this.#breaker.untilAdmitting) {
        try {
          await this.#breaker.untilAdmitting(this.#pollAbort.signal);
        } catch (e) {
          if (this.#pollAbort.signal.aborted) break;
          this.#log.warn('could not read the circuit breaker; polling anyway', { err: e });
        }
      }
      let messages: Message[];
      try {
        const res = await this.#sqs.send(new ReceiveMessageCommand({
          QueueUrl: c.queueUrl,
          MaxNumberOfMessages: Math.min(free, 10),
          WaitTimeSeconds: c.pollWaitSeconds,
          VisibilityTimeout: c.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        }), { abortSignal: this.#pollAbort.signal });
        messages = res.Messages ?? [];
        backoffMs = 0;
      } catch (e) {
        if (this.#pollAbort.signal.aborted) break;
        backoffMs = Math.min(Math.max(backoffMs * 2, 200), 5000);
        this.#log.warn('receiving from the GPU queue failed; retrying', { err: e, backoffMs });
        await sleep(backoffMs, this.#pollAbort.signal).catch(() => {});
        continue;
      }
      if (this.#pollAbort.signal.aborted) {
        // Received while stopping: give them straight back.
        await Promise.allSettled(messages.map((m) => this.#setVisibility(m.ReceiptHandle, 0, this.#log)));
        break;
      }
      for (const m of messages) {
        const t = this.#handle(m).catch((e: unknown) => this.#log.error('message handling failed', { err: e, messageId: m.MessageId }));
        this.#tasks.add(t);
        void t.finally(() => this.#tasks.delete(t));
      }
    }
  }

  async #handle(m: Message): Promise<void> {
    const receivedAt = Date.now();
    const receipt = m.ReceiptHandle;
    if (receipt === undefined) return;
    const count = receiveCount(m);
    if (count > 1) this.metrics.retries.inc();
    const parsed = parseTaskBody(m.Body);
    if (!parsed.ok) {
      await this.#rejectInvalid(m, receipt, parsed.taskToken, parsed.problems);
      this.#armIdle();
      return;
    }
    const { task, action } = parsed;
    const key = attemptKey(task);
    const log = this.#log.child({ jobId: task.jobId, attempt: task.attempt, packId: task.packId, messageId: m.MessageId });

    if (this.#answered.has(key)) {
      log.info('duplicate delivery of an attempt already answered; deleting it', { receiveCount: count });
      await this.#delete(receipt, log);
      this.#armIdle();
      return;
    }
    const running = this.#active.get(key);
    if (running) {
      if (running.messageId !== undefined && running.messageId === m.MessageId) {
        log.warn('the running attempt was redelivered (visibility lapsed); adopting the new receipt', { receiveCount: count });
        running.receipt = receipt;
      } else {
        log.warn('another message carries the running attempt; holding it until the attempt settles', { receiveCount: count });
        running.duplicates.push(receipt);
      }
      await this.#setVisibility(receipt, this.config.visibilityTimeoutSeconds, log);
      return;
    }

    const job: ActiveJob = { key, task, messageId: m.MessageId, receipt, duplicates: [], stop: new AbortController(), log, promptId: null, slot: true };
    this.#active.set(key, job);
    clearTimeout(this.#idleTimer);
    this.metrics.workersBusy.set(this.#active.size);
    this.#onHeldChange(this.#active.size);
    const waited = queueSeconds(task, m, receivedAt);
    if (waited !== null) this.metrics.queueDuration.observe({ action }, waited);
    log.info('task received', { receiveCount: count, queueSeconds: waited });
    try {
      await this.#runActive(job, action, receivedAt);
    } finally {
      job.slot = false;
      this.#active.delete(key);
      if (this.#active.size === 0) this.#idleSince = Date.now();
      this.metrics.workersBusy.set(this.#active.size);
      this.#onHeldChange(this.#active.size);
      this.#wakeSlotWaiters();
      this.#armIdle();
    }
  }

  async #rejectInvalid(m: Message, receipt: string, token: string | null, problems: readonly string[]): Promise<void> {
    const log = this.#log.child({ messageId: m.MessageId });
    log.error('GPU task message does not match the contract', { problems, hasToken: token !== null });
    if (token !== null) {
      const cause = fitCause({ message: 'the GPU task message does not match gpuTaskMessageSchema (core/gpu-message.ts)', problems });
      try {
        await this.#sfn.failure(token, 'Fatal.WorkflowInvalid', cause);
        this.metrics.failures.inc({ code: 'Fatal.WorkflowInvalid' });
      } catch (e) {
        if (!(e instanceof TokenGoneError)) {
          // Keep the message: it comes back and the answer is tried again (then the DLQ).
          log.error('could not answer the invalid message; leaving it for redelivery', { err: e });
          return;
        }
      }
    }
    await this.#delete(receipt, log);
  }

  async #runActive(job: ActiveJob, action: string, receivedAt: number): Promise<void> {
    const c = this.config;
    const deadlineMs = (seconds: number | undefined) => (seconds !== undefined ? Math.round(seconds * 1000) : c.generationTimeoutMs);
    const { task, log } = job;
    let claimed = false;
    // The lease: visibility and claim renewed together, every third of the lease.
    const stopLease = repeat(Math.max(100, Math.round(c.visibilityTimeoutSeconds * 1000 / 3)), async () => {
      await Promise.all([job.receipt, ...job.duplicates].map((r) => this.#setVisibility(r, c.visibilityTimeoutSeconds, log)));
      if (claimed) await this.#renewClaim(job);
    });
    let stopHeartbeat = () => {};
    try {
      // A closed task (answered by another worker, stopped, timed out) is not run again.
      if (!(await this.#heartbeat(job))) {
        await this.#settleDropped(job, 'the task was already closed before it started');
        return;
      }
      const claim = await this.#claim(job);
      if (!claim.held) {
        // Another worker runs this very attempt: leave the message to it. Hidden until that
        // claim would lapse, it comes back only if the holder dies (then it is taken over).
        const seconds = Math.min(43_200, Math.max(1, Math.ceil((claim.expiresAt - Date.now()) / 1000) + 1));
        log.info('another worker holds this attempt; leaving the message to it', { holder: claim.holder, hiddenSeconds: seconds });
        await this.#setVisibility(job.receipt, seconds, log);
        return;
      }
      claimed = true;
      stopHeartbeat = repeat(c.heartbeatIntervalMs, async () => void (await this.#heartbeat(job)));

      let result: { ok: true; output: GpuTaskOutput } | { ok: false; failure: TaskFailure };
      try {
        await this.#breaker.beforeCall(job.stop.signal);
        const deadline = deadlineMs(task.deadlineSeconds);
        const output = await this.#runner.run({
          message: task,
          deadlineMs: deadline,
          // At most `prefetch` prompts run before this one.
          queueWaitMs: deadline * this.slots,
          stop: job.stop.signal,
          log,
          onPromptQueued: (id) => (job.promptId = id),
          beforeQueue: () => this.#freeing ?? Promise.resolve(),
          onPromptEnded: () => this.#releaseSlot(job),
        });
        result = { ok: true, output };
      } catch (e) {
        this.#releaseSlot(job);
        if (e instanceof JobStopped) {
          if (e.reason === 'release') await this.#settleReleased(job);
          else if (e.reason === 'claim-lost') log.warn('another worker took the attempt over; stopping without an answer', { promptId: job.promptId });
          else await this.#settleDropped(job, e.message);
          return;
        }
        if (e instanceof CircuitOpenError) {
          // This host is refused; another host runs the task.
          log.warn('this host\'s circuit breaker is open; giving the task back', { err: e });
          await this.#settleReleased(job);
          return;
        }
        const failure = toTaskFailure(e, await this.#classifier(), { jobId: task.jobId, attempt: task.attempt, promptId: job.promptId, workerId: c.workerId });
        log.warn('task failed', { error: failure.error, matched: failure.matched, promptId: job.promptId, err: e });
        if (failure.error === 'Gpu.OutOfMemory') this.#freeMemory(log);
        result = { ok: false, failure };
      } finally {
        stopHeartbeat();
      }
      await this.#reportToBreaker(result.ok ? null : result.failure.error, log);
      await this.#answer(job, result, action, receivedAt);
    } finally {
      stopHeartbeat();
      stopLease();
    }
  }

  /** After an out-of-memory error: ComfyUI unloads its models and frees its cache before the next prompt is queued. */
  #freeMemory(log: Logger): void {
    const freeing = this.#comfy.free().then(
      () => log.info('asked ComfyUI to free its memory after an out-of-memory error'),
      (e: unknown) => log.warn('could not ask ComfyUI to free its memory', { err: e }),
    ).finally(() => {
      if (this.#freeing === freeing) this.#freeing = null;
    });
    this.#freeing = freeing;
  }

  /** Takes the attempt's shared claim; a claim store that cannot answer does not stop GPU work. */
  async #claim(job: ActiveJob): Promise<ClaimResult> {
    if (this.#claims === undefined) return { held: true };
    try {
      return await this.#claims.claim(job.task.jobId, job.task.attempt, runOf(job.task));
    } catch (e) {
      job.log.warn('could not claim the attempt; running it anyway', { err: e });
      return { held: true };
    }
  }

  /** Renews the claim with the lease; a worker that took it over stops this job. */
  async #renewClaim(job: ActiveJob): Promise<void> {
    if (this.#claims === undefined || job.stop.signal.aborted) return;
    try {
      if (!(await this.#claims.renew(job.task.jobId, job.task.attempt, runOf(job.task)))) {
        job.stop.abort(new JobStopped('claim-lost', 'another worker took the attempt over'));
      }
    } catch (e) {
      job.log.warn('could not renew the attempt claim', { err: e });
    }
  }

  /** Sends one heartbeat; false when the task is closed (the job is then stopped). */
  async #heartbeat(job: ActiveJob): Promise<boolean> {
    try {
      await this.#sfn.heartbeat(job.task.taskToken);
      return true;
    } catch (e) {
      if (e instanceof TokenGoneError) {
        job.log.warn('the task token is no longer accepted; stopping the job', { code: e.code, promptId: job.promptId });
        job.stop.abort(new JobStopped('token-gone', e.message));
        return false;
      }
      this.metrics.heartbeatMissed.inc();
      job.log.warn('heartbeat failed', { err: e });
      return true;
    }
  }

  async #reportToBreaker(error: ErrorName | null, log: Logger): Promise<void> {
    try {
      // The taxonomy says which failures indict ComfyUI (core/taxonomy.ts, `breaker`).
      const verdict = error === null ? 'success' : breakerVerdict(error);
      if (verdict === 'failure') await this.#breaker.onFailure();
      else if (verdict === 'success') await this.#breaker.onSuccess();
    } catch (e) {
      log.warn('the circuit breaker could not record the outcome', { err: e });
    }
  }

  async #answer(job: ActiveJob, result: { ok: true; output: GpuTaskOutput } | { ok: false; failure: TaskFailure }, action: string, receivedAt: number): Promise<void> {
    const { task, log } = job;
    try {
      if (result.ok) await this.#sfn.success(task.taskToken, result.output);
      else await this.#sfn.failure(task.taskToken, result.failure.error, result.failure.cause);
    } catch (e) {
      if (e instanceof TokenGoneError) {
        await this.#settleDropped(job, `the answer was refused: ${e.message}`);
        return;
      }
      // Not answered and not deleted: the message reappears after its visibility and runs again.
      log.error('could not answer the task; leaving the message for redelivery', { err: e, promptId: job.promptId });
      return;
    }
    this.metrics.duration.observe({ action }, (Date.now() - receivedAt) / 1000);
    if (!result.ok) this.metrics.failures.inc({ code: result.failure.error });
    log.info(result.ok ? 'task succeeded' : 'task failure answered', {
      promptId: job.promptId, ...(result.ok ? { outputs: result.output.outputs } : { error: result.failure.error }),
    });
    this.#answered.add(job.key);
    await this.#deleteAll(job);
  }

  /** The task is closed: nothing to answer; the message and its duplicates are useless. */
  async #settleDropped(job: ActiveJob, why: string): Promise<void> {
    job.log.warn('dropping the task without an answer', { why, promptId: job.promptId });
    this.#answered.add(job.key);
    await this.#deleteAll(job);
  }

  /** Shutdown: the message (and duplicates) become visible at once for another worker. */
  async #settleReleased(job: ActiveJob): Promise<void> {
    job.log.info('releasing the task for another worker', { promptId: job.promptId });
    await Promise.all([job.receipt, ...job.duplicates].map((r) => this.#setVisibility(r, 0, job.log)));
  }

  async #deleteAll(job: ActiveJob): Promise<void> {
    await Promise.all([job.receipt, ...job.duplicates].map((r) => this.#delete(r, job.log)));
  }

  async #delete(receipt: string, log: Logger): Promise<void> {
    try {
      await this.#sqs.send(new DeleteMessageCommand({ QueueUrl: this.config.queueUrl, ReceiptHandle: receipt }),
        { abortSignal: AbortSignal.timeout(this.config.requestTimeoutMs) });
    } catch (e) {
      log.warn('could not delete the message; a redelivery will be recognised', { err: e });
    }
  }

  async #setVisibility(receipt: string | undefined, seconds: number, log: Logger): Promise<void> {
    if (receipt === undefined) return;
    try {
      await this.#sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.config.queueUrl, ReceiptHandle: receipt, VisibilityTimeout: seconds }),
        { abortSignal: AbortSignal.timeout(this.config.requestTimeoutMs) });
    } catch (e) {
      log.debug('could not change the message visibility', { err: e, seconds });
    }
  }

  async #sampleQueueSize(): Promise<number> {
    const res = await this.#sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.config.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      { abortSignal: AbortSignal.timeout(this.config.requestTimeoutMs) });
    return Number(res.Attributes?.['ApproximateNumberOfMessages'] ?? 0);
  }
}

export type { StopReason };
