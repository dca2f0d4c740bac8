/**
 * `npm run bench:api`: how long POST /packs takes at 50 concurrent callers on the offline
 * stack. Starts the stack, uploads the images of every pack beforehand (each pack has its
 * own), warms up, then sends the packs from a separate load process (so the callers' own
 * work does not run on the server's event loop) and prints p50/p95/p99 of
 *   - handler: the API Lambda handler's own time (the local gateway's Server-Timing), the
 *     design's figure: p99 < 100 ms at 50 concurrent, offline;
 *   - gateway: the whole stay in the local gateway (SigV4 check included);
 *   - client: what a caller waits, connection and signing included.
 * A one-caller phase shows the cost of a request without queueing. Figures only: nothing
 * here passes or fails on time.
 *
 * On AWS the pipeline the packs start runs on other machines than the API. Offline it runs
 * in this very process, on the same DynamoDB Local, so by default (`--pipeline idle`) the
 * API starts a pack machine that ends at once: every request still validates, checks its
 * uploads, writes its pack and jobs and starts an execution, but the hundreds of packs it
 * creates do not then run beside the measurement. `--pipeline run` lets them run.
 *
 *   npm run bench:api -- [--requests 500] [--concurrency 50] [--jobs-per-pack 1] [--pipeline idle|run] [--json]
 */
// First: the handlers' Powertools output settings must be in the environment before they load.
import '../local/handler-output.ts';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { signedFetch, type SigningCredentials } from '../client/signed-fetch.ts';
import { percentile } from '../core/percentile.ts';
import { STATE_MACHINES } from '../core/resources.ts';
import { resetConfig } from '../adapters/config.ts';
import { uploadsCreatedSchema } from '../lambdas/api/schemas.ts';
import { startOfflineStack, type OfflineStack } from '../local/stack.ts';
import { garmentImage, personImage } from '../local/synthetic-images.ts';

interface Target {
  readonly api: string;
  readonly region: string;
  readonly credentials: SigningCredentials;
}

interface Sample {
  readonly status: number;
  readonly clientMs: number;
  readonly handlerMs: number | null;
  readonly gatewayMs: number | null;
  /** `code: message` of a refusal. */
  readonly error?: string;
}

interface LoadPlan {
  readonly target: Target;
  readonly concurrency: number;
  readonly bodies: readonly string[];
}

const TIMEOUT_MS = 30_000;
const SELF = fileURLToPath(import.meta.url);

/** `handler;dur=12.3, gateway;dur=14.0` → { handler: 12.3, gateway: 14 }. */
export function parseServerTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function createPack(target: Target, body: string): Promise<Sample> {
  const t0 = performance.now();
  const res = await signedFetch(`${target.api}/packs`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
  }, { credentials: target.credentials, region: target.region, timeoutMs: TIMEOUT_MS });
  const text = await res.text();
  const clientMs = performance.now() - t0;
  const timing = parseServerTiming(res.headers.get('server-timing'));
  const sample = { status: res.status, clientMs, handlerMs: timing['handler'] ?? null, gatewayMs: timing['gateway'] ?? null };
  if (res.status === 202) return sample;
  let error = text.slice(0, 200);
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e !== undefined) error = `${e.code}: ${e.message}`;
  } catch {
    // not the API's body: keep the text
  }
  return { ...sample, error };
}

/** `concurrency` callers, each sending the next body until none is left. */
async function runLoad(plan: LoadPlan): Promise<{ samples: Sample[]; wallMs: number }> {
  const samples: Sample[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, plan.bodies.length) }, async () => {
    while (next < plan.bodies.length) samples.push(await createPack(plan.target, plan.bodies[next++]!));
  }));
  return { samples, wallMs: performance.now() - t0 };
}

