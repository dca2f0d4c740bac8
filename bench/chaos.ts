/**
 * Carries out a ChaosPlan on a running offline stack and writes down what it did and when:
 * SIGKILLs a worker mid-prompt (and starts a new one, as an autoscaler would), delivers GPU
 * task messages a second time, has a provider answer 503 for a window, pulls the emergency stop
 * and resumes through the operator API, and — in every profile — restarts a crashed
 * ComfyUI after a short pause, as its process supervisor would. It also watches the
 * circuit-breaker items in the control table.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { PromptRecord } from '../local/comfyui/server.ts';
import type { OfflineStack, WorkerProcess } from '../local/stack.ts';
import { duplicateDelaySeconds, type ChaosPlan } from './chaos-plan.ts';
import type { Sampler } from './sampler.ts';

export interface KillEvent {
  readonly at: number;
  readonly worker: string;
  readonly gpu: string;
  readonly replacement: string | null;
  /** Job attempts on the killed worker's GPU: the one running and those queued behind it. */
  readonly running: { jobId: string; attempt: number } | null;
  readonly queued: readonly { jobId: string; attempt: number }[];
}

export interface BreakerChange {
  readonly provider: string;
  readonly at: number;
  readonly from: string | null;
  readonly to: string;
}

export interface ChaosLog {
  readonly kills: KillEvent[];
  readonly duplicates: { at: number; jobId: string; attempt: number }[];
  providerDown: { service: string; from: number; to: number | null } | null;
  emergencyStop: { stoppedAt: number; resumedAt: number | null; stopAnswer: unknown; resumeAnswer: unknown } | { skipped: string } | null;
  readonly comfyRestarts: { at: number; gpu: string }[];
  /** Breaker states seen in the control table (polled), per provider, in order. */
  readonly breakers: BreakerChange[];
  breakerItemsSeen: boolean;
}

export interface Operator {
  emergencyStop(): Promise<unknown>;
  resume(): Promise<unknown>;
}

export interface ChaosContext {
  readonly stack: OfflineStack;
  readonly plan: ChaosPlan;
  readonly seed: number;
  readonly timeScale: number;
  readonly sampler: Sampler;
  readonly startedAt: number;
  readonly gpuQueueUrl: string;
  readonly controlTable: string;
  /** How many of the workload's jobs are terminal now (read by the benchmark, not the pipeline). */
  readonly terminalJobs: () => Promise<number>;
  readonly totalJobs: number;
  /** The workload's job ids (a provider outage refuses all of them). */
  readonly jobIds: readonly string[];
  /** The operator API (POST /emergency-stop, POST /resume); null leaves the stop out. */
  readonly operator: Operator | null;
}

export interface ChaosDriver {
  readonly log: ChaosLog;
  /** No chaos action is half done (a stop waiting for its resume, a provider still down). */
  settled(): boolean;
  stop(): Promise<void>;
}

/** Providers whose breaker items the pipeline keeps in the control table (`breaker#<provider>`). */
const BREAKER_PROVIDERS = ['comfyui', 'hosted-inpaint', 'segmentation', 'analyzer'];

export const isAlive = (w: WorkerProcess) => w.process.exitCode === null && w.process.signalCode === null;

export function startChaos(ctx: ChaosContext): ChaosDriver {
  return new ChaosRun(ctx);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gpuName = (w: WorkerProcess) => `gpu-of-${w.id}`;
const attemptOf = (p: PromptRecord) => (p.jobId === null || p.attempt === null ? [] : [{ jobId: p.jobId, attempt: p.attempt }]);

/** Timers the run set, so stop() can clear those not yet due. */
class Timers {
  readonly #pending = new Set<NodeJS.Timeout>();

  /** Runs fn after ms; its failure is dropped (a chaos action that fails leaves its log entry out). */
  later(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.#pending.delete(t);
      void fn().catch(() => undefined);
    }, ms);
    this.#pending.add(t);
  }

  clear(): void {
    for (const t of this.#pending) clearTimeout(t);
    this.#pending.clear();
  }
}

