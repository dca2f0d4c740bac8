import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { classify } from '../../core/classifier.ts';
import { DEFAULT_PARAMS, type InpaintParams } from '../../core/params.ts';
import { reduceParams } from '../../core/strategies.ts';
import { buildInpaintWorkflow, INPAINT_NODES } from '../../core/workflow.ts';
import type { Workflow } from '../../core/gpu-message.ts';
import { startComfySim, type ComfySim } from '../../local/comfyui/server.ts';
import { PHYSICS_FAULT_PARAMS, vramNeededMiB } from '../../local/comfyui/physics.ts';
import { drawnFaults, getProfile } from '../../local/faults.ts';
import { eventually } from '../support/eventually.ts';

/** Small and quick: the default SDXL model at the minimum size. */
const SMALL: InpaintParams = { ...DEFAULT_PARAMS, width: 512, height: 512, batch: 2, steps: 6 };
const IMAGES = { person: 'person.png', mask: 'mask.png', garment: 'garment.png' };
const MASK_BOX = { left: 200, top: 250, width: 200, height: 300 };

interface Frame { type: string; data: Record<string, unknown> }

/** A WebSocket client that records frames and waits for the one a predicate wants. */
class Client {
  readonly frames: Frame[] = [];
  readonly ws: WebSocket;
  #waiters: { test: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  closed: Promise<number>;

  constructor(url: string, onFrame?: (f: Frame) => void) {
    this.ws = new WebSocket(url);
    this.closed = new Promise((r) => this.ws.once('close', (code) => r(code)));
    this.ws.on('message', (raw, binary) => {
      if (binary) return;
      const f = JSON.parse(raw.toString()) as Frame;
      onFrame?.(f);
      this.frames.push(f);
      this.#waiters = this.#waiters.filter((w) => (w.test(f) ? (w.resolve(f), false) : true));
    });
  }

  opened(): Promise<void> {
    return new Promise((r, j) => {
      this.ws.once('open', () => r());
      this.ws.once('error', j);
    });
  }

