/**
 * The worker's Prometheus series (names from the seeds' orchestrator), on a registry of
 * its own: no default process metrics, nothing shared with other code in the process.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from './logger.ts';

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800];
const QUEUE_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

export interface WorkerMetricsOptions {
  /** Prompts kept on ComfyUI at once (1 + prefetch). */
  readonly slots: number;
  /** ApproximateNumberOfMessages of the GPU queue; sampled at scrape time, at most once a second. */
  readonly sampleQueueSize: () => Promise<number>;
  readonly log: Logger;
}

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly workersTotal: Gauge;
  readonly workersBusy: Gauge;
  readonly queueSize: Gauge;
  readonly heartbeatMissed: Counter;
  readonly retries: Counter;
  readonly failures: Counter<'code'>;
  readonly duration: Histogram<'action'>;
  readonly queueDuration: Histogram<'action'>;
  readonly warmupSeconds: Gauge;

  constructor(o: WorkerMetricsOptions) {
    const registers = [this.registry];
    this.workersTotal = new Gauge({ name: 'orchestrator_pool_workers_total', help: 'Prompts this worker keeps on ComfyUI at once (1 + prefetch).', registers });
    this.workersTotal.set(o.slots);
    this.workersBusy = new Gauge({ name: 'orchestrator_pool_workers_busy', help: 'Job slots running a job now.', registers });
    let sampledAt = 0;
    let last: number | null = null;
    this.queueSize = new Gauge({
      name: 'orchestrator_pool_queue_size',
      help: 'Messages waiting in the GPU queue (SQS ApproximateNumberOfMessages, sampled at scrape time).',
      registers,
      async collect() {
        if (Date.now() - sampledAt >= 1000) {
          sampledAt = Date.now();
          try {
            last = await o.sampleQueueSize();
          } catch (e) {
            o.log.warn('could not sample the GPU queue size', { err: e });
          }
        }
        if (last !== null) this.set(last);
      },
    });
    this.warmupSeconds = new Gauge({
      name: 'orchestrator_worker_warmup_seconds',
      help: 'Time the warm-up prompt took at start (model load): GPU time spent before any job, not charged to one.',
      registers,
    });
    this.heartbeatMissed = new Counter({
      name: 'orchestrator_worker_heartbeat_missed_total',
      help: 'SendTaskHeartbeat calls that failed for a reason other than a closed task (TaskTimedOut/InvalidToken).',
      registers,
    });
    this.retries = new Counter({
      name: 'orchestrator_task_retries_total',
      help: 'Redeliveries received (SQS ApproximateReceiveCount > 1) plus ComfyUI WebSocket reconnects.',
      registers,
    });
    this.failures = new Counter({
      name: 'orchestrator_task_failures_total',
      help: 'Tasks answered with SendTaskFailure, by taxonomy error name.',
      labelNames: ['code'] as const,
      registers,
    });
    this.duration = new Histogram({
      name: 'orchestrator_task_duration_seconds',
      help: 'Time from receiving a task to answering it (success or failure), by action.',
      labelNames: ['action'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.queueDuration = new Histogram({
      name: 'orchestrator_task_queue_duration_seconds',
      help: "Time a task waited before this worker received it (from the message's enqueuedAt, else SQS SentTimestamp), by action.",
      labelNames: ['action'] as const,
      buckets: QUEUE_BUCKETS,
      registers,
    });
  }
}