class ChaosRun implements ChaosDriver {
  readonly log: ChaosLog = { kills: [], duplicates: [], providerDown: null, emergencyStop: null, comfyRestarts: [], breakers: [], breakerItemsSeen: false };
  readonly #ctx: ChaosContext;
  readonly #timers = new Timers();
  readonly #sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  readonly #ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  /** GPUs whose crashed ComfyUI waits for its restart. */
  readonly #restarting = new Set<string>();
  /** Pids of the workers killed so far. */
  readonly #killed = new Set<string>();
  readonly #duplicatedTokens = new Set<string>();
  /** The last breaker state seen per provider. */
  readonly #breakerStates = new Map<string, string>();
  readonly #loops: Promise<void>[];
  #nextKill = 0;
  /** Chaos actions under way (a kill being logged, an outage or a stop not yet over). */
  #busy = 0;
  #stopDone: boolean;
  #stopped = false;

  constructor(ctx: ChaosContext) {
    this.#ctx = ctx;
    this.#stopDone = !Number.isFinite(ctx.plan.emergencyStop.afterTerminalJobs) || ctx.operator === null;
    if (ctx.plan.duplicateRate > 0) ctx.sampler.onNewMessage((m) => this.#duplicate(m.body));
    if (Number.isFinite(ctx.plan.providerDown.startSeconds)) this.#scheduleOutage();
    this.#loops = [this.#tickLoop(), this.#stopDone ? Promise.resolve() : this.#emergencyStopLoop(), this.#breakerLoop()];
  }

  // Actions not yet due when the workload ends (a kill after the last prompt) are left undone.
  settled(): boolean {
    return this.#busy === 0 && this.#stopDone && this.#restarting.size === 0;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timers.clear();
    await Promise.all(this.#loops);
    this.#sqs.destroy();
    this.#ddb.destroy();
  }

  #simMs(seconds: number): number {
    return seconds * 1000 * this.#ctx.timeScale;
  }

  async #during(action: () => Promise<void> | void): Promise<void> {
    this.#busy++;
    try {
      await action();
    } finally {
      this.#busy--;
    }
  }

