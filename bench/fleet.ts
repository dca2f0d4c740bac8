#!/usr/bin/env node
/**
 * `npm run bench:fleet -- [--packs 24] [--every-seconds 10] [--max 3] [--variants 0/60,1/60,0/300,1/300] [--size 512] [--steps 20]`
 *
 * Issue 14's fleet figures on the offline stack (profile none), from an empty fleet: one-job
 * packs submitted at a steady rate (one every --every-seconds pipeline seconds) to a fleet the
 * scaler (core/scaling.ts) grows from its minimum, each new host paying the modelled cold start
 * (local/comfyui/physics.ts COLD_START) and warming up before it takes work. Each variant is a
 * warm minimum / scale-in cooldown pair ("1/300": minWorkers 1, scaleInCooldownSeconds 300),
 * run on a fresh stack; the run's window closes when the fleet is back at its minimum after the
 * last job. Figures side by side (bench/fleet-report.ts): time to the first and last result,
 * GPU-seconds billed (cold start, warm-up, jobs, idle) beside what the jobs needed, and per
 * 1,000 jobs at the g5.xlarge on-demand price. All times in pipeline seconds.
 */
// First: the handlers' Powertools output settings must be in the environment before they load.
import '../local/handler-output.ts';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { intOption, timeScaleOption } from '../cli/options.ts';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { FLEET_SCALING_DEFAULTS, fleetScalingSchema } from '../core/fleet-scaling-settings.ts';
import { newJobRecord, newPackRecord, packExecutionName } from '../core/job.ts';
import { PARAM_BOUNDS, resolveParams } from '../core/params.ts';
import { s3Keys } from '../core/resources.ts';
import { putObject } from '../adapters/artifacts.ts';
import { getJob, putPackWithJobs } from '../adapters/job-store.ts';
import { COLD_START } from '../local/comfyui/physics.ts';
import { seededUuid } from '../local/demo.ts';
import { startOfflineStack } from '../local/stack.ts';
import { garmentImage, personImage } from '../local/synthetic-images.ts';
import { fleetFigures, formatFleet, INSTANCE, type FleetFigures } from './fleet-report.ts';
import { thisMachine } from './report.ts';

export interface FleetVariant {
  readonly minWorkers: number;
  readonly scaleInCooldownSeconds: number;
}