  waitFor(test: (f: Frame) => boolean, ms = 10_000): Promise<Frame> {
    const seen = this.frames.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame in ${ms} ms; saw ${this.frames.map((f) => f.type).join(',')}`)), ms);
      this.#waiters.push({ test, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  }

  /** Resolves once every frame the server sent before now has arrived (a pong follows them on the socket). */
  flush(): Promise<void> {
    return new Promise((r) => {
      this.ws.once('pong', () => r());
      this.ws.ping();
    });
  }

  close(): void {
    this.ws.close();
  }
}

let seedCounter = 1000;
/** SMALL with a seed of its own, so the run is not served from ComfyUI's cache. */
const fresh = (over: Partial<InpaintParams> = {}): InpaintParams => ({ ...SMALL, seed: seedCounter++, ...over });

const isEnd = (promptId: string) => (f: Frame) => f.type === 'executing' && f.data['node'] === null && f.data['prompt_id'] === promptId;

let sim: ComfySim;
const clients: Client[] = [];
let person: Buffer;
let garment: Buffer;
let mask: Buffer;

/** What the helpers need of a simulator: where it listens (in-process or a child process). */
type Target = Pick<ComfySim, 'url'>;

const wsUrl = (s: Target, clientId: string) => `${s.url.replace('http', 'ws')}/ws?clientId=${clientId}`;

async function connect(s: Target, clientId: string, onFrame?: (f: Frame) => void): Promise<Client> {
  const c = new Client(wsUrl(s, clientId), onFrame);
  clients.push(c);
  await c.opened();
  await c.waitFor((f) => f.type === 'status');
  return c;
}

async function upload(s: Target, name: string, bytes: Buffer, fields: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), name);
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const res = await fetch(`${s.url}/upload/image`, { method: 'POST', body: form });
  return { status: res.status, body: res.ok ? await res.json() : await res.text() };
}

async function uploadInputs(s: Target): Promise<void> {
  for (const [name, bytes] of [['person.png', person], ['garment.png', garment], ['mask.png', mask]] as const) await upload(s, name, bytes);
}

async function post(s: Target, path: string, body: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`${s.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

async function getJson(s: Target, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

function submit(s: Target, workflow: Workflow, extra: { clientId?: string; promptId?: string; jobId?: string } = {}) {
  const promptId = extra.promptId ?? randomUUID();
  return post(s, '/prompt', {
    prompt: workflow,
    prompt_id: promptId,
    ...(extra.clientId === undefined ? {} : { client_id: extra.clientId }),
    extra_data: { vto: { jobId: extra.jobId ?? promptId } },
  }).then((r) => ({ ...r, promptId }));
}

async function historyOf(s: Target, promptId: string, ms = 10_000): Promise<Record<string, unknown>> {
  const h = await eventually(() => getJson(s, `/history/${promptId}`), (x) => x[promptId] !== undefined, `history for ${promptId}`, { timeoutMs: ms, everyMs: 20 });
  return h[promptId] as Record<string, unknown>;
}

const lastMessage = (entry: Record<string, unknown>) => {
  const messages = (entry['status'] as { messages: [string, Record<string, unknown>][] }).messages;
  return messages[messages.length - 1]!;
};

beforeAll(async () => {
  person = await sharp({ create: { width: 600, height: 800, channels: 3, background: '#c8a078' } }).png().toBuffer();
  garment = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#1e50c8' } }).png().toBuffer();
  const white = await sharp({ create: { width: MASK_BOX.width, height: MASK_BOX.height, channels: 3, background: '#ffffff' } }).png().toBuffer();
  mask = await sharp({ create: { width: 600, height: 800, channels: 3, background: '#000000' } })
    .composite([{ input: white, left: MASK_BOX.left, top: MASK_BOX.top }]).png().toBuffer();
  sim = await startComfySim({ stepMs: 2 });
  await uploadInputs(sim);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await sim?.stop();
});

describe('a successful run', () => {
  it("sends ComfyUI's events in order, and /history has the entry when executing {node: null} arrives", async () => {
    // Prepare
    const client = await connect(sim, 'order-client');
    let historyAtEnd: Promise<Record<string, unknown>> | null = null;
    const promptId = randomUUID();
    client.ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString()) as Frame;
      if (isEnd(promptId)(f)) historyAtEnd = getJson(sim, `/history/${promptId}`);
    });

    // Act
    const res = await submit(sim, buildInpaintWorkflow(fresh(), IMAGES), { clientId: 'order-client', promptId });
    await client.waitFor(isEnd(promptId));

    // Assess
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ prompt_id: promptId, number: expect.any(Number), node_errors: {} });
    const types = client.frames.filter((f) => f.type !== 'progress_state').map((f) =>
      f.type === 'executing' ? `executing:${String(f.data['node'])}` : f.type);
    const start = types.indexOf('execution_start');
    const tail = types.slice(start);
    expect(tail[0]).toBe('execution_start');
    expect(tail[1]).toBe('execution_cached');
    expect(tail.slice(-4)).toEqual(['executed', 'execution_success', 'status', 'executing:null']);
    const progress = client.frames.filter((f) => f.type === 'progress');
    expect(progress.map((f) => f.data['value'])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(progress.every((f) => f.data['max'] === 6 && f.data['node'] === INPAINT_NODES.sampler && f.data['prompt_id'] === promptId)).toBe(true);
    expect(tail.indexOf(`executing:${INPAINT_NODES.sampler}`)).toBeLessThan(tail.indexOf('progress'));
    const executed = client.frames.find((f) => f.type === 'executed')!;
    expect(executed.data).toEqual({
      node: INPAINT_NODES.save, display_node: INPAINT_NODES.save, prompt_id: promptId,
      output: { images: [{ filename: expect.stringMatching(/^vto_inpaint_\d{5}_\.png$/), subfolder: '', type: 'output' }, expect.any(Object)] },
    });
    const atEnd = await (historyAtEnd as Promise<Record<string, unknown>> | null);
    expect(atEnd?.[promptId]).toMatchObject({ status: { status_str: 'success', completed: true } });
  });

  it('records the history entry in the shape ComfyUI does', async () => {
    const res = await submit(sim, buildInpaintWorkflow(fresh(), IMAGES), { clientId: 'nobody-listening' });

    const entry = await historyOf(sim, res.promptId);

    expect(entry['prompt']).toEqual([expect.any(Number), res.promptId, expect.any(Object), { vto: { jobId: res.promptId }, client_id: 'nobody-listening' }, [INPAINT_NODES.save]]);
    expect(entry['outputs']).toEqual({ [INPAINT_NODES.save]: { images: [expect.any(Object), expect.any(Object)] } });
    expect(entry['meta']).toEqual({ [INPAINT_NODES.save]: { node_id: INPAINT_NODES.save, display_node: INPAINT_NODES.save, parent_node: null, real_node_id: INPAINT_NODES.save } });
    const status = entry['status'] as { messages: [string, { timestamp: number }][] };
    expect(status.messages.map(([e]) => e)).toEqual(['execution_start', 'execution_cached', 'execution_success']);
    expect(status.messages.every(([, d]) => typeof d.timestamp === 'number')).toBe(true);
  });

  it('serves the outputs as PNGs at the workflow size: the person outside the mask, the garment inside', async () => {
    // Prepare
    const res = await submit(sim, buildInpaintWorkflow(fresh({ batch: 1 }), IMAGES));
    const entry = await historyOf(sim, res.promptId);
    const image = (entry['outputs'] as Record<string, { images: { filename: string; subfolder: string; type: string }[] }>)[INPAINT_NODES.save]!.images[0]!;

    // Act
    const view = await fetch(`${sim.url}/view?${new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type })}`);
    const bytes = Buffer.from(await view.arrayBuffer());

    // Assess
    expect(view.headers.get('content-type')).toBe('image/png');
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([512, 512]);
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    expect(at(10, 10)).toEqual([0xc8, 0xa0, 0x78]);
    const [r, , b] = at(256, 256);
    expect(b! - r!).toBeGreaterThan(100);
  });

  it('answers GET /history/{id} with 200 {} for a prompt it does not know', async () => {
    expect(await getJson(sim, `/history/${randomUUID()}`)).toEqual({});
  });

  it('does not run an identical prompt again: its nodes come from the cache', async () => {
    const wf = buildInpaintWorkflow(fresh({ seed: 4242 }), IMAGES);
    const first = await submit(sim, wf);
    const firstEntry = await historyOf(sim, first.promptId);

    const second = await submit(sim, wf);
    const entry = await historyOf(sim, second.promptId);

    const cached = (entry['status'] as { messages: [string, { nodes?: string[] }][] }).messages[1]![1].nodes;
    expect(cached).toHaveLength(Object.keys(wf).length);
    expect(entry['outputs']).toEqual(firstEntry['outputs']);
  });
});

