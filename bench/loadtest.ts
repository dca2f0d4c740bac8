#!/usr/bin/env node
/**
 * `npm run loadtest -- --requests 12 --concurrency 4 --threshold-ms 3000 [--prefetch N] [--timeout-ms N] [--request-timeout-ms N]`
 *
 * The seeds' orchestrator load test, on the offline stack: each request is one job run end
 * to end (a one-job pack: segmentation, GPU inpaint on a worker, compositing, QA), at most
 * `concurrency` at a time. Prints one JSON document with the median and p95 latency, the
 * retries met and the definitive failures; exits 1 when the median passes the threshold or
 * any job fails.
 *
 * Profile `flaky-providers` by default: its faults are all transient (503, 429, malformed
 * bodies, HTML error pages from segmentation and the analyzer), so the retries the seeds'
 * test counts really happen while no job should fail; GPU faults (hangs, full disks) would
 * make a latency threshold measure the fault profile instead of the pipeline.
 */
// First: the handlers' Powertools output settings must be in the environment before they load.
import '../local/handler-output.ts';
import { Command, InvalidArgumentError } from 'commander';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { GetExecutionHistoryCommand, SFNClient, StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { newJobRecord, newPackRecord, packExecutionName, parseJobRecord } from '../core/job.ts';
import { resolveParams } from '../core/params.ts';
import { s3Keys } from '../core/resources.ts';
import { putObject } from '../adapters/artifacts.ts';
import { putPackWithJobs } from '../adapters/job-store.ts';
import { seededUuid } from '../local/demo.ts';
import { getProfile } from '../local/faults.ts';
import { startOfflineStack, type OfflineStack } from '../local/stack.ts';
import { garmentImage, personImage } from '../local/synthetic-images.ts';
import type { EventBridgeStepFunctionsStatusEvent } from '../local/stepfunctions/index.ts';
import { fromSdk, readExecution } from './history.ts';
import { summarize, type LoadResult } from './load-summary.ts';
import { thisMachine } from './report.ts';

interface LoadOptions {
  requests: number;
  concurrency: number;
  thresholdMs: number;
  prefetch?: number;
  timeoutMs: number;
  requestTimeoutMs?: number;
  profile: string;
  seed: number;
  timeScale: number;
  workers: number;
}

/** A job that finishes quickly on the simulated GPU: the latency measured is the pipeline's. */
const LOAD_PARAMS = { width: 512, height: 512, steps: 20, batch: 1 } as const;
const IMAGE_SIZE = 256;

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
  return n;
};