export interface FleetBenchOptions {
  readonly packs: number;
  /** Pipeline seconds between two submissions. */
  readonly everySeconds: number;
  readonly maxWorkers: number;
  readonly variant: FleetVariant;
  readonly timeScale: number;
  /** Each job's output side (px, square) and sampler steps: its GPU time. */
  readonly size: number;
  readonly steps: number;
  /** Overrides of the fleet's other scaling settings (defaults: FLEET_SCALING_DEFAULTS). */
  readonly backlogPerWorker?: number;
  readonly seed: number;
  /** Give up this many real ms after the last submission. */
  readonly deadlineMs: number;
  readonly log?: (line: string) => void;
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFleet(o: FleetBenchOptions): Promise<FleetFigures> {
  const say = o.log ?? (() => undefined);
  const fleet = fleetScalingSchema.parse({
    ...FLEET_SCALING_DEFAULTS, maxWorkers: o.maxWorkers, ...o.variant, ...(o.backlogPerWorker !== undefined && { backlogPerWorker: o.backlogPerWorker }),
  });
  const ends = new Map<string, number>();
  const stack = await startOfflineStack({
    timeScale: o.timeScale, profile: 'none', seed: o.seed, watchdog: false, prefix: `fleet${o.variant.minWorkers}x${o.variant.scaleInCooldownSeconds}`, fleet,
    onSupervisorLog: (l) => say(JSON.stringify(l)),
    onStatusChange: (e) => { if (e.detail.status !== 'RUNNING') ends.set(e.detail.executionArn, Date.now()); },
  });
  const sfn = new SFNClient({});
  try {
    // A warm minimum is part of the fleet before the load arrives: wait for it to be ready.
    await waitFor(() => stack.hosts.filter((h) => h.comfy.promptLog().some((p) => p.warmup === true && p.endedAt !== null)).length >= fleet.minWorkers,
      (COLD_START.hostBootSeconds + COLD_START.modelLoadSeconds) * 1000 * o.timeScale * 10 + 60_000, 'the warm minimum ready');
    const inputs = {
      person: await putObject(s3Keys.upload('fleet', 'person.png'), await personImage(256, 256)),
      garment: await putObject(s3Keys.upload('fleet', 'garment.png'), await garmentImage(256, 256, [30, 90, 200])),
    };
    const params = resolveParams({ width: o.size, height: o.size, steps: o.steps, batch: 1 });
    const startAt = Date.now();
    const accepted: { jobId: string; arn: string }[] = [];
    for (let i = 0; i < o.packs; i++) {
      const due = startAt + i * o.everySeconds * 1000 * o.timeScale;
      if (Date.now() < due) await sleep(due - Date.now());
      const now = new Date().toISOString();
      const packId = seededUuid('fleet-pack', o.seed, i);
      const job = newJobRecord({ packId, jobId: seededUuid('fleet-job', o.seed, i), inpaint: 'comfyui', now, inputs, params });
      const pack = newPackRecord({ packId, name: `fleet ${i + 1}`, inpaint: 'comfyui', jobCount: 1, now });
      await putPackWithJobs(pack, [job]);
      const res = await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.endpoints.stateMachines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId }) }));
      accepted.push({ jobId: job.jobId, arn: res.executionArn! });
    }
    say(`${label(o.variant)}: ${o.packs} packs submitted`);
    const giveUpAt = Date.now() + o.deadlineMs;
    await waitFor(() => accepted.every((a) => ends.has(a.arn)), giveUpAt - Date.now(), 'every pack ended').catch((e: unknown) => say(String(e)));
    // The window closes when the fleet is back at its minimum (the scale-in tail is billed).
    await waitFor(() => stack.hosts.filter((h) => h.endedAt === null).length <= fleet.minWorkers, Math.max(10_000, giveUpAt - Date.now()), 'the fleet back at its minimum')
      .catch((e: unknown) => say(String(e)));
    const endAt = Date.now();
    const jobs = await Promise.all(accepted.map(async (a) => ({ endedAt: ends.get(a.arn) ?? null, status: (await getJob(a.jobId)).status })));
    return fleetFigures({
      timeScale: o.timeScale, startAt, endAt, jobs,
      hosts: stack.hosts.map((h) => ({ id: h.id, launchedAt: h.launchedAt, endedAt: h.endedAt, prompts: h.comfy.promptLog().map((p) => ({ warmup: p.warmup === true, jobId: p.jobId, startedAt: p.startedAt, endedAt: p.endedAt })) })),
    });
  } finally {
    sfn.destroy();
    await stack.stop();
  }
}

async function waitFor(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what} after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(100);
  }
}

const label = (v: FleetVariant) => `min ${v.minWorkers}, in ${v.scaleInCooldownSeconds} s`;

/** `--variants 0/60,1/300`: minWorkers/scaleInCooldownSeconds pairs. */
export const variantsOption = (v: string): FleetVariant[] => v.split(',').map((pair) => {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(pair);
  if (m === null) throw new InvalidArgumentError(`--variants: "${pair}" is not MIN/SCALE_IN_SECONDS (e.g. 0/60)`);
  return { minWorkers: Number(m[1]), scaleInCooldownSeconds: Number(m[2]) };
});

