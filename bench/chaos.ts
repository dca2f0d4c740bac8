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
  const { stack, plan, timeScale } = ctx;
  const simMs = (seconds: number) => seconds * 1000 * timeScale;
  const log: ChaosLog = { kills: [], duplicates: [], providerDown: null, emergencyStop: null, comfyRestarts: [], breakers: [], breakerItemsSeen: false };
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void | Promise<void>) => {
    const t = setTimeout(() => {
      timers.delete(t);
      void Promise.resolve(fn()).catch(() => undefined);
    }, ms);
    timers.add(t);
  };
  let stopped = false;
  let busy = 0;
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const restarting = new Set<string>();
  const killed = new Set<string>();
  let nextKill = 0;

  const gpuName = (w: WorkerProcess) => `gpu-of-${w.id}`;

  const tick = async () => {
    // The ComfyUI supervisor: a crashed server is restarted after a pause.
    for (const w of stack.workers) {
      const name = gpuName(w);
      if (w.comfy.stats().crashed && !restarting.has(name)) {
        restarting.add(name);
        later(simMs(plan.comfyRestartSeconds), async () => {
          await w.comfy.restart().catch(() => undefined);
          log.comfyRestarts.push({ at: Date.now(), gpu: name });
          restarting.delete(name);
        });
      }
    }
    // SIGKILL a worker mid-prompt once the planned number of prompts has started.
    const target = plan.killAtPromptStarts[nextKill];
    if (target !== undefined) {
      const started = stack.workers.flatMap((w) => w.comfy.promptLog().filter((p) => p.startedAt !== null).map((p) => ({ w, p })))
        .sort((a, b) => a.p.startedAt! - b.p.startedAt!);
      if (started.length >= target) {
        const preferred = started[target - 1]!.w;
        const victim = [preferred, ...stack.workers].find((w) => isAlive(w) && !killed.has(String(w.process.pid)) && w.comfy.stats().running !== null);
        if (victim) {
          nextKill++;
          killed.add(String(victim.process.pid));
          busy++;
          try {
            const prompts = victim.comfy.promptLog();
            const runningId = victim.comfy.stats().running;
            const tag = (p: { jobId: string | null; attempt: number | null }) => (p.jobId === null || p.attempt === null ? [] : [{ jobId: p.jobId, attempt: p.attempt }]);
            const running = prompts.find((p) => p.promptId === runningId);
            const queued = prompts.filter((p) => p.startedAt === null && p.endedAt === null).flatMap(tag);
            const at = Date.now();
            victim.process.kill('SIGKILL');
            // The stack's supervisor starts the replacement under the same id, beside the same ComfyUI.
            log.kills.push({ at, worker: victim.id, gpu: gpuName(victim), replacement: victim.id, running: running ? tag(running)[0] ?? null : null, queued });
          } finally {
            busy--;
          }
        }
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();

  // Duplicate deliveries: the same body (same task token) sent again, as SQS may.
  const duplicatedTokens = new Set<string>();
  if (plan.duplicateRate > 0) {
    ctx.sampler.onNewMessage((m) => {
      let body: { taskToken?: unknown; jobId?: unknown; attempt?: unknown };
      try {
        body = JSON.parse(m.body) as typeof body;
      } catch {
        return;
      }
      const token = typeof body.taskToken === 'string' ? body.taskToken : null;
      if (token === null || duplicatedTokens.has(token) || typeof body.jobId !== 'string' || typeof body.attempt !== 'number') return;
      duplicatedTokens.add(token);
      const delay = duplicateDelaySeconds(plan, ctx.seed, body.jobId, body.attempt);
      if (delay === null) return;
      const { jobId, attempt } = body;
      later(simMs(delay), async () => {
        if (stopped) return;
        await sqs.send(new SendMessageCommand({ QueueUrl: ctx.gpuQueueUrl, MessageBody: m.body }));
        log.duplicates.push({ at: Date.now(), jobId, attempt });
      });
    });
  }

  // A provider down for a window: every call of every workload job answers 503 until it
  // ends (forced faults on the simulator, the fault profile's own decisions resume after).
  const down = plan.providerDown;
  if (Number.isFinite(down.startSeconds)) {
    later(Math.max(0, ctx.startedAt + simMs(down.startSeconds) - Date.now()), async () => {
      if (stopped) return;
      busy++;
      try {
        for (const jobId of ctx.jobIds) stack.providers.setFault(down.service, jobId, 'http503', Number.POSITIVE_INFINITY);
        log.providerDown = { service: down.service, from: Date.now(), to: null };
        await new Promise((r) => setTimeout(r, simMs(down.durationSeconds)));
        for (const jobId of ctx.jobIds) stack.providers.setFault(down.service, jobId, null);
        log.providerDown.to = Date.now();
      } finally {
        busy--;
      }
    });
  }

  // Emergency stop and resume through the operator API, once enough jobs are terminal.
  const stopPlan = plan.emergencyStop;
  let stopDone = !Number.isFinite(stopPlan.afterTerminalJobs) || ctx.operator === null;
  const stopLoop = stopDone ? Promise.resolve() : (async () => {
    while (!stopped && !stopDone) {
      const terminal = await ctx.terminalJobs().catch(() => 0);
      if (terminal >= ctx.totalJobs) {
        log.emergencyStop = { skipped: 'every job ended before the stop was due' };
        stopDone = true;
        break;
      }
      if (terminal >= stopPlan.afterTerminalJobs) {
        busy++;
        try {
          const stoppedAt = Date.now();
          const stopAnswer = await ctx.operator!.emergencyStop();
          const entry = { stoppedAt, resumedAt: null as number | null, stopAnswer, resumeAnswer: null as unknown };
          log.emergencyStop = entry;
          await new Promise((r) => setTimeout(r, simMs(stopPlan.pauseSeconds)));
          entry.resumeAnswer = await ctx.operator!.resume();
          entry.resumedAt = Date.now();
        } finally {
          busy--;
          stopDone = true;
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  // Breaker states as the control table holds them.
  const lastState = new Map<string, string>();
  const breakerLoop = (async () => {
    while (!stopped) {
      for (const provider of BREAKER_PROVIDERS) {
        try {
          const r = await ddb.send(new GetCommand({ TableName: ctx.controlTable, Key: { id: `breaker#${provider}` } }));
          const state = typeof r.Item?.['state'] === 'string' ? r.Item['state'] : null;
          if (state === null) continue;
          log.breakerItemsSeen = true;
          const before = lastState.get(provider) ?? null;
          if (before !== state) {
            log.breakers.push({ provider, at: Date.now(), from: before, to: state });
            lastState.set(provider, state);
          }
        } catch {
          // a missed poll only thins the series
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  return {
    log,
    // Actions not yet due when the workload ends (a kill after the last prompt) are left undone.
    settled: () => busy === 0 && stopDone && restarting.size === 0,
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all([loop, stopLoop, breakerLoop]);
      sqs.destroy();
      ddb.destroy();
    },
  };
}