async function runLoad(o: LoadOptions): Promise<number> {
  const ends = new Map<string, (e: EventBridgeStepFunctionsStatusEvent) => void>();
  const stack: OfflineStack = await startOfflineStack({
    timeScale: o.timeScale, workers: o.workers, profile: o.profile, seed: o.seed, prefix: 'load',
    ...(o.prefetch !== undefined && { prefetch: o.prefetch }),
    ...(o.requestTimeoutMs !== undefined && { requestTimeoutMs: o.requestTimeoutMs }),
    onStatusChange: (e) => {
      if (e.detail.status !== 'RUNNING') ends.get(e.detail.executionArn)?.(e);
    },
  });
  const sfn = new SFNClient({});
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  try {
    const inputs = {
      person: await putObject(s3Keys.upload('loadtest', 'person.png'), await personImage(IMAGE_SIZE, IMAGE_SIZE)),
      garment: await putObject(s3Keys.upload('loadtest', 'garment.png'), await garmentImage(IMAGE_SIZE, IMAGE_SIZE, [30, 90, 200])),
    };
    const params = resolveParams(LOAD_PARAMS);

    const runOne = async (i: number): Promise<LoadResult> => {
      const now = new Date().toISOString();
      const packId = seededUuid('loadtest-pack', o.seed, i);
      // Seeded job ids: the same seed meets the same provider faults.
      const job = newJobRecord({ packId, jobId: seededUuid('loadtest', o.seed, i), inpaint: 'comfyui', now, inputs, params });
      const pack = newPackRecord({ packId, name: `load test ${i + 1}`, inpaint: 'comfyui', jobCount: 1, now });
      await putPackWithJobs(pack, [job]);
      const started = performance.now();
      const res = await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.endpoints.stateMachines.pack, name: packExecutionName(pack), input: JSON.stringify({ packId }) }));
      const ended = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), o.timeoutMs);
        ends.set(res.executionArn!, () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      const latencyMs = ended ? performance.now() - started : null;
      ends.delete(res.executionArn!);
      const found = (await ddb.send(new GetCommand({ TableName: stack.resources.tables.jobs, Key: { jobId: job.jobId }, ConsistentRead: true }))).Item;
      const item = found && parseJobRecord(found);
      let retries = 0;
      if (item?.executionArn !== undefined) {
        const events: HistoryEvent[] = [];
        let nextToken: string | undefined;
        do {
          const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn: item.executionArn, maxResults: 1000, ...(nextToken && { nextToken }) }));
          events.push(...(page.events ?? []));
          nextToken = page.nextToken;
        } while (nextToken);
        retries = readExecution(events.map(fromSdk), []).failures.length;
      }
      const status = !ended ? 'timed_out' : item?.status ?? 'missing';
      return { jobId: job.jobId, latencyMs, status, error: item?.error?.name ?? null, retries };
    };

    const results: LoadResult[] = new Array(o.requests);
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.requests) }, async () => {
      for (let i = next++; i < o.requests; i = next++) results[i] = await runOne(i);
    }));
    const summary = summarize(results, o.thresholdMs);
    process.stdout.write(`${JSON.stringify({
      ...summary,
      concurrency: o.concurrency,
      profile: o.profile,
      seed: o.seed,
      timeScale: o.timeScale,
      workers: o.workers,
      prefetch: o.prefetch ?? null,
      timeoutMs: o.timeoutMs,
      requestTimeoutMs: o.requestTimeoutMs ?? null,
      latenciesMs: results.map((r) => (r.latencyMs === null ? null : Math.round(r.latencyMs))),
      jobs: results.map((r) => ({ ...r, latencyMs: r.latencyMs === null ? null : Math.round(r.latencyMs) })),
      machine: thisMachine(),
    }, null, 2)}\n`);
    return summary.passed ? 0 : 1;
  } finally {
    sfn.destroy();
    ddb.destroy();
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const program = new Command('npm run loadtest --')
    .description('End-to-end latency of one-job packs on the offline stack, concurrency-limited; exits 1 when the median passes the threshold or a job fails')
    .option('--requests <n>', 'jobs to run', int('--requests', 1), 12)
    .option('--concurrency <n>', 'jobs in flight at once', int('--concurrency', 1), 4)
    .option('--threshold-ms <n>', 'largest acceptable median latency', int('--threshold-ms', 1), 3000)
    .option('--prefetch <n>', 'tasks each worker takes beyond the one it runs (VTO_PREFETCH)', int('--prefetch', 0))
    .option('--timeout-ms <n>', 'per-job deadline: a job not finished by then is a definitive failure', int('--timeout-ms', 1), 30_000)
    .option('--request-timeout-ms <n>', "the workers' requestTimeoutMs (each call to ComfyUI and S3)", int('--request-timeout-ms', 1))
    .option('--profile <name>', 'fault profile', (v: string) => (getProfile(v), v), 'flaky-providers')
    .option('--seed <n>', 'seed of the job ids and fault decisions', int('--seed', 0), 1)
    .option('--time-scale <f>', 'real seconds per simulated second', (v: string) => {
      const n = Number(v);
      if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('--time-scale must be in (0, 1]');
      return n;
    }, 0.05)
    .option('--workers <n>', 'GPU worker processes', int('--workers', 1), 2)
    .showHelpAfterError();
  program.parse();
  process.exitCode = await runLoad(program.opts<LoadOptions>());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(() => process.exit(process.exitCode ?? 0), (e: unknown) => {
    process.stderr.write(`loadtest: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
