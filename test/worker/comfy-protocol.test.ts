/**
 * The worker's ComfyUI protocol, checked against both peers with the same expectations:
 * the simulated ComfyUI (local/comfyui) and upstream ComfyUI on CPU
 * (../shared/peers/comfyui, started with its start.sh on a free port in a temp folder,
 * killed after; it needs install-deps.sh, which .ci/run runs). Weight-free nodes only:
 * LoadImage, ImageInvert, SaveImage and the peer's test node ExpSlowProgress.
 * COMFYUI_PEER_URL reuses an already running real ComfyUI instead of starting one.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuTimeoutError } from '../../core/errors.ts';
import { createClassifier } from '../../core/classifier.ts';
import { startComfySim, type ComfySim } from '../../local/comfyui/server.ts';
import { ComfyClient, ComfyHttpError, type ImageRef } from '../../worker/comfy-client.ts';
import { ComfySocket, type ComfyEvent } from '../../worker/comfy-socket.ts';
import { ExecutionError, toTaskFailure } from '../../worker/failure.ts';
import { outputFiles } from '../../worker/job-runner.ts';
import { createLogger } from '../../worker/logger.ts';
import { watchPrompt, type PromptOutcome, type StallBounds } from '../../worker/prompt-watch.ts';
import { eventually } from '../support/eventually.ts';

const PEER_DIR = fileURLToPath(new URL('../../../shared/peers/comfyui', import.meta.url));
const log = createLogger({ level: 'silent' });
const classifier = createClassifier();

interface Peer {
  readonly name: string;
  url: string;
  stop(): Promise<void>;
}

/** Upstream ComfyUI on CPU, from the workspace's peer folder. */
async function startRealComfy(): Promise<Peer> {
  const given = process.env['COMFYUI_PEER_URL'];
  if (given) return { name: 'real ComfyUI', url: given, stop: async () => {} };
  if (!existsSync(join(PEER_DIR, 'start.sh'))) throw new Error(`the real ComfyUI peer is missing: ${PEER_DIR}/start.sh`);
  const work = mkdtempSync(join(tmpdir(), 'vto-comfyui-'));
  const url = await new Promise<string>((resolve, reject) => {
    execFile('bash', [join(PEER_DIR, 'start.sh'), '0', work], { timeout: 240_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`start.sh failed (run ${PEER_DIR}/install-deps.sh as root first): ${stderr || err.message}`));
      else resolve(stdout.trim().split('\n').at(-1) ?? '');
    });
  });
  return {
    name: 'real ComfyUI',
    url,
    stop: async () => {
      const pid = Number(readFileSync(join(work, 'server.pid'), 'utf8'));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}

async function startSim(): Promise<Peer> {
  const sim: ComfySim = await startComfySim({});
  return { name: 'simulated ComfyUI', url: sim.url, stop: () => sim.stop() };
}

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

const load = (image: string): Graph[string] => ({ class_type: 'LoadImage', inputs: { image } });
const save = (from: string, prefix: string): Graph[string] => ({ class_type: 'SaveImage', inputs: { images: [from, 0], filename_prefix: prefix } });
const slow = (from: string, steps: number, delay: number): Graph[string] => ({ class_type: 'ExpSlowProgress', inputs: { image: [from, 0], steps, delay } });

describe.each([
  ['simulated ComfyUI', startSim],
  ['real ComfyUI', startRealComfy],
] as const)('the ComfyUI protocol against the %s', (_name, start) => {
  let peer: Peer;
  let comfy: ComfyClient;
  let input: string;
  const clientId = `protocol-${randomUUID()}`;
  let socket: ComfySocket;
  const events: ComfyEvent[] = [];

  beforeAll(async () => {
    peer = await start();
    comfy = new ComfyClient({ baseUrl: peer.url, requestTimeoutMs: 30_000 });
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 100, b: 50 } } }).png().toBuffer();
    const ref = await comfy.uploadImage({ bytes: png, filename: `protocol-${randomUUID().slice(0, 8)}.png`, contentType: 'image/png' });
    input = ref.filename;
    socket = await ComfySocket.open({
      url: comfy.socketUrl(clientId), handshakeTimeoutMs: 10_000, reconnectAttempts: 2, reconnectDelayMs: 100, probe: async () => {}, log,
    });
    socket.subscribe((s) => {
      if (s.kind === 'event') events.push(s.event);
    });
  }, 300_000);
  afterAll(async () => {
    socket?.close();
    await peer?.stop();
  });

  async function queue(graph: Graph): Promise<string> {
    const promptId = randomUUID();
    await comfy.queuePrompt({ prompt: graph as never, clientId, promptId, extraData: {} });
    return promptId;
  }

  const watch = (promptId: string, stall?: StallBounds): Promise<PromptOutcome> =>
    watchPrompt({ comfy, socket, promptId, historyPollMs: 200, signal: AbortSignal.timeout(60_000), log, ...(stall && { stall }) });
  const eventsOf = (promptId: string) => events.filter((e) => e.data['prompt_id'] === promptId);
  const rejection = async (graph: Graph): Promise<ComfyHttpError> => {
    const e = await queue(graph).then(() => null, (err: unknown) => err);
    if (!(e instanceof ComfyHttpError)) throw new Error(`expected an HTTP error, got ${String(e)}`);
    return e;
  };

  it('runs a workflow to success: its events in order, its output inverted', async () => {
    const promptId = await queue({ 1: load(input), 2: { class_type: 'ImageInvert', inputs: { image: ['1', 0] } }, 3: save('2', `protocol/${randomUUID().slice(0, 6)}`) });
    const outcome = await watch(promptId);

    expect(outcome.kind).toBe('success');
    if (outcome.kind !== 'success') return;
    const [file] = outputFiles(outcome.entry);
    const { bytes } = await comfy.view(file as ImageRef);
    const { data } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // float32 and a truncating SaveImage: 255 - 200 comes out as 54.
    expect([...data.subarray(0, 3)]).toEqual([54, 155, 205]);
    await eventually(() => eventsOf(promptId).some((e) => e.type === 'executing' && e.data['node'] === null), Boolean, 'the final executing event', { timeoutMs: 10_000 });
    const types = eventsOf(promptId).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['execution_start', 'execution_cached', 'executing', 'executed', 'execution_success', 'progress_state']));
    expect(types.indexOf('execution_start')).toBeLessThan(types.indexOf('execution_success'));
    expect(types.at(-1)).toBe('executing');
    expect(eventsOf(promptId).at(-1)?.data['node']).toBeNull();
  });

  it('reports every node as cached when the same workflow runs again', async () => {
    const graph: Graph = { 1: load(input), 2: { class_type: 'ImageInvert', inputs: { image: ['1', 0] } }, 3: save('2', 'protocol/cached') };
    await watch(await queue(graph));
    const again = await queue(graph);
    expect((await watch(again)).kind).toBe('success');

    // The socket and /history are two connections: the events may land after the history says done.
    const cached = await eventually(() => eventsOf(again).find((e) => e.type === 'execution_cached'), Boolean, 'execution_cached', { timeoutMs: 10_000 });
    expect([...(cached!.data['nodes'] as string[])].sort()).toEqual(['1', '2', '3']);
  });

  it('answers 400 with the error shapes the classifier reads', async () => {
    const missing = await rejection({ 1: load('no-such-file.png'), 2: save('1', 'protocol/x') });
    const unknown = await rejection({ 1: { class_type: 'NoSuchNode', inputs: {} }, 2: save('1', 'protocol/x') });
    const noOutput = await rejection({ 1: load(input) });

    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ error: { type: 'prompt_outputs_failed_validation' }, node_errors: { 1: { errors: [{ type: 'custom_validation_failed' }] } } });
    expect(unknown.json).toMatchObject({ error: { type: 'invalid_prompt' }, node_errors: {} });
    expect(noOutput.json).toMatchObject({ error: { type: 'prompt_no_outputs' } });
    expect(toTaskFailure(missing, classifier, {}).error).toBe('Fatal.InvalidInput');
    expect(toTaskFailure(unknown, classifier, {}).error).toBe('Fatal.WorkflowInvalid');
  });

  it('reports an execution_error for an input file that is not an image', async () => {
    const ref = await comfy.uploadImage({ bytes: new TextEncoder().encode('not a png'), filename: `broken-${randomUUID().slice(0, 6)}.png`, contentType: 'image/png' });
    const promptId = await queue({ 1: load(ref.filename), 2: save('1', 'protocol/broken') });
    const outcome = await watch(promptId);

    expect(outcome.kind).toBe('error');
    if (outcome.kind !== 'error') return;
    expect(outcome.error).toMatchObject({ prompt_id: promptId, node_type: 'LoadImage', exception_type: 'PIL.UnidentifiedImageError' });
    expect(String(outcome.error['exception_message'])).toMatch(/^cannot identify image file/);
    expect(toTaskFailure(new ExecutionError(outcome.error), classifier, {}).error).toBe('Fatal.InvalidInput');
  });

  it('interrupts the running prompt and removes a pending one from the queue', async () => {
    const running = await queue({ 1: load(input), 2: slow('1', 100, 0.05), 3: save('2', 'protocol/slow') });
    const pending = await queue({ 1: load(input), 2: slow('1', 3, 0.01), 3: save('2', 'protocol/pending') });
    const outcome = watch(running);
    await eventually(() => eventsOf(running).some((e) => e.type === 'progress'), Boolean, 'progress of the running prompt', { timeoutMs: 30_000 });

    await comfy.cancel(pending);
    await comfy.cancel(running);

    const done = await outcome;
    expect(done.kind).toBe('interrupted');
    expect(await comfy.history(pending)).toBeNull();
    expect(await comfy.isQueued(pending)).toBe(false);
    const progress = eventsOf(running).find((e) => e.type === 'progress');
    expect(progress?.data).toMatchObject({ node: '2', max: 100 });
  });

  it('sees a stall from the prompt\'s own step times and interrupts it', async () => {
    // Steps of 30 ms, then one step of 4 s: silent far longer than 3 × the longest step.
    const promptId = await queue({ 1: load(input), 2: slow('1', 4, 0.03), 3: slow('2', 1, 4), 4: save('3', 'protocol/stall') });
    const stalled = await watch(promptId, { factor: 3, floorMs: 700, firstProgressMs: 30_000 }).then(() => null, (e: unknown) => e);

    expect(stalled).toBeInstanceOf(GpuTimeoutError);
    expect(String((stalled as Error).message)).toMatch(/stalled/);
    await comfy.cancel(promptId);
    expect((await watch(promptId)).kind).toBe('interrupted');
  });

  it('accepts POST /free', async () => {
    await expect(comfy.free()).resolves.toBeUndefined();
  });
});