async function main(): Promise<void> {
  const program = new Command('npm run bench:fleet --')
    .description('Issue 14: the autoscaled GPU fleet from empty under a steady load; billed vs needed GPU time per warm minimum and scale-in cooldown')
    .option('--packs <n>', 'one-job packs in all', intOption('--packs', 1, 10_000), 24)
    .option('--every-seconds <s>', 'pipeline seconds between two submissions', (v: string) => {
      const n = Number(v);
      if (!(n >= 0)) throw new InvalidArgumentError('--every-seconds must be ≥ 0');
      return n;
    }, 10)
    .option('--max <n>', 'maxWorkers', intOption('--max', 1, 100), 3)
    .option('--variants <list>', 'MIN/SCALE_IN_SECONDS pairs, comma-separated', variantsOption, variantsOption('0/60,1/60,0/300,1/300'))
    .option('--seed <n>', 'seed of the pack and job ids', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--size <px>', 'each job\'s output side (square), 512–2048, a multiple of 8', (v: string) => {
      const n = intOption('--size', PARAM_BOUNDS.width.min, PARAM_BOUNDS.width.max)(v);
      if (n % 8 !== 0) throw new InvalidArgumentError('--size must be a multiple of 8 (the sampler works on 8-pixel latents)');
      return n;
    }, 512)
    .option('--steps <n>', 'each job\'s sampler steps (with --size, its GPU time)', intOption('--steps', PARAM_BOUNDS.steps.min, PARAM_BOUNDS.steps.max), 20)
    .option('--backlog-per-worker <n>', `the fleet's backlogPerWorker (default ${FLEET_SCALING_DEFAULTS.backlogPerWorker})`, intOption('--backlog-per-worker', 1, 64))
    .option('--time-scale <f>', 'real seconds per pipeline second', timeScaleOption, 0.05)
    .option('--deadline-seconds <n>', 'real seconds to wait for the jobs and the scale-in after the last submission', intOption('--deadline-seconds', 1, 86_400), 600)
    .option('--json', 'print the figures as JSON too')
    .option('--one', 'run the single variant given and print its figures as one JSON line (used by the command itself)')
    .showHelpAfterError();
  program.parse();
  const o = program.opts<{
    packs: number; everySeconds: number; max: number; variants: FleetVariant[]; seed: number; timeScale: number; deadlineSeconds: number;
    size: number; steps: number; backlogPerWorker?: number; json?: boolean; one?: boolean;
  }>();
  const backlogPerWorker = o.backlogPerWorker ?? FLEET_SCALING_DEFAULTS.backlogPerWorker;
  for (const v of o.variants) fleetScalingSchema.parse({ ...FLEET_SCALING_DEFAULTS, maxWorkers: o.max, backlogPerWorker, ...v });
  const run = (variant: FleetVariant) => runFleet({
    packs: o.packs, everySeconds: o.everySeconds, maxWorkers: o.max, variant, timeScale: o.timeScale, seed: o.seed, size: o.size, steps: o.steps, backlogPerWorker,
    deadlineMs: o.deadlineSeconds * 1000, log: (l) => process.stderr.write(`${l}\n`),
  });
  if (o.one === true) {
    process.stdout.write(`${JSON.stringify(await run(o.variants[0]!))}\n`);
    return;
  }
  // One process per variant: the project's AWS clients are created once per process, with the
  // endpoints of the first stack, so a second stack in the same process is not reachable.
  const rows: { label: string; f: FleetFigures }[] = [];
  for (const variant of o.variants) {
    const args = [fileURLToPath(import.meta.url), '--one', '--packs', String(o.packs), '--every-seconds', String(o.everySeconds), '--max', String(o.max),
      '--variants', `${variant.minWorkers}/${variant.scaleInCooldownSeconds}`, '--seed', String(o.seed), '--time-scale', String(o.timeScale), '--deadline-seconds', String(o.deadlineSeconds),
      '--size', String(o.size), '--steps', String(o.steps), '--backlog-per-worker', String(backlogPerWorker)];
    const child = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
    const line = child.stdout.split('\n').reverse().find((l) => l.startsWith('{"jobs"'));
    if (line === undefined) throw new Error(`the run of ${label(variant)} printed no figures (exit ${child.status})`);
    rows.push({ label: label(variant), f: JSON.parse(line) as FleetFigures });
  }
  const m = thisMachine();
  const title = `Fleet benchmark — ${o.packs} one-job packs (${o.size}², ${o.steps} steps), one every ${o.everySeconds} s, fleet ${rows.map((r) => r.label).join(' | ')} up to ${o.max} workers, ` +
    `backlogPerWorker ${backlogPerWorker}, scale-out cooldown ${FLEET_SCALING_DEFAULTS.scaleOutCooldownSeconds} s; cold start ${COLD_START.hostBootSeconds} s boot + ${COLD_START.modelLoadSeconds} s model load; ` +
    `${INSTANCE.type} on-demand $${INSTANCE.usdPerHour}/h (${INSTANCE.region}, assumed); time scale ${o.timeScale}, seed ${o.seed} (${m.cpus} CPUs, ${m.memoryGiB} GiB, node ${m.node}, ${m.date})`;
  process.stdout.write(`${formatFleet(title, rows)}\n`);
  if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  process.exitCode = rows.every((r) => r.f.complete === r.f.jobs) ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(() => process.exit(process.exitCode ?? 0), (e: unknown) => {
    process.stderr.write(`bench:fleet: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
