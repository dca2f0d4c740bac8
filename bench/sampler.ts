/**
 * Samples the GPU queue and the simulated GPUs over a run: how many GPU tasks wait in SQS
 * or are held by workers (fauxqs' read-only inspection endpoint, which changes nothing),
 * how many GPUs are running a prompt, and every GPU message seen with the most deliveries
 * SQS made of it. From the samples come GPU utilisation and SQS receives.
 */
import type { ComfySim } from '../local/comfyui/server.ts';

export interface QueueSample {
  /** Epoch ms. */
  readonly t: number;
  /** Messages waiting to be received. */
  readonly waiting: number;
  /** Messages received and not yet deleted (held by workers). */
  readonly held: number;
  /** GPUs (simulators of live workers) and how many of all simulators run a prompt. */
  readonly gpus: number;
  readonly running: number;
  /** Prompts queued inside the simulators (not running). */
  readonly simQueued: number;
}

export interface SeenMessage {
  readonly messageId: string;
  readonly body: string;
  readonly firstSeen: number;
  maxReceiveCount: number;
}

interface InspectedMessage { messageId: string; body: string; approximateReceiveCount: number }
interface Inspection { messages: { ready: InspectedMessage[]; delayed: InspectedMessage[]; inflight: { message: InspectedMessage }[] } }

export interface SamplerSource {
  /** fauxqs base URL (AWS_ENDPOINT_URL_SQS) and the GPU queue's name. */
  readonly sqsEndpoint: string;
  readonly queueName: string;
  /** Simulators now, and which belong to live workers. */
  readonly sims: () => { sim: ComfySim; live: boolean }[];
}

export interface Sampler {
  readonly samples: QueueSample[];
  readonly messages: Map<string, SeenMessage>;
  /** Called with each GPU message the first time it is seen. */
  onNewMessage(fn: (m: SeenMessage) => void): void;
  stop(): Promise<void>;
}

export function startSampler(source: SamplerSource, intervalMs: number): Sampler {
  const samples: QueueSample[] = [];
  const messages = new Map<string, SeenMessage>();
  const listeners: ((m: SeenMessage) => void)[] = [];
  let stopped = false;
  const url = `${source.sqsEndpoint.replace(/\/$/, '')}/_fauxqs/queues/${encodeURIComponent(source.queueName)}`;

  const sampleOnce = async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return;
    const q = (await res.json()) as Inspection;
    const t = Date.now();
    const all = [...q.messages.ready, ...q.messages.delayed, ...q.messages.inflight.map((i) => i.message)];
    for (const m of all) {
      const seen = messages.get(m.messageId);
      if (seen) {
        seen.maxReceiveCount = Math.max(seen.maxReceiveCount, m.approximateReceiveCount);
      } else {
        const fresh: SeenMessage = { messageId: m.messageId, body: m.body, firstSeen: t, maxReceiveCount: m.approximateReceiveCount };
        messages.set(m.messageId, fresh);
        for (const fn of listeners) fn(fresh);
      }
    }
    const sims = source.sims();
    const stats = sims.map((s) => ({ live: s.live, st: s.sim.stats() }));
    samples.push({
      t,
      waiting: q.messages.ready.length + q.messages.delayed.length,
      held: q.messages.inflight.length,
      gpus: stats.filter((s) => s.live && !s.st.crashed).length,
      running: stats.filter((s) => s.st.running !== null).length,
      simQueued: stats.reduce((n, s) => n + Math.max(0, s.st.queueRemaining - (s.st.running === null ? 0 : 1)), 0),
    });
  };

  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      try {
        await sampleOnce();
      } catch {
        // a missed sample (fauxqs busy) only thins the series
      }
      await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
    }
  })();

  return {
    samples,
    messages,
    onNewMessage: (fn) => void listeners.push(fn),
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