describe('routing of events', () => {
  it('sends execution events only to the submitting client', async () => {
    // Prepare
    const owner = await connect(sim, 'owner');
    const other = await connect(sim, 'other');

    // Act
    const res = await submit(sim, buildInpaintWorkflow(fresh(), IMAGES), { clientId: 'owner' });
    await owner.waitFor(isEnd(res.promptId));

    // Assess
    const ownerTypes = new Set(owner.frames.map((f) => f.type));
    expect([...ownerTypes]).toEqual(expect.arrayContaining(['execution_start', 'executing', 'progress', 'executed', 'execution_success']));
    expect(new Set(other.frames.map((f) => f.type))).toEqual(new Set(['status']));
  });

  it('broadcasts progress but sends no execution events for a prompt without client_id', async () => {
    const a = await connect(sim, 'listener-a');
    const b = await connect(sim, 'listener-b');

    const res = await submit(sim, buildInpaintWorkflow(fresh(), IMAGES));
    await historyOf(sim, res.promptId);

    for (const c of [a, b]) {
      const types = new Set(c.frames.map((f) => f.type));
      expect(types.has('progress')).toBe(true);
      expect(['execution_start', 'executing', 'executed', 'execution_success'].filter((t) => types.has(t))).toEqual([]);
    }
  });

  it('sends binary PREVIEW_IMAGE frames (event 1, PNG) with each step when previews are on', async () => {
    const s = await startComfySim({ stepMs: 2, previews: true });
    try {
      await uploadInputs(s);
      const ws = new WebSocket(wsUrl(s, 'preview-client'));
      const binaries: Buffer[] = [];
      ws.on('message', (raw, binary) => {
        if (binary) binaries.push(raw as Buffer);
      });
      await new Promise((r) => ws.once('open', r));

      const res = await submit(s, buildInpaintWorkflow(fresh({ steps: 3 }), IMAGES), { clientId: 'preview-client' });
      await historyOf(s, res.promptId);
      ws.close();

      expect(binaries).toHaveLength(3);
      expect([binaries[0]!.readUInt32BE(0), binaries[0]!.readUInt32BE(4)]).toEqual([1, 2]);
      expect((await sharp(binaries[0]!.subarray(8)).metadata()).format).toBe('png');
    } finally {
      await s.stop();
    }
  });

  it('answers the feature_flags handshake', async () => {
    const c = await connect(sim, 'flags');

    c.ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
    const reply = await c.waitFor((f) => f.type === 'feature_flags');

    expect(reply.data).toEqual({ supports_preview_metadata: true, max_upload_size: 104857600 });
    expect(c.frames[0]).toEqual({ type: 'status', data: { status: { exec_info: { queue_remaining: expect.any(Number) } }, sid: 'flags' } });
  });
});

