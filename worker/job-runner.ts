/**
 * Runs one GPU task on ComfyUI: inputs from S3 to ComfyUI, the prompt, its progress,
 * outputs from ComfyUI to S3. Past its deadline it interrupts the prompt and fails with
 * Gpu.Timeout; when stopped from outside (dead token, shutdown) it interrupts the
 * prompt and rethrows the stop reason, so the caller decides what to answer.
 */
import { randomUUID } from 'node:crypto';
import { extname } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GpuTimeoutError, InvalidInputError, WorkflowInvalidError } from '../core/errors.ts';
import type { GpuTaskMessage, GpuTaskOutput } from '../core/gpu-message.ts';
import { ComfyHttpError, historyMessages, type ComfyClient, type HistoryEntry, type ImageRef } from './comfy-client.ts';
import { ComfySocket } from './comfy-socket.ts';
import { ExecutionError } from './failure.ts';
import type { Logger } from './logger.ts';
import { watchPrompt, type StallBounds } from './prompt-watch.ts';
import { placeholdersIn, substitutePlaceholders } from './workflow-inputs.ts';
import { ARTIFACTS_READ_ACCESS, ARTIFACTS_WRITE_ACCESS } from '../adapters/artifacts.ts';
import { access } from '../adapters/access.ts';

/** Reads the job's inputs and writes its outputs in the artifacts bucket. */
export const JOB_RUNNER_ACCESS = access(ARTIFACTS_READ_ACCESS, ARTIFACTS_WRITE_ACCESS);

/** token-gone: the task is closed; release: give the message back; claim-lost: another worker took the attempt. */
export type StopReason = 'token-gone' | 'release' | 'claim-lost';

/** The job was stopped from outside; nothing should be answered for it by the runner. */
export class JobStopped extends Error {
  override readonly name = 'JobStopped';
  readonly reason: StopReason;

