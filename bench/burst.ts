#!/usr/bin/env node
/**
 * `npm run bench:burst -- [--packs 120] [--burst 20] [--every-seconds 5] [--variants ours,baseline]`
 *
 * Issue 13's burst, on the offline stack with no injected faults (profile none): one-job
 * packs accepted in bursts (20 every 5 real seconds by default), each started as POST
 * /packs starts it (the pack and job items, then the pack machine), more than the GPU
 * workers hold at once, so GPU tasks wait in the queue. Each variant (the job machine, then
 * the blanket-retry baseline) runs the same burst on a fresh stack; the figures print side
 * by side: jobs complete and failed, wall time, job latency (p50/p95), wait for a GPU, GPU
 * busy while work waits, GPU-seconds wasted, and whether jobs started in the order they
 * were accepted. Exits 1 when a job of the job machine did not complete.
 */
// First: the handlers' Powertools output settings must be in the environment before they load.
import '../local/handler-output.ts';
import { inspect } from 'node:util';
import { Command, InvalidArgumentError } from 'commander';
import { intOption, timeScaleOption } from '../cli/options.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { newJobRecord, newPackRecord, packExecutionName, parseJobRecord, type JobRecord } from '../core/job.ts';
import { resolveParams } from '../core/params.ts';
import { s3Keys } from '../core/resources.ts';
import { putObject } from '../adapters/artifacts.ts';
import { putPackWithJobs } from '../adapters/job-store.ts';
import { seededUuid } from '../local/demo.ts';
import { startOfflineStack } from '../local/stack.ts';
import { garmentImage, personImage } from '../local/synthetic-images.ts';
import { burstFigures, formatBurst, type BurstFigures, type BurstJob } from './burst-report.ts';
import { isAlive } from './chaos.ts';
import { thisMachine } from './report.ts';
import { startSampler } from './sampler.ts';
import { machinesFor } from './variant.ts';
import type { Variant } from './variant-report.ts';

export interface BurstOptions {
  readonly packs: number;
  readonly burst: number;
  /** Real seconds between bursts. */
  readonly everySeconds: number;
  readonly variant: Variant;
  readonly timeScale: number;
  readonly workers: number;
  /** Tasks each worker takes beyond the one it runs (VTO_PREFETCH). */
  readonly prefetch?: number;
  readonly seed: number;
  /** Give up on jobs not terminal this long after the last burst. */
  readonly deadlineMs: number;
  readonly log?: (line: string) => void;
}

/** Small, quick jobs: the figures measure the queue, not the sampler. */
const BURST_PARAMS = { width: 512, height: 512, steps: 20, batch: 1 } as const;