describe('validation answers 400 with ComfyUI shapes', () => {
  it('value_not_in_list for a checkpoint that is not installed', async () => {
    const res = await submit(sim, buildInpaintWorkflow(fresh({ model: 'missing.safetensors' }), IMAGES));

    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
      node_errors: {
        [INPAINT_NODES.checkpoint]: {
          errors: [{
            type: 'value_not_in_list', message: 'Value not in list',
            details: "ckpt_name: 'missing.safetensors' not in ['realvisxl-v4-inpaint.safetensors', 'sd-1.5-inpainting.safetensors', 'sdxl-inpaint-1.0.safetensors']",
            extra_info: {
              input_name: 'ckpt_name',
              input_config: [['realvisxl-v4-inpaint.safetensors', 'sd-1.5-inpainting.safetensors', 'sdxl-inpaint-1.0.safetensors'], { tooltip: 'The name of the checkpoint (model) to load.' }],
              received_value: 'missing.safetensors',
            },
          }],
          dependent_outputs: [INPAINT_NODES.save],
          class_type: 'CheckpointLoaderSimple',
        },
      },
    });
    expect(classify({ status: 400, body: res.json }).name).toBe('Gpu.ModelMissing');
  });

  it.each([
    ['invalid_prompt', undefined],
    ['missing_node_type', 'missing_node_type'],
  ] as const)('%s for an unknown class_type', async (type, option) => {
    const s = option === undefined ? sim : await startComfySim({ stepMs: 2, missingNodeErrorType: option });
    try {
      const wf = { ...buildInpaintWorkflow(fresh(), IMAGES), '99': { class_type: 'IPAdapterAdvanced', inputs: {} } };

      const res = await submit(s, wf);

      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        error: { type, message: 'Cannot execute because node IPAdapterAdvanced does not exist.', details: "Node ID '#99'", extra_info: {} },
        node_errors: {},
      });
      expect(classify({ status: 400, body: res.json }).name).toBe('Fatal.WorkflowInvalid');
    } finally {
      if (s !== sim) await s.stop();
    }
  });

  it('required_input_missing, with the output node listed in details', async () => {
    const wf = buildInpaintWorkflow(fresh(), IMAGES);
    delete wf[INPAINT_NODES.save]!.inputs['filename_prefix'];

    const res = await submit(sim, wf);

    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      error: { type: 'prompt_outputs_failed_validation', details: 'Required input is missing: filename_prefix' },
      node_errors: { [INPAINT_NODES.save]: { errors: [{ type: 'required_input_missing', details: 'filename_prefix', extra_info: { input_name: 'filename_prefix' } }] } },
    });
  });

  it('custom_validation_failed "Invalid image file" for an image never uploaded', async () => {
    const res = await submit(sim, buildInpaintWorkflow(fresh(), { ...IMAGES, person: 'never-uploaded.png' }));

    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      node_errors: {
        [INPAINT_NODES.person]: {
          errors: [{ type: 'custom_validation_failed', message: 'Custom validation failed for node', details: 'image - Invalid image file: never-uploaded.png', extra_info: { input_name: 'image' } }],
          class_type: 'LoadImage',
        },
      },
    });
    expect(classify({ status: 400, body: res.json }).name).toBe('Fatal.InvalidInput');
  });

  it('no_prompt when the body has no prompt', async () => {
    const res = await post(sim, '/prompt', { client_id: 'x' });

    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: { type: 'no_prompt', message: 'No prompt provided', details: 'No prompt provided', extra_info: {} }, node_errors: {} });
  });
});