  constructor(reason: StopReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface JobRunnerDeps {
  readonly comfy: ComfyClient;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly requestTimeoutMs: number;
  readonly historyPollMs: number;
  readonly wsReconnectAttempts: number;
  readonly wsReconnectDelayMs: number;
  readonly workerId: string;
  readonly onReconnect: () => void;
  /** A running prompt without progress for longer than these bounds is interrupted (Gpu.Timeout). */
  readonly stall?: StallBounds;
}

export interface JobRun {
  readonly message: GpuTaskMessage;
  /** The generation's deadline, counted from when ComfyUI starts executing the prompt. */
  readonly deadlineMs: number;
  /**
   * How long the prompt may wait in ComfyUI's queue before it starts (the worker holds
   * several jobs; ComfyUI runs one at a time). @default deadlineMs
   */
  readonly queueWaitMs?: number;
  /** Aborted with a JobStopped reason when the job must stop without an answer. */
  readonly stop: AbortSignal;
  readonly log: Logger;
  readonly onPromptQueued?: (promptId: string) => void;
  /** Awaited just before the prompt is queued (e.g. ComfyUI freeing its memory). */
  readonly beforeQueue?: () => Promise<void>;
  /** Called once the prompt has ended on ComfyUI (before outputs are collected). */
  readonly onPromptEnded?: () => void;
}

const CONTENT_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

const safeName = (s: string) => s.replace(/[^\w.-]+/g, '_').slice(0, 80);

/** S3 keys under the prefix, read as a folder. */
export function outputKey(prefix: string, ref: ImageRef): string {
  const folder = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return `${folder}${ref.subfolder ? `${ref.subfolder}/` : ''}${ref.filename}`;
}

/** Output files of the history entry; only `type: output` (PreviewImage's `temp` files are not results). */
export function outputFiles(entry: HistoryEntry): ImageRef[] {
  const refs: ImageRef[] = [];
  for (const node of Object.values(entry.outputs)) {
    for (const list of Object.values(node)) {
      if (!Array.isArray(list)) continue;
      for (const item of list as unknown[]) {
        const r = item as Partial<Record<keyof ImageRef, unknown>> | null;
        if (r && typeof r.filename === 'string' && r.type === 'output') {
          refs.push({ filename: r.filename, subfolder: typeof r.subfolder === 'string' ? r.subfolder : '', type: 'output' });
        }
      }
    }
  }
  return refs;
}

/** GPU time from ComfyUI's own execution timestamps; null when the history lacks them. */
export function gpuSecondsOf(entry: HistoryEntry): number | null {
  const ts = (type: string) => {
    const t = historyMessages(entry).find(([name]) => name === type)?.[1]['timestamp'];
    return typeof t === 'number' ? t : null;
  };
  const start = ts('execution_start');
  const end = ts('execution_success');
  return start !== null && end !== null && end >= start ? (end - start) / 1000 : null;
}

export class JobRunner {
  readonly #d: JobRunnerDeps;

  constructor(deps: JobRunnerDeps) {
    this.#d = deps;
  }

  #s3Signal(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.#d.requestTimeoutMs)]);
  }

  async run(job: JobRun): Promise<GpuTaskOutput> {
    const deadline = new AbortController();
    // Time queued behind other prompts is not generation time: the generation deadline
    // starts when ComfyUI starts the prompt; before that, the queue wait has its own bound.
    let timer = setTimeout(() => deadline.abort(new GpuTimeoutError(
      `the prompt waited ${job.queueWaitMs ?? job.deadlineMs} ms in ComfyUI's queue without starting; it was cancelled`)), job.queueWaitMs ?? job.deadlineMs);
    const started = () => {
      clearTimeout(timer);
      timer = setTimeout(() => deadline.abort(new GpuTimeoutError(
        `generation deadline of ${job.deadlineMs} ms exceeded; the prompt was interrupted`)), job.deadlineMs);
    };
    const signal = AbortSignal.any([job.stop, deadline.signal]);
    const prompt = { id: null as string | null, ended: false };
    try {
      return await this.#run(job, signal, prompt, (id) => job.onPromptQueued?.(id), started);
    } catch (e) {
      // A prompt whose end we did not see may still run (a /prompt call that timed out may
      // have queued it): stop it so it does not hold the GPU for nobody.
      if (prompt.id !== null && !prompt.ended) await this.#cancel(prompt.id, job.log);
      if (!signal.aborted) throw e;
      // The stop reason wins over the deadline, and over whatever the abort broke on the way.
      throw job.stop.aborted ? job.stop.reason : deadline.signal.reason;
    } finally {
      clearTimeout(timer);
    }
  }

  async #cancel(promptId: string, log: Logger): Promise<void> {
    try {
      await this.#d.comfy.cancel(promptId);
      log.info('interrupted the prompt on ComfyUI', { promptId });
    } catch (e) {
      log.warn('could not interrupt the prompt on ComfyUI', { promptId, err: e });
    }
  }

  async #run(job: JobRun, signal: AbortSignal, prompt: { id: string | null; ended: boolean }, queued: (promptId: string) => void, onStarted: () => void): Promise<GpuTaskOutput> {
    const { message: m, log } = job;
    const d = this.#d;
    const started = Date.now();

    const missing = [...placeholdersIn(m.workflow)].filter((p) => m.inputs[p] === undefined);
    if (missing.length > 0) {
      throw new WorkflowInvalidError(`workflow placeholders without an input: ${missing.map((p) => `{{${p}}}`).join(', ')}`);
    }