/** The load in a child process of its own: the plan on stdin, the samples on stdout. */
function runLoadProcess(plan: LoadPlan): Promise<{ samples: Sample[]; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, '--load'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS + plan.bodies.length * 5_000);
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the load process exited with ${code}`));
      resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { samples: Sample[]; wallMs: number });
    });
    child.stdin.end(JSON.stringify(plan));
  });
}

/** One pack's body per request, each over images uploaded for it (a pack takes only its own uploads). */
async function prepareBodies(target: Target, count: number, jobsPerPack: number): Promise<string[]> {
  const person = await personImage(320, 320);
  const garment = await garmentImage(320, 320, [200, 30, 40]);
  const bodies: string[] = new Array<string>(count);
  let next = 0;
  const call = async (path: string, body: unknown) => {
    const res = await signedFetch(`${target.api}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
      { credentials: target.credentials, region: target.region, timeoutMs: TIMEOUT_MS });
    if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < count) {
      const i = next++;
      const u = uploadsCreatedSchema.parse(await call('/uploads', {
        files: [{ name: 'person.png', contentType: 'image/png', size: person.length }, { name: 'garment.png', contentType: 'image/png', size: garment.length }],
      }));
      await Promise.all(u.files.map(async (f) => {
        const put = await fetch(f.url, { method: 'PUT', headers: f.headers, body: new Uint8Array(f.name === 'person.png' ? person : garment), signal: AbortSignal.timeout(TIMEOUT_MS) });
        if (!put.ok) throw new Error(`PUT ${f.name} answered ${put.status}`);
      }));
      const key = (name: string) => u.files.find((f) => f.name === name)!.key;
      bodies[i] = JSON.stringify({
        name: `bench ${i}`, packId: u.packId,
        pipeline: { inpaint: 'comfyui', params: { width: 512, height: 512, steps: 20, batch: 1 } },
        jobs: Array.from({ length: jobsPerPack }, () => ({ person: key('person.png'), garment: key('garment.png') })),
      });
    }
  }));
  return bodies;
}

/** Points the API at a pack machine that ends at once (see the header). */
function idlePipeline(stack: OfflineStack): void {
  const idle = stack.sfn.createStateMachine({
    name: 'vto-pack-idle',
    definition: { Comment: 'bench:api: a pack machine that ends at once', StartAt: 'Done', States: { Done: { Type: 'Succeed' } } },
  });
  process.env[STATE_MACHINES.pack.envVar] = idle.stateMachineArn;
  resetConfig();
}

interface Figures {
  readonly n: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

const round1 = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);

function figures(values: readonly number[]): Figures {
  return {
    n: values.length,
    p50: round1(percentile(values, 50)), p95: round1(percentile(values, 95)), p99: round1(percentile(values, 99)),
    max: round1(values.length === 0 ? null : Math.max(...values)),
  };
}