export async function runBurst(o: BurstOptions): Promise<BurstFigures> {
  const say = o.log ?? (() => undefined);
  const ends = new Map<string, number>();
  const stack = await startOfflineStack({
    timeScale: o.timeScale, workers: o.workers, profile: 'none', seed: o.seed, prefix: `burst${o.variant === 'ours' ? 'o' : 'b'}`,
    ...(o.prefetch !== undefined && { prefetch: o.prefetch }),
    onSupervisorLog: (l) => say(JSON.stringify(l)),
    onStatusChange: (e) => {
      if (e.detail.status !== 'RUNNING') ends.set(e.detail.executionArn, Date.now());
    },
  });
  say(`${o.variant}: endpoints ${JSON.stringify(stack.endpoints)}`);
  const sfn = new SFNClient({});
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  try {
    const machines = machinesFor(stack, o.variant);
    const inputs = {
      person: await putObject(s3Keys.upload('burst', 'person.png'), await personImage(256, 256)),
      garment: await putObject(s3Keys.upload('burst', 'garment.png'), await garmentImage(256, 256, [30, 90, 200])),
    };
    const params = resolveParams(BURST_PARAMS);
    const queueUrl = stack.resources.queues.gpu.url;
    const sampler = startSampler({
      sqsEndpoint: stack.endpoints.sqs,
      queueName: queueUrl.split('/').at(-1) ?? '',
      sims: () => stack.workers.map((w) => ({ sim: w.comfy, live: isAlive(w) })),
    }, 50);

    const accepted: { job: JobRecord; packArn: string; acceptedAt: number }[] = [];
    const accept = async (i: number) => {
      const now = new Date().toISOString();
      const packId = seededUuid('burst-pack', o.seed, i);
      const job = newJobRecord({ packId, jobId: seededUuid('burst-job', o.seed, i), inpaint: 'comfyui', now, inputs, params });
      const pack = newPackRecord({ packId, name: `burst ${i + 1}`, inpaint: 'comfyui', jobCount: 1, now });
      await putPackWithJobs(pack, [job]);
      const acceptedAt = Date.now();
      const res = await sfn.send(new StartExecutionCommand({ stateMachineArn: machines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId }) }));
      accepted[i] = { job, packArn: res.executionArn!, acceptedAt };
    };
    const startedAt = Date.now();
    for (let b = 0; b * o.burst < o.packs; b++) {
      const due = startedAt + b * o.everySeconds * 1000;
      if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
      const from = b * o.burst;
      await Promise.all(Array.from({ length: Math.min(o.burst, o.packs - from) }, (_, k) => accept(from + k)));
      say(`${o.variant}: burst ${b + 1} accepted (${Math.min(o.packs, from + o.burst)} packs so far)`);
    }
    const giveUpAt = Date.now() + o.deadlineMs;
    while (accepted.some((a) => !ends.has(a.packArn)) && Date.now() < giveUpAt) await new Promise((r) => setTimeout(r, 100));
    const endAt = Date.now();
    await sampler.stop();

    const jobs: BurstJob[] = await Promise.all(accepted.map(async (a) => {
      const found = (await ddb.send(new GetCommand({ TableName: stack.resources.tables.jobs, Key: { jobId: a.job.jobId }, ConsistentRead: true }))).Item;
      const item = found && parseJobRecord(found);
      return {
        packId: a.job.packId, jobId: a.job.jobId, acceptedAt: a.acceptedAt, endedAt: ends.get(a.packArn) ?? null,
        status: item?.status ?? 'missing', error: item?.error?.name ?? null,
      };
    }));
    const prompts = stack.workers.flatMap((w) => w.comfy.promptLog().map((p) => ({ ...p, gpu: `gpu-of-${w.id}` })));
    return burstFigures(jobs, prompts, sampler.samples, endAt);
  } finally {
    sfn.destroy();
    ddb.destroy();
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const program = new Command('npm run bench:burst --')
    .description('Issue 13\'s burst of one-job packs on the offline stack (no injected faults), the job machine beside the baseline')
    .option('--packs <n>', 'one-job packs in all', intOption('--packs', 1, 10_000), 120)
    .option('--burst <n>', 'packs accepted at once', intOption('--burst', 1, 1000), 20)
    .option('--every-seconds <s>', 'real seconds between bursts', (v: string) => {
      const n = Number(v);
      if (!(n >= 0)) throw new InvalidArgumentError('--every-seconds must be ≥ 0');
      return n;
    }, 5)
    .option('--variants <list>', 'comma-separated: ours, baseline', (v: string) => {
      const list = v.split(',').map((s) => s.trim());
      for (const x of list) if (x !== 'ours' && x !== 'baseline') throw new InvalidArgumentError(`--variants: "${x}" is not ours or baseline`);
      return list as Variant[];
    }, ['ours', 'baseline'] as Variant[])
    .option('--workers <n>', 'GPU worker processes', intOption('--workers', 1, 16), 2)
    .option('--prefetch <n>', 'tasks each worker takes beyond the one it runs (VTO_PREFETCH)', intOption('--prefetch', 0, 8))
    .option('--seed <n>', 'seed of the pack and job ids', intOption('--seed', 0, 2 ** 31 - 1), 1)
    .option('--time-scale <f>', 'real seconds per simulated second', timeScaleOption, 0.05)
    .option('--deadline-seconds <n>', 'give up on jobs not done this long after the last burst', intOption('--deadline-seconds', 1, 86_400), 600)
    .option('--json', 'print the figures as JSON too')
    .showHelpAfterError();
  program.parse();
  const o = program.opts<{ packs: number; burst: number; everySeconds: number; variants: Variant[]; workers: number; prefetch?: number; seed: number; timeScale: number; deadlineSeconds: number; json?: boolean }>();
  const rows: { label: string; f: BurstFigures }[] = [];
  for (const variant of o.variants) {
    const f = await runBurst({
      packs: o.packs, burst: o.burst, everySeconds: o.everySeconds, variant, timeScale: o.timeScale, workers: o.workers, seed: o.seed,
      deadlineMs: o.deadlineSeconds * 1000, ...(o.prefetch !== undefined && { prefetch: o.prefetch }),
      log: (l) => process.stderr.write(`${l}\n`),
    });
    rows.push({ label: variant, f });
  }
  const m = thisMachine();
  const title = `Burst benchmark — ${o.packs} one-job packs in bursts of ${o.burst} every ${o.everySeconds} s, profile none, ${o.workers} GPU workers` +
    `${o.prefetch === undefined ? '' : ` × prefetch ${o.prefetch}`}, time scale ${o.timeScale}, seed ${o.seed} (${m.cpus} CPUs, ${m.memoryGiB} GiB, node ${m.node}, ${m.date})`;
  process.stdout.write(`${formatBurst(title, rows)}\n`);
  if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  const ours = rows.find((r) => r.label === 'ours')?.f;
  process.exitCode = ours !== undefined && ours.complete !== o.packs ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(() => process.exit(process.exitCode ?? 0), (e: unknown) => {
    process.stderr.write(`bench:burst: ${inspect(e, { depth: 4 })}\n`);
    process.exit(1);
  });
}