  async #tickLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        this.#superviseComfy();
        await this.#killDue();
      } catch {
        // a failed tick is tried again on the next
      }
      await sleep(25);
    }
  }

  /** The ComfyUI supervisor: a crashed server is restarted after a pause. */
  #superviseComfy(): void {
    for (const w of this.#ctx.stack.workers) {
      const name = gpuName(w);
      if (!w.comfy.stats().crashed || this.#restarting.has(name)) continue;
      this.#restarting.add(name);
      this.#timers.later(this.#simMs(this.#ctx.plan.comfyRestartSeconds), async () => {
        await w.comfy.restart().catch(() => undefined);
        this.log.comfyRestarts.push({ at: Date.now(), gpu: name });
        this.#restarting.delete(name);
      });
    }
  }

  /** SIGKILLs a worker mid-prompt once the planned number of prompts has started. */
  async #killDue(): Promise<void> {
    const target = this.#ctx.plan.killAtPromptStarts[this.#nextKill];
    if (target === undefined) return;
    const workers = this.#ctx.stack.workers;
    const started = workers.flatMap((w) => w.comfy.promptLog().filter((p) => p.startedAt !== null).map((p) => ({ w, p })))
      .sort((a, b) => a.p.startedAt! - b.p.startedAt!);
    if (started.length < target) return;
    const preferred = started[target - 1]!.w;
    const victim = [preferred, ...workers].find((w) => isAlive(w) && !this.#killed.has(String(w.process.pid)) && w.comfy.stats().running !== null);
    if (victim === undefined) return;
    this.#nextKill++;
    this.#killed.add(String(victim.process.pid));
    await this.#during(() => {
      const prompts = victim.comfy.promptLog();
      const runningId = victim.comfy.stats().running;
      const running = prompts.find((p) => p.promptId === runningId);
      const queued = prompts.filter((p) => p.startedAt === null && p.endedAt === null).flatMap(attemptOf);
      const at = Date.now();
      victim.process.kill('SIGKILL');
      // The stack's supervisor starts the replacement under the same id, beside the same ComfyUI.
      this.log.kills.push({ at, worker: victim.id, gpu: gpuName(victim), replacement: victim.id, running: running ? attemptOf(running)[0] ?? null : null, queued });
    });
  }

  /** Duplicate deliveries: the same body (same task token) sent again, as SQS may. */
  #duplicate(messageBody: string): void {
    let body: { taskToken?: unknown; jobId?: unknown; attempt?: unknown };
    try {
      body = JSON.parse(messageBody) as typeof body;
    } catch {
      return;
    }
    const token = typeof body.taskToken === 'string' ? body.taskToken : null;
    if (token === null || this.#duplicatedTokens.has(token) || typeof body.jobId !== 'string' || typeof body.attempt !== 'number') return;
    this.#duplicatedTokens.add(token);
    const delay = duplicateDelaySeconds(this.#ctx.plan, this.#ctx.seed, body.jobId, body.attempt);
    if (delay === null) return;
    const { jobId, attempt } = body;
    this.#timers.later(this.#simMs(delay), async () => {
      if (this.#stopped) return;
      await this.#sqs.send(new SendMessageCommand({ QueueUrl: this.#ctx.gpuQueueUrl, MessageBody: messageBody }));
      this.log.duplicates.push({ at: Date.now(), jobId, attempt });
    });
  }

  /**
   * A provider down for a window: every call of every workload job answers 503 until it
   * ends (forced faults on the simulator, the fault profile's own decisions resume after).
   */
  #scheduleOutage(): void {
    const { stack, jobIds, startedAt, plan } = this.#ctx;
    const down = plan.providerDown;
    this.#timers.later(Math.max(0, startedAt + this.#simMs(down.startSeconds) - Date.now()), async () => {
      if (this.#stopped) return;
      await this.#during(async () => {
        for (const jobId of jobIds) stack.providers.setFault(down.service, jobId, 'http503', Number.POSITIVE_INFINITY);
        const window = { service: down.service, from: Date.now(), to: null as number | null };
        this.log.providerDown = window;
        await sleep(this.#simMs(down.durationSeconds));
        for (const jobId of jobIds) stack.providers.setFault(down.service, jobId, null);
        window.to = Date.now();
      });
    });
  }

  /** Emergency stop and resume through the operator API, once enough jobs are terminal. */
  async #emergencyStopLoop(): Promise<void> {
    const { plan, operator, totalJobs } = this.#ctx;
    while (!this.#stopped && !this.#stopDone) {
      const terminal = await this.#ctx.terminalJobs().catch(() => 0);
      if (terminal >= totalJobs) {
        this.log.emergencyStop = { skipped: 'every job ended before the stop was due' };
        this.#stopDone = true;
        return;
      }
      if (terminal >= plan.emergencyStop.afterTerminalJobs) {
        try {
          await this.#during(async () => {
            const stoppedAt = Date.now();
            const stopAnswer = await operator!.emergencyStop();
            const entry = { stoppedAt, resumedAt: null as number | null, stopAnswer, resumeAnswer: null as unknown };
            this.log.emergencyStop = entry;
            await sleep(this.#simMs(plan.emergencyStop.pauseSeconds));
            entry.resumeAnswer = await operator!.resume();
            entry.resumedAt = Date.now();
          });
        } finally {
          this.#stopDone = true;
        }
        return;
      }
      await sleep(100);
    }
  }

  /** Breaker states as the control table holds them. */
  async #breakerLoop(): Promise<void> {
    while (!this.#stopped) {
      for (const provider of BREAKER_PROVIDERS) {
        try {
          await this.#readBreaker(provider);
        } catch {
          // a missed poll only thins the series
        }
      }
      await sleep(100);
    }
  }

  async #readBreaker(provider: string): Promise<void> {
    const r = await this.#ddb.send(new GetCommand({ TableName: this.#ctx.controlTable, Key: { id: `breaker#${provider}` } }));
    const state = typeof r.Item?.['state'] === 'string' ? r.Item['state'] : null;
    if (state === null) return;
    this.log.breakerItemsSeen = true;
    const before = this.#breakerStates.get(provider) ?? null;
    if (before === state) return;
    this.log.breakers.push({ provider, at: Date.now(), from: before, to: state });
    this.#breakerStates.set(provider, state);
  }
}