describe('physics', () => {
  const OOM: InpaintParams = { ...DEFAULT_PARAMS, ...PHYSICS_FAULT_PARAMS.outOfMemory, steps: 4 };

  it('fits the default parameters comfortably and not 1536² × 4, and one REDUCE_PARAMS step fits again', () => {
    expect(vramNeededMiB(DEFAULT_PARAMS)).toBeLessThan(24_576 * 0.6);
    expect(vramNeededMiB(OOM)).toBeGreaterThan(24_576);
    expect(vramNeededMiB(reduceParams(OOM)!)).toBeLessThan(24_576);
  });

  it('runs out of memory at the KSampler for 1536² × 4, and succeeds after reduceParams', async () => {
    // Prepare
    const c = await connect(sim, 'oom-client');

    // Act
    const first = await submit(sim, buildInpaintWorkflow(OOM, IMAGES), { clientId: 'oom-client' });
    const error = await c.waitFor((f) => f.type === 'execution_error' && f.data['prompt_id'] === first.promptId);
    const second = await submit(sim, buildInpaintWorkflow({ ...reduceParams(OOM)!, steps: 4 }, IMAGES), { clientId: 'oom-client' });
    await c.waitFor(isEnd(second.promptId));

    // Assess
    expect(error.data).toMatchObject({
      node_id: INPAINT_NODES.sampler, node_type: 'KSampler', exception_type: 'torch.OutOfMemoryError',
      exception_message: 'Allocation on device \nThis error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.',
      traceback: expect.arrayContaining([expect.stringContaining('in sample')]),
      current_inputs: expect.objectContaining({ steps: [4], latent_image: [expect.stringContaining("{'samples': tensor")] }),
      executed: expect.any(Array), current_outputs: expect.any(Array), timestamp: expect.any(Number),
    });
    expect(classify(error.data).name).toBe('Gpu.OutOfMemory');
    expect(lastMessage(await historyOf(sim, first.promptId))[0]).toBe('execution_error');
    expect((await historyOf(sim, second.promptId))['status']).toMatchObject({ status_str: 'success', completed: true });
  });

  it("gives the native allocator's CUDA out of memory text when asked", async () => {
    const s = await startComfySim({ stepMs: 2, oomStyle: 'native' });
    try {
      await uploadInputs(s);
      const res = await submit(s, buildInpaintWorkflow(OOM, IMAGES));
      const [event, data] = lastMessage(await historyOf(s, res.promptId));

      expect(event).toBe('execution_error');
      expect(data['exception_message']).toMatch(/^CUDA out of memory\. Tried to allocate [\d.]+ GiB\. GPU 0 has a total capacity of 24\.00 GiB/);
    } finally {
      await s.stop();
    }
  });

  it('reports VRAM in /system_stats: the loaded checkpoint stays resident', async () => {
    const stats = await getJson(sim, '/system_stats');

    const device = (stats['devices'] as Record<string, number>[])[0]!;
    expect(device['vram_total']).toBe(24_576 * 2 ** 20);
    expect(device['vram_free']).toBeLessThan(device['vram_total']!);
    expect(stats['system']).toMatchObject({ comfyui_version: expect.any(String), os: 'posix' });
  });
});

describe('inputs that fail only when the node runs', () => {
  it('an uploaded file that is not an image: PIL.UnidentifiedImageError at LoadImage', async () => {
    await upload(sim, 'broken.png', Buffer.from('this is not a png'));

    const res = await submit(sim, buildInpaintWorkflow(fresh(), { ...IMAGES, person: 'broken.png' }));
    const [event, data] = lastMessage(await historyOf(sim, res.promptId));

    expect(res.status).toBe(200);
    expect(event).toBe('execution_error');
    expect(data).toMatchObject({ node_id: INPAINT_NODES.person, exception_type: 'PIL.UnidentifiedImageError', exception_message: expect.stringContaining("cannot identify image file '") });
    expect(classify(data).name).toBe('Fatal.InvalidInput');
  });

  it('a corrupt checkpoint: SafetensorError at CheckpointLoaderSimple, handled like a missing model', async () => {
    const s = await startComfySim({ stepMs: 2, corruptModels: ['realvisxl-v4-inpaint.safetensors'] });
    try {
      await uploadInputs(s);

      const res = await submit(s, buildInpaintWorkflow(fresh({ model: 'realvisxl-v4-inpaint.safetensors' }), IMAGES));
      const [event, data] = lastMessage(await historyOf(s, res.promptId));

      expect(event).toBe('execution_error');
      expect(data).toMatchObject({ node_type: 'CheckpointLoaderSimple', exception_type: 'safetensors_rust.SafetensorError' });
      expect(classify(data).name).toBe('Gpu.ModelMissing');
    } finally {
      await s.stop();
    }
  });
});

