/**
 * One offline run: start the stack, run the demo pack with live progress, print the
 * report; or, with --serve, keep the stack up and publish its endpoints.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import cliProgress from 'cli-progress';
import { packExecutionName, type JobRecord } from '../core/job.ts';
import { JOB_STATUSES, TERMINAL_PACK_STATUSES, isTerminalJob } from '../core/status.ts';
import { getPack, jobsOfPack } from '../adapters/job-store.ts';
import { startStackConsole } from '../console/server/stack-console.ts';
import type { ConsoleServer } from '../console/server/server.ts';
import { createDemoPack } from '../local/demo.ts';
import { buildReport, formatReport } from '../local/report.ts';
import { DEFAULT_INDEX_LAG_MS, startOfflineStack, type Endpoints, type OfflineStack } from '../local/stack.ts';
import { FLEET_SCALING_DEFAULTS, fleetScalingSchema } from '../core/fleet-scaling-settings.ts';
import type { WorkerBounds } from './options.ts';

export interface OfflineRunOptions {
  readonly jobs: number;
  readonly profile: string;
  readonly seed: number;
  readonly timeScale: number;
  /** min === max: that many warm workers; otherwise autoscaled between them. */
  readonly workers: WorkerBounds;
  readonly json: boolean;
  readonly serve: boolean;
  readonly demo: boolean;
  /** Finished packs older than this many (scaled) days are erased by the watchdog. */
  readonly retentionDays?: number;
}

export const ENDPOINTS_FILE = fileURLToPath(new URL('../.vto/endpoints.json', import.meta.url));

export function writeEndpoints(endpoints: Endpoints): void {
  mkdirSync(fileURLToPath(new URL('../.vto/', import.meta.url)), { recursive: true });
  writeFileSync(ENDPOINTS_FILE, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
}

const POLL_MS = 500;

/** Follows a pack until every job is terminal and the pack has finished; shows it live unless quiet. */
export async function followPack(packId: string, opts: { quiet: boolean; deadlineMs: number }): Promise<{ jobs: JobRecord[]; timedOut: boolean }> {
  const bar = opts.quiet ? undefined : new cliProgress.MultiBar({
    format: ' {bar} {done}/{total} | {counts} | recoveries {recoveries}',
    hideCursor: true, clearOnComplete: false, stopOnComplete: false, noTTYOutput: true, notTTYSchedule: 5000,
  }, cliProgress.Presets.shades_classic);
  const packBar = bar?.create(1, 0, { done: 0, total: '?', counts: 'starting', recoveries: 0 });
  const seen = new Map<string, number>();
  const deadline = Date.now() + opts.deadlineMs;
  let jobs: JobRecord[] = [];
  try {
    for (;;) {
      jobs = await jobsOfPack(packId);
      const pack = await getPack(packId);
      let recoveries = 0;
      for (const j of jobs) {
        const rs = j.recoveries;
        recoveries += rs.length;
        for (const r of rs.slice(seen.get(j.jobId) ?? 0)) {
          bar?.log(`  ↻ ${j.jobId.slice(0, 8)}  ${r.error} → ${r.strategy}${r.detail ? ` (${r.detail})` : ''}\n`);
        }
        seen.set(j.jobId, rs.length);
      }
      const done = jobs.filter((j) => isTerminalJob(j.status)).length;
      const counts = JOB_STATUSES.map((s) => [s, jobs.filter((j) => j.status === s).length] as const).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(', ');
      packBar?.setTotal(Math.max(1, jobs.length));
      packBar?.update(done, { done, total: jobs.length, counts, recoveries });
      if (TERMINAL_PACK_STATUSES.includes(pack.status) && done === jobs.length) return { jobs, timedOut: false };
      if (Date.now() > deadline) return { jobs, timedOut: true };
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    bar?.stop();
  }
}

export async function runOffline(opts: OfflineRunOptions): Promise<number> {
  const say = (s: string) => { if (!opts.json) process.stderr.write(`${s}\n`); };
  // The shutdown handler may run before the stack exists.
  const running: { stack?: OfflineStack; console?: ConsoleServer } = {};
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping the offline stack…');
    await running.console?.stop();
    await running.stack?.stop();
    if (opts.serve) rmSync(ENDPOINTS_FILE, { force: true });
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(130));
  process.once('SIGTERM', () => void shutdown(143));

  const started = Date.now();
  const { min, max } = opts.workers;
  const fleet = min === max ? undefined : fleetScalingSchema.parse({ ...FLEET_SCALING_DEFAULTS, minWorkers: min, maxWorkers: max });
  say(`starting DynamoDB Local, fauxqs, local Step Functions, simulators and ${fleet === undefined ? `${min} GPU worker(s)`
    : `a GPU fleet autoscaled from ${min} to ${max} workers (scale-out cooldown ${fleet.scaleOutCooldownSeconds} s, scale-in after ${fleet.scaleInCooldownSeconds} s idle, both scaled)`}…`);
  // npm start is strict about index consistency, as AWS is (the suite's stacks opt in where a test needs it).
  const stack = await startOfflineStack({
    timeScale: opts.timeScale, workers: min, profile: opts.profile, seed: opts.seed, indexLagMs: DEFAULT_INDEX_LAG_MS, ...(fleet !== undefined && { fleet }),
    ...(opts.retentionDays !== undefined && { packRetentionDays: opts.retentionDays }),
  });
  running.stack = stack;
  say(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (time scale ${opts.timeScale}, profile ${opts.profile}, seed ${opts.seed})`);
  if (opts.serve) {
    // The operator console for this stack (console/), listed in the endpoints file.
    running.console = await startStackConsole(stack.endpoints);
    stack.endpoints.console = running.console.url;
    writeEndpoints(stack.endpoints);
    say(`endpoints written to ${ENDPOINTS_FILE}`);
    say(`operator console: ${running.console.url}`);
  }
  let code = 0;
  if (opts.demo) {
    const { pack } = await createDemoPack({ jobs: opts.jobs, seed: opts.seed });
    const sfn = new SFNClient({});
    await sfn.send(new StartExecutionCommand({
      stateMachineArn: stack.endpoints.stateMachines.pack,
      name: packExecutionName(pack),
      input: JSON.stringify({ packId: pack.packId }),
    }));
    sfn.destroy();
    say(`pack ${pack.packId}: ${opts.jobs} jobs submitted`);
    const t0 = Date.now();
    // Generous: the demo finishes in about a minute; this only bounds a stuck run.
    const { jobs, timedOut } = await followPack(pack.packId, { quiet: opts.json, deadlineMs: Math.max(300_000, opts.jobs * 20_000 * opts.timeScale * 20) });
    const report = buildReport(await getPack(pack.packId), jobs, (Date.now() - t0) / 1000);
    process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `\n${formatReport(report)}\n`);
    const terminal = jobs.every((j) => isTerminalJob(j.status));
    if (timedOut || !terminal) {
      process.stderr.write(`not every job reached a terminal status${timedOut ? ' before the deadline' : ''}\n`);
      code = 1;
    }
  }
  if (opts.serve) {
    say('serving; press Ctrl-C to stop');
    await new Promise(() => undefined);
  }
  await shutdown(code);
  return code;
}