    const names: Record<string, string> = {};
    for (const [placeholder, key] of Object.entries(m.inputs)) {
      const bytes = await this.#download(key, signal);
      const ext = extname(key).toLowerCase() || '.png';
      const ref = await d.comfy.uploadImage(
        { bytes, filename: `${safeName(m.jobId)}-a${m.attempt}-${safeName(placeholder)}${ext}`, contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream' },
        { signal },
      );
      names[placeholder] = ref.subfolder ? `${ref.subfolder}/${ref.filename}` : ref.filename;
    }
    const graph = substitutePlaceholders(m.workflow, names);

    const clientId = `${d.workerId}-${randomUUID()}`;
    const socket = await ComfySocket.open({
      url: d.comfy.socketUrl(clientId),
      handshakeTimeoutMs: d.requestTimeoutMs,
      reconnectAttempts: d.wsReconnectAttempts,
      reconnectDelayMs: d.wsReconnectDelayMs,
      probe: async () => void (await d.comfy.systemStats()),
      log,
      onReconnect: d.onReconnect,
    });
    try {
      await job.beforeQueue?.();
      signal.throwIfAborted();
      const promptId = randomUUID();
      prompt.id = promptId;
      queued(promptId);
      const submitted = Date.now();
      const res = await d.comfy.queuePrompt(
        { prompt: graph, clientId, promptId, extraData: { vto: { jobId: m.jobId, attempt: m.attempt, packId: m.packId } } },
        { signal },
      ).catch((e: unknown) => {
        // An HTTP answer (400 validation, 503) means ComfyUI did not queue it.
        if (e instanceof ComfyHttpError) prompt.ended = true;
        throw e;
      });
      if (res.node_errors && Object.keys(res.node_errors).length > 0) {
        log.warn('ComfyUI dropped some outputs of the workflow as invalid', { promptId, nodeErrors: res.node_errors });
      }
      log.info('prompt queued on ComfyUI', { promptId, number: res.number });
      const outcome = await watchPrompt({
        comfy: d.comfy, socket, promptId, historyPollMs: d.historyPollMs, signal, log, onStarted, ...(d.stall && { stall: d.stall }),
      });
      prompt.ended = true;
      job.onPromptEnded?.();
      if (outcome.kind === 'error') throw new ExecutionError(outcome.error);
      if (outcome.kind === 'interrupted') {
        // Not ours (we abort before interrupting): someone stopped the prompt on the server.
        throw new GpuTimeoutError(`the prompt was interrupted on ComfyUI (node ${String(outcome.data['node_id'] ?? '?')})`);
      }
      const files = outputFiles(outcome.entry);
      if (files.length === 0) {
        throw new WorkflowInvalidError(`prompt ${promptId} produced no output files (only type "output" is collected; PreviewImage writes "temp")`);
      }
      const outputs = await Promise.all(files.map(async (ref) => {
        const { bytes, contentType } = await d.comfy.view(ref, { signal });
        const key = outputKey(m.outputPrefix, ref);
        await d.s3.send(new PutObjectCommand({
          Bucket: d.bucket, Key: key, Body: bytes, ContentType: contentType,
          Metadata: { jobid: m.jobId, attempt: String(m.attempt), promptid: promptId, workerid: d.workerId },
        }), { abortSignal: this.#s3Signal(signal) });
        return key;
      }));
      const gpuSeconds = gpuSecondsOf(outcome.entry) ?? (Date.now() - submitted) / 1000;
      log.info('job outputs stored', { promptId, outputs, gpuSeconds, totalMs: Date.now() - started });
      return { outputs, gpuSeconds, promptId, workerId: d.workerId };
    } finally {
      socket.close();
    }
  }

  async #download(key: string, signal: AbortSignal): Promise<Uint8Array> {
    try {
      const res = await this.#d.s3.send(new GetObjectCommand({ Bucket: this.#d.bucket, Key: key }), { abortSignal: this.#s3Signal(signal) });
      if (!res.Body) throw new InvalidInputError(`Input file is missing: s3://${this.#d.bucket}/${key} has no body`);
      return await res.Body.transformToByteArray();
    } catch (e) {
      const name = (e as { name?: unknown }).name;
      if (name === 'NoSuchKey' || name === 'NotFound') {
        throw new InvalidInputError(`Input file is missing: s3://${this.#d.bucket}/${key}`, { cause: e });
      }
      throw e;
    }
  }
}
