/**
 * The offline stack's GPU fleet scaler, standing for the deployed fleet's scaling policy:
 * every few (scaled) seconds it reads the GPU queue's backlog and each worker's /healthz,
 * asks core/scaling.ts what to do, and starts workers or scales idle ones in. A scale-in is a
 * request the worker itself refuses while it holds a message (the deployed fleet's ECS task
 * scale-in protection, worker/task-protection.ts): the scaler's view of "idle" is a health
 * read some milliseconds old, and a message taken since must not be cut short by the drain's
 * grace. Deaths are the supervisor's (local/supervisor.ts): a worker that accepts is released
 * from it first, so a scale-in is never "replaced".
 *
 * Clock: the settings are in pipeline seconds; the scaler runs decisions on a pipeline clock
 * (real ms / timeScale), so a 300 s cooldown lasts 15 real seconds at time scale 0.05.
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FleetScalingSettings } from '../core/fleet-scaling-settings.ts';
import { decideScaling, type FleetWorker, type ScalingDecision, type WorkerPhase } from '../core/scaling.ts';
import { access, grant } from '../adapters/access.ts';
import { sqsClient } from '../adapters/aws-clients.ts';
import type { Health } from '../worker/metrics-server.ts';

/** The scaler reads the GPU queue's depth (waiting and in flight), nothing else. */
export const FLEET_SCALER_ACCESS = access(grant('queue:gpu', 'sqs', 'GetQueueAttributes'));

/** Each queue read and health check; generous, because a loaded host answers slowly and a missed decision only waits a period. */
const CALL_TIMEOUT_MS = 5000;

export interface ScaledWorker {
  readonly id: string;
  readonly metricsUrl: string;
}

export interface ScalerRecord extends ScalingDecision {
  /** Epoch ms (real). */
  readonly at: number;
  readonly backlog: number;
  readonly inFlight: number;
  readonly workers: readonly FleetWorker[];
}

export interface FleetScaler {
  /** Every decision that started or stopped a worker, in order. */
  readonly decisions: readonly ScalerRecord[];
  /** The latest decision, whatever it was. */
  latest(): ScalerRecord | undefined;
  /** Runs one decision now (tests; the loop runs them on its own). */
  tick(): Promise<ScalerRecord>;
  stop(): Promise<void>;
}

export interface FleetScalerOptions {
  readonly queueUrl: string;
  readonly settings: FleetScalingSettings;
  readonly timeScale: number;
  /** Real ms between decisions. */
  readonly periodMs: number;
  /** The live workers (starting, warming, ready, draining). */
  readonly workers: () => readonly ScaledWorker[];
  /** Starts one worker (its host boots; it warms up, then polls). */
  readonly start: () => Promise<unknown>;
  /** Scales one worker in: true once it has exited, false when it refused (it holds a message). */
  readonly stop: (id: string) => Promise<boolean>;
  /**
   * The client of this stack's queue, carrying the project's call check (aws-clients.ts
   * callCheckPlugin). @default sqsClient(), the process-wide client (its endpoint is read once
   * per process, so a second stack in the same process passes its own).
   */
  readonly sqs?: SQSClient;
  /** Runs the scaler's AWS calls as its principal, so the offline IAM check covers them. */
  readonly asPrincipal?: <T>(work: () => T) => T;
  readonly log: (line: Record<string, unknown>) => void;
}

const PHASES: Readonly<Record<Health['status'], WorkerPhase>> = { starting: 'starting', warming: 'warming', ok: 'ready', draining: 'draining', stopped: 'draining' };

async function healthOf(w: ScaledWorker): Promise<Health | null> {
  try {
    const res = await fetch(w.metricsUrl.replace(/\/metrics$/, '/healthz'), { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    return res.ok ? ((await res.json()) as Health) : null;
  } catch {
    return null;
  }
}

export function startFleetScaler(o: FleetScalerOptions): FleetScaler {
  const run = o.asPrincipal ?? (<T>(work: () => T) => work());
  const pipelineNow = () => Date.now() / o.timeScale;
  const decisions: ScalerRecord[] = [];
  const stopping = new Map<string, Promise<unknown>>();
  let lastScaleOutAt: number | null = null;
  let stopped = false;
  let last: Promise<ScalerRecord> | undefined;
  let latest: ScalerRecord | undefined;

  const queueDepth = async (): Promise<{ backlog: number; inFlight: number }> => {
    const res = await run(() => (o.sqs ?? sqsClient()).send(new GetQueueAttributesCommand({
      QueueUrl: o.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }), { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) }));
    return {
      backlog: Number(res.Attributes?.['ApproximateNumberOfMessages'] ?? 0),
      inFlight: Number(res.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0),
    };
  };

  const observe = async (now: number): Promise<FleetWorker[]> => Promise.all(o.workers().map(async (w): Promise<FleetWorker> => {
    if (stopping.has(w.id)) return { id: w.id, phase: 'draining', busy: 0, idleSince: null };
    const h = await healthOf(w);
    // Not answering: being replaced by the supervisor, or not up yet; counted, never stopped.
    if (h === null) return { id: w.id, phase: 'starting', busy: 0, idleSince: null };
    return {
      id: w.id, phase: PHASES[h.status], busy: h.busy,
      idleSince: h.idleSeconds === null ? null : now - (h.idleSeconds * 1000) / o.timeScale,
    };
  }));

  const decide = async (): Promise<ScalerRecord> => {
    const [depth, workers] = await Promise.all([queueDepth(), observe(pipelineNow())]);
    const now = pipelineNow();
    const d = decideScaling({ ...depth, workers, lastScaleOutAt, now }, o.settings);
    const record: ScalerRecord = { at: Date.now(), ...depth, workers, ...d };
    latest = record;
    if (d.start > 0 || d.stop.length > 0) {
      decisions.push(record);
      o.log({ scaler: d.reason, desired: d.desired, start: d.start, stop: d.stop, backlog: depth.backlog, inFlight: depth.inFlight });
    }
    if (d.start > 0) lastScaleOutAt = now;
    for (let i = 0; i < d.start && !stopped; i++) {
      await o.start().catch((e: unknown) => o.log({ scaler: 'could not start a worker', error: e instanceof Error ? e.message : String(e) }));
    }
    for (const id of d.stop) {
      const p = o.stop(id)
        .then((left) => { if (!left) o.log({ scaler: 'scale-in refused: the worker took a message since it was seen idle', worker: id }); })
        .catch((e: unknown) => o.log({ scaler: 'could not stop a worker', worker: id, error: e instanceof Error ? e.message : String(e) }))
        .finally(() => stopping.delete(id));
      stopping.set(id, p);
    }
    return record;
  };

  const tick = (): Promise<ScalerRecord> => {
    last = (last ?? Promise.resolve(undefined)).catch(() => undefined).then(decide);
    return last;
  };

  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (stopped) return;
    tick().catch((e: unknown) => o.log({ scaler: 'decision failed; trying again next period', error: e instanceof Error ? e.message : String(e) }))
      .finally(() => { if (!stopped) timer = setTimeout(loop, o.periodMs); });
  };
  loop();

  return {
    decisions,
    latest: () => latest,
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await last?.catch(() => undefined);
      await Promise.allSettled([...stopping.values()]);
    },
  };
}