function summarise(phase: string, concurrency: number, run: { samples: Sample[]; wallMs: number }) {
  const ok = run.samples.filter((s) => s.status === 202);
  const statuses: Record<string, number> = {};
  for (const s of run.samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  const errors = [...new Set(run.samples.flatMap((s) => (s.error === undefined ? [] : [s.error])))].slice(0, 5);
  return {
    phase, concurrency, requests: run.samples.length, accepted: ok.length, statuses, errors,
    throughputPerSecond: Math.round((run.samples.length / (run.wallMs / 1000)) * 10) / 10,
    handlerMs: figures(ok.flatMap((s) => (s.handlerMs === null ? [] : [s.handlerMs]))),
    gatewayMs: figures(ok.flatMap((s) => (s.gatewayMs === null ? [] : [s.gatewayMs]))),
    clientMs: figures(ok.map((s) => s.clientMs)),
  };
}

type Summary = ReturnType<typeof summarise>;

function formatSummary(s: Summary): string {
  const row = (label: string, f: Figures) => `  ${label.padEnd(8)} p50 ${String(f.p50).padStart(7)}  p95 ${String(f.p95).padStart(7)}  p99 ${String(f.p99).padStart(7)}  max ${String(f.max).padStart(7)}  (ms, n=${f.n})`;
  return [
    `${s.phase}: ${s.requests} × POST /packs, ${s.concurrency} concurrent, ${s.accepted} accepted (${Object.entries(s.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')}), ${s.throughputPerSecond}/s`,
    row('handler', s.handlerMs), row('gateway', s.gatewayMs), row('client', s.clientMs),
    ...s.errors.map((e) => `  refused: ${e}`),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '50' },
      'jobs-per-pack': { type: 'string', default: '1' },
      baseline: { type: 'string', default: '50' },
      warmup: { type: 'string', default: '20' },
      workers: { type: 'string', default: '1' },
      'time-scale': { type: 'string', default: '1' },
      pipeline: { type: 'string', default: 'idle' },
      json: { type: 'boolean', default: false },
    },
  });
  const int = (name: keyof typeof values, min: number, max: number) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  const requests = int('requests', 1, 10_000);
  const concurrency = int('concurrency', 1, 500);
  const jobsPerPack = int('jobs-per-pack', 1, 1000);
  const baseline = int('baseline', 0, 10_000);
  const warmup = int('warmup', 0, 1000);
  const workers = int('workers', 0, 8);
  const timeScale = Number(values['time-scale']);
  const pipeline = values.pipeline;
  if (pipeline !== 'idle' && pipeline !== 'run') throw new Error('--pipeline must be idle or run');
  const say = (s: string) => { if (!values.json) process.stderr.write(`${s}\n`); };

  say(`starting the offline stack (profile none, ${workers} worker(s), time scale ${timeScale}, pipeline ${pipeline})…`);
  const stack = await startOfflineStack({ profile: 'none', workers, timeScale, prefix: `bench${randomUUID().slice(0, 6)}` });
  try {
    if (pipeline === 'idle') idlePipeline(stack);
    const target: Target = { api: stack.endpoints.api!, region: stack.endpoints.region, credentials: stack.endpoints.credentials };
    say(`uploading the images of ${warmup + baseline + requests} packs…`);
    const bodies = await prepareBodies(target, warmup + baseline + requests, jobsPerPack);
    say(`warming up with ${warmup} packs…`);
    await runLoadProcess({ target, concurrency: 1, bodies: bodies.slice(0, warmup) });
    const summaries: Summary[] = [];
    if (baseline > 0) {
      say(`one caller, ${baseline} packs…`);
      summaries.push(summarise('one caller', 1, await runLoadProcess({ target, concurrency: 1, bodies: bodies.slice(warmup, warmup + baseline) })));
    }
    say(`${concurrency} callers, ${requests} packs…`);
    summaries.push(summarise(`${concurrency} callers`, concurrency, await runLoadProcess({ target, concurrency, bodies: bodies.slice(warmup + baseline) })));
    const last = summaries.at(-1)!;
    const report = {
      figure: 'POST /packs server time (API handler), offline',
      target: { p99Ms: 100, concurrency: 50 },
      setup: { pipeline, jobsPerPack, workers, timeScale, cpus: (await import('node:os')).availableParallelism(), node: process.version },
      phases: summaries,
      p99WithinTarget: last.handlerMs.p99 !== null && last.handlerMs.p99 < 100,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      process.stdout.write(`\n${summaries.map(formatSummary).join('\n\n')}\n\n`);
      process.stdout.write(`handler p99 at ${last.concurrency} concurrent: ${last.handlerMs.p99} ms (design target < 100 ms) — ${report.p99WithinTarget ? 'within' : 'NOT within'} the target on this machine (${report.setup.cpus} CPUs, pipeline ${pipeline})\n`);
    }
  } finally {
    await stack.stop();
  }
}

async function loadMain(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const plan = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadPlan;
  process.stdout.write(JSON.stringify(await runLoad(plan)));
}

if (process.argv[1] === SELF) {
  (process.argv.includes('--load') ? loadMain() : main()).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench:api: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