describe('injected faults', () => {
  it('hang: no progress until /interrupt, then execution_interrupted and an error entry in /history', async () => {
    // Prepare
    const c = await connect(sim, 'hang-client');
    const jobId = `job-${randomUUID()}`;
    sim.setFault(jobId, 'hang');
    const hangs = sim.stats().faultsFired['hang'] ?? 0;

    // Act
    const res = await submit(sim, buildInpaintWorkflow(fresh(), IMAGES), { clientId: 'hang-client', jobId });
    await c.waitFor((f) => f.type === 'progress' && f.data['prompt_id'] === res.promptId);
    // The run is stuck once the fault fired; every frame sent before then has arrived once the socket is flushed.
    await eventually(() => sim.stats().faultsFired['hang'] ?? 0, (n) => n === hangs + 1, 'the hang to fire', { timeoutMs: 5000, everyMs: 10 });
    await c.flush();
    const historyWhileRunning = await getJson(sim, `/history/${res.promptId}`);
    const queue = await getJson(sim, '/queue');
    await post(sim, '/interrupt', { prompt_id: res.promptId });
    const interrupted = await c.waitFor((f) => f.type === 'execution_interrupted');
    await c.waitFor(isEnd(res.promptId));

    // Assess
    expect(c.frames.filter((f) => f.type === 'progress' && f.data['prompt_id'] === res.promptId)).toHaveLength(1);
    expect(historyWhileRunning).toEqual({});
    expect((queue['queue_running'] as unknown[][])[0]?.[1]).toBe(res.promptId);
    expect(interrupted.data).toEqual({
      prompt_id: res.promptId, node_id: INPAINT_NODES.sampler, node_type: 'KSampler', executed: expect.any(Array), timestamp: expect.any(Number),
    });
    const entry = await historyOf(sim, res.promptId);
    expect(entry['status']).toMatchObject({ status_str: 'error', completed: false });
    expect(lastMessage(entry)[0]).toBe('execution_interrupted');
    expect(sim.stats().faultsFired['hang']).toBeGreaterThanOrEqual(1);
  });

  it('wsDrop: the socket is dropped mid-run, and the run still completes into /history', async () => {
    const c = await connect(sim, 'drop-client');
    const jobId = `job-${randomUUID()}`;
    sim.setFault(jobId, 'wsDrop');

    const res = await submit(sim, buildInpaintWorkflow(fresh({ steps: 10 }), IMAGES), { clientId: 'drop-client', jobId });
    const code = await c.closed;
    const entry = await historyOf(sim, res.promptId);

    expect(code).toBe(1006);
    expect(c.frames.some(isEnd(res.promptId))).toBe(false);
    expect(entry['status']).toMatchObject({ status_str: 'success', completed: true });
  });

  it('a client that reconnects with its clientId mid-run hears the running node, then the rest of the run', async () => {
    const first = await connect(sim, 'reconnect-client');
    const jobId = `job-${randomUUID()}`;
    sim.setFault(jobId, 'wsDrop');

    const res = await submit(sim, buildInpaintWorkflow(fresh({ steps: 200 }), IMAGES), { clientId: 'reconnect-client', jobId });
    await first.closed;
    const again = await connect(sim, 'reconnect-client');
    await again.waitFor(isEnd(res.promptId));

    expect(again.frames[1]).toEqual({ type: 'executing', data: { node: INPAINT_NODES.sampler } });
    expect(again.frames.some((f) => f.type === 'progress' && f.data['prompt_id'] === res.promptId)).toBe(true);
  });

  it('diskFull: execution_error OSError "[Errno 28] No space left on device" at SaveImage, every time', async () => {
    const c = await connect(sim, 'disk-client');
    const jobId = `job-${randomUUID()}`;
    sim.setFault(jobId, 'diskFull', Infinity);

    const res = await submit(sim, buildInpaintWorkflow(fresh({ seed: 99 }), IMAGES), { clientId: 'disk-client', jobId });
    const error = await c.waitFor((f) => f.type === 'execution_error' && f.data['prompt_id'] === res.promptId);
    const again = await submit(sim, buildInpaintWorkflow(fresh({ seed: 99 }), IMAGES), { clientId: 'disk-client', jobId });
    const errorAgain = await c.waitFor((f) => f.type === 'execution_error' && f.data['prompt_id'] === again.promptId);

    expect(error.data).toMatchObject({
      node_id: INPAINT_NODES.save, node_type: 'SaveImage', exception_type: 'OSError',
      exception_message: '[Errno 28] No space left on device\n', executed: expect.arrayContaining([INPAINT_NODES.decode]),
    });
    expect(classify(error.data).name).toBe('Fatal.DiskFull');
    expect(errorAgain.data['exception_type']).toBe('OSError');
  });

  it('blackOutput: the saved image is all black, and the same prompt again is not served black from the cache', async () => {
    // Prepare
    const jobId = `job-${randomUUID()}`;
    sim.setFault(jobId, 'blackOutput');
    const wf = buildInpaintWorkflow(fresh({ batch: 1 }), IMAGES);
    const maxima = async (promptId: string) => {
      const entry = await historyOf(sim, promptId);
      const image = (entry['outputs'] as Record<string, { images: { filename: string }[] }>)[INPAINT_NODES.save]!.images[0]!;
      const bytes = Buffer.from(await (await fetch(`${sim.url}/view?filename=${image.filename}&type=output`)).arrayBuffer());
      return (await sharp(bytes).stats()).channels.slice(0, 3).map((ch) => ch.max);
    };

    // Act
    const first = await submit(sim, wf, { jobId });
    const black = await maxima(first.promptId);
    const second = await submit(sim, wf, { jobId });
    const retried = await maxima(second.promptId);

    // Assess
    expect(black).toEqual([0, 0, 0]);
    expect(Math.max(...retried)).toBeGreaterThan(100);
  });

  it('http503: POST /prompt answers 503 once, and the retry is accepted', async () => {
    const jobId = `job-${randomUUID()}`;
    sim.setFault(jobId, 'http503');

    const first = await submit(sim, buildInpaintWorkflow(fresh(), IMAGES), { jobId });
    const second = await submit(sim, buildInpaintWorkflow(fresh(), IMAGES), { jobId });

    expect(first.status).toBe(503);
    expect(classify({ status: first.status, body: first.text }).name).toBe('Transient.ServiceUnavailable');
    expect(second.status).toBe(200);
  });

  it('crash (in-process): every connection is dropped and refused until restart(), which comes back empty', async () => {
    // Prepare
    const s = await startComfySim({ stepMs: 2 });
    try {
      await uploadInputs(s);
      const c = await connect(s, 'crash-client');
      s.setFault('job-crash', 'crash');

      // Act
      const res = await submit(s, buildInpaintWorkflow(fresh({ steps: 10 }), IMAGES), { clientId: 'crash-client', jobId: 'job-crash' });
      await c.closed;
      const refused = await fetch(`${s.url}/`).then(() => null, (e: unknown) => e);
      await s.restart();

      // Assess
      expect(res.status).toBe(200);
      expect(classify(refused).name).toBe('Transient.Network');
      expect(s.stats().crashed).toBe(false);
      expect(await getJson(s, `/history/${res.promptId}`)).toEqual({});
      expect(await getJson(s, '/queue')).toEqual({ queue_running: [], queue_pending: [] });
    } finally {
      await s.stop();
    }
  });

  it('crash with restartAfterCrashMs: refused at first, then listening again on its own', async () => {
    // Prepare
    const s = await startComfySim({ stepMs: 2, restartAfterCrashMs: 2000 });
    try {
      await uploadInputs(s);
      s.setFault('job-crash', 'crash');

      // Act
      await submit(s, buildInpaintWorkflow(fresh({ steps: 10 }), IMAGES), { jobId: 'job-crash' });
      await eventually(() => s.stats().crashed, (crashed) => crashed, 'the crash');
      const refused = await fetch(`${s.url}/`).then(() => null, (e: unknown) => e);
      const back = await eventually(() => fetch(`${s.url}/queue`).then((r) => r.status, () => 0), (status) => status === 200, 'ComfyUI listening again');

      // Assess
      expect(classify(refused).name).toBe('Transient.Network');
      expect(back).toBe(200);
      expect(s.stats().crashed).toBe(false);
    } finally {
      await s.stop();
    }
  });
});

