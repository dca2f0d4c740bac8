/**
 * What the worker tests share: the real fauxqs (SQS, S3) from the global setup, the
 * simulated ComfyUI (local/comfyui), the task-token endpoint, input images in the bucket,
 * and task messages built with core/workflow.ts.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SFNClient } from '@aws-sdk/client-sfn';
import sharp from 'sharp';
import type { GpuTaskMessageBody } from '../../../core/gpu-message.ts';
import { DEFAULT_PARAMS, type InpaintParams } from '../../../core/params.ts';
import { buildInpaintWorkflow } from '../../../core/workflow.ts';
import { startComfySim, type ComfySim, type ComfySimOptions } from '../../../local/comfyui/server.ts';
import { loadWorkerConfig, type WorkerConfig } from '../../../worker/config.ts';
import { createLogger, type Logger } from '../../../worker/logger.ts';
import { GpuWorker, type GpuWorkerOptions } from '../../../worker/worker.ts';
import { provisionFresh } from '../../support/aws.ts';
import { startTaskTokenEndpoint, type TaskTokenEndpoint } from './task-token-endpoint.ts';

/** Small and fast: SD 1.5 class model at the minimum size, one image. */
export const SMALL_PARAMS: InpaintParams = { ...DEFAULT_PARAMS, model: 'sd-1.5-inpainting.safetensors', width: 512, height: 512, batch: 1, steps: 20 };

export interface Harness {
  readonly sim: ComfySim;
  readonly sfn: TaskTokenEndpoint;
  readonly bucket: string;
  readonly queueUrl: string;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  /** Input keys (person, mask, garment) already in the bucket. */
  readonly inputs: Readonly<Record<string, string>>;
  newQueue(): Promise<string>;
  task(over?: Partial<GpuTaskMessageBody> & { params?: Partial<InpaintParams> }): GpuTaskMessageBody;
  send(body: unknown, queueUrl?: string): Promise<void>;
  config(over?: Record<string, unknown>): WorkerConfig;
  /** A worker on the harness's clients; stopped by close(). */
  startWorker(over?: Record<string, unknown>, options?: Partial<GpuWorkerOptions>): Promise<GpuWorker>;
  /** Messages visible and in flight. */
  queueCounts(queueUrl?: string): Promise<{ visible: number; inFlight: number }>;
  object(key: string): Promise<Uint8Array>;
  /** Log lines the workers wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

async function png(width: number, height: number, draw: 'person' | 'garment' | 'mask'): Promise<Buffer> {
  const colour = { person: '#c8a078', garment: '#1e50c8', mask: '#000000' }[draw];
  const base = sharp({ create: { width, height, channels: 3, background: colour } });
  if (draw !== 'mask') return base.png().toBuffer();
  const hole = await sharp({ create: { width: width / 2, height: height / 2, channels: 3, background: '#ffffff' } }).png().toBuffer();
  return base.composite([{ input: hole, left: width / 4, top: height / 4 }]).png().toBuffer();
}

export async function startHarness(simOptions: ComfySimOptions = {}): Promise<Harness> {
  const provisioned = await provisionFresh();
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false, maxAttempts: 1 });
  const s3 = new S3Client({ forcePathStyle: true });
  const bucket = provisioned.buckets.artifacts;
  const [sim, sfn] = await Promise.all([startComfySim({ stepMs: 2, ...simOptions }), startTaskTokenEndpoint()]);
  const sfnClient = new SFNClient({ endpoint: sfn.url, maxAttempts: 1 });
  const workers: GpuWorker[] = [];
  const logs: Record<string, unknown>[] = [];
  const log: Logger = createLogger({ level: 'debug', write: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) });

  const inputs: Record<string, string> = {};
  for (const kind of ['person', 'mask', 'garment'] as const) {
    const key = `packs/test/uploads/${kind}.png`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await png(256, 256, kind), ContentType: 'image/png' }));
    inputs[kind] = key;
  }

  const h: Harness = {
    sim, sfn, bucket, sqs, s3, inputs, logs,
    queueUrl: provisioned.queues.gpu.url,
    async newQueue() {
      const q = await sqs.send(new CreateQueueCommand({ QueueName: `worker-${randomUUID().slice(0, 8)}` }));
      return q.QueueUrl as string;
    },
    task(over = {}) {
      const { params, ...rest } = over;
      const jobId = rest.jobId ?? `job-${randomUUID().slice(0, 8)}`;
      return {
        taskToken: `token-${jobId}-${randomUUID().slice(0, 6)}`,
        packId: 'pack-1',
        jobId,
        attempt: 1,
        workflow: buildInpaintWorkflow({ ...SMALL_PARAMS, ...params }, { person: '{{person}}', mask: '{{mask}}', garment: '{{garment}}' },
          { filenamePrefix: `vto/${jobId}` }),
        inputs,
        outputPrefix: `packs/pack-1/jobs/${jobId}/inpaint/`,
        enqueuedAt: new Date().toISOString(),
        ...rest,
      };
    },
    async send(body, queueUrl) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl ?? h.queueUrl, MessageBody: typeof body === 'string' ? body : JSON.stringify(body) }));
    },
    config(over = {}) {
      return loadWorkerConfig({
        env: {},
        overrides: {
          queueUrl: h.queueUrl, artifactsBucket: bucket, comfyUrl: sim.url, prefetch: 0, requestTimeoutMs: 5000,
          pollWaitSeconds: 1, visibilityTimeoutSeconds: 4, heartbeatIntervalMs: 100, generationTimeoutMs: 20_000,
          shutdownGraceMs: 2000, metricsPort: 0, workerStartTimeoutMs: 5000, historyPollMs: 100,
          wsReconnectAttempts: 2, wsReconnectDelayMs: 20, workerId: 'test-worker', ...over,
        },
      });
    },
    async startWorker(over = {}, options = {}) {
      const w = new GpuWorker({ config: h.config(over), log, ...options, clients: { sqs, s3, sfn: sfnClient, ...options.clients } });
      workers.push(w);
      await w.start();
      return w;
    },
    async queueCounts(queueUrl) {
      const r = await sqs.send(new GetQueueAttributesCommand({
        QueueUrl: queueUrl ?? h.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }));
      return { visible: Number(r.Attributes?.ApproximateNumberOfMessages), inFlight: Number(r.Attributes?.ApproximateNumberOfMessagesNotVisible) };
    },
    async object(key) {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await r.Body?.transformToByteArray()) ?? new Uint8Array();
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all([sim.stop(), sfn.stop()]);
      sqs.destroy();
      s3.destroy();
      sfnClient.destroy();
    },
  };
  return h;
}