describe('the queue', () => {
  it('runs one prompt at a time in order; pending ones can be listed and deleted', async () => {
    // Prepare
    const s = await startComfySim({ stepMs: 2 });
    try {
      await uploadInputs(s);
      s.setFault('job-block', 'hang');
      const blocker = await submit(s, buildInpaintWorkflow(fresh(), IMAGES), { jobId: 'job-block' });
      const a = await submit(s, buildInpaintWorkflow(fresh(), IMAGES));
      const b = await submit(s, buildInpaintWorkflow(fresh(), IMAGES));

      // Act
      const queue = await getJson(s, '/queue');
      const remaining = await getJson(s, '/prompt');
      await post(s, '/queue', { delete: [a.promptId] });
      const after = await getJson(s, '/queue');
      await post(s, '/interrupt', {});
      await historyOf(s, b.promptId);

      // Assess
      expect((queue['queue_running'] as unknown[][]).map((i) => i[1])).toEqual([blocker.promptId]);
      expect((queue['queue_pending'] as unknown[][]).map((i) => i[1])).toEqual([a.promptId, b.promptId]);
      expect(remaining).toEqual({ exec_info: { queue_remaining: 3 } });
      expect((after['queue_pending'] as unknown[][]).map((i) => i[1])).toEqual([b.promptId]);
      expect(await getJson(s, `/history/${a.promptId}`)).toEqual({});
      expect(Object.keys(await getJson(s, '/history'))).toEqual([blocker.promptId, b.promptId]);
      expect(Object.keys(await getJson(s, '/history?max_items=1'))).toEqual([b.promptId]);
    } finally {
      await s.stop();
    }
  });
});

describe('files', () => {
  it('renames an upload that clashes, reuses the name for identical bytes, and overwrites when asked', async () => {
    const other = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } }).png().toBuffer();

    const same = await upload(sim, 'person.png', person);
    const clash = await upload(sim, 'person.png', other);
    const overwritten = await upload(sim, 'garment.png', garment, { overwrite: 'true' });

    expect(same.body).toEqual({ name: 'person.png', subfolder: '', type: 'input' });
    expect(clash.body).toEqual({ name: 'person (1).png', subfolder: '', type: 'input' });
    expect(overwritten.body).toEqual({ name: 'garment.png', subfolder: '', type: 'input' });
  });

  it.each([
    ['..', '?filename=../secret.png&type=input', 400],
    ['an absolute name', '?filename=/etc/passwd', 400],
    ['a subfolder escape', '?filename=x.png&subfolder=../../etc', 403],
    ['a missing file', '?filename=nope.png&type=output', 404],
  ])('/view refuses %s', async (_label, query, status) => {
    expect((await fetch(`${sim.url}/view${query}`)).status).toBe(status);
  });

  it('serves the routes under /api too, and GET / as the liveness page', async () => {
    expect((await fetch(`${sim.url}/`)).status).toBe(200);
    expect(await getJson(sim, '/api/history/unknown')).toEqual({});
  });

  // Each answer checked against upstream ComfyUI 0.3.65 (../shared/peers/comfyui) with curl.
  it.each([
    ['POST', '/features', 405],
    ['POST', '/history/abc', 405],
    ['POST', '/api/object_info/LoadImage', 405],
    ['PUT', '/prompt', 405],
    ['GET', '/history/a/b', 404],
    ['GET', '/models/', 404],
    ['GET', '/nope', 404],
  ])('answers %s %s with %i: a path one of its routes has under another method is 405', async (method, path, status) => {
    expect((await fetch(`${sim.url}${path}`, { method })).status).toBe(status);
  });
});

describe('model and node listings', () => {
  it('lists the installed checkpoints where the wrappers read them', async () => {
    const info = await getJson(sim, '/object_info/CheckpointLoaderSimple');
    const folder = await (await fetch(`${sim.url}/models/checkpoints`)).json();

    const required = (info['CheckpointLoaderSimple'] as { input: { required: { ckpt_name: [string[]] } } }).input.required;
    expect(required.ckpt_name[0]).toEqual(['realvisxl-v4-inpaint.safetensors', 'sd-1.5-inpainting.safetensors', 'sdxl-inpaint-1.0.safetensors']);
    expect(folder).toEqual(required.ckpt_name[0]);
    expect(await getJson(sim, '/object_info/NoSuchNode')).toEqual({});
    expect((await fetch(`${sim.url}/models/nope`)).status).toBe(404);
  });
});

describe('bin/sim-comfyui.ts', () => {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'sim-comfyui-'));
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function launch(args: string[]): Promise<{ child: ChildProcess; sim: Target; exited: Promise<number | null> }> {
    const child = spawn(process.execPath, ['bin/sim-comfyui.ts', '--port', '0', '--step-ms', '2', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`sim-comfyui exited with ${code}`)));
    });
    const { url } = JSON.parse(line) as { url: string };
    return { child, exited, sim: { url } };
  }

  it('prints its URL, dies with 137 on the crash fault, keeps the fault counters across the restart, and stops on SIGTERM', async () => {
    // Prepare: a job whose only chaos fault is a crash on its first run.
    const seed = 5;
    const jobId = Array.from({ length: 2000 }, (_, i) => `proc-job-${i}`)
      .find((k) => JSON.stringify(drawnFaults(getProfile('chaos'), seed, 'comfyui', k)) === '["crash"]')!;
    const args = ['--profile', 'chaos', '--seed', String(seed), '--fault-state', join(dir, 'faults.json')];
    const first = await launch(args);
    await uploadInputs(first.sim);

    // Act
    const accepted = await submit(first.sim, buildInpaintWorkflow(fresh({ steps: 10 }), IMAGES), { jobId });
    const crashCode = await first.exited;
    const second = await launch(args);
    await uploadInputs(second.sim);
    const retried = await submit(second.sim, buildInpaintWorkflow(fresh({ steps: 10 }), IMAGES), { jobId });
    const entry = await historyOf(second.sim, retried.promptId);
    second.child.kill('SIGTERM');
    const stopCode = await second.exited;

    // Assess
    expect(accepted.status).toBe(200);
    expect(crashCode).toBe(137);
    expect(entry['status']).toMatchObject({ status_str: 'success' });
    expect(stopCode).toBe(0);
  });
});
