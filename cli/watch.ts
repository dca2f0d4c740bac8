/**
 * Follows a pack through the API until it ends: polls the pack (counts per status) and
 * its job list, and reads the full record of the jobs whose summary shows a failure met
 * or an end reached, to print each recovery as it is recorded and when it resolves.
 * Detail reads are bounded per poll, so a 1,000-job pack does not flood the API.
 */
import { TERMINAL_PACK_STATUSES, type JobStatus } from '../core/status.ts';
import { PAGE } from '../lambdas/api/limits.ts';
import type { JobSummary, JobView, PackView } from '../lambdas/api/schemas.ts';
import type { ApiClient } from './api-client.ts';
import { ApiRefusal, NoAnswerError, UnreachableError } from './errors.ts';
import { formatMs } from './format.ts';
import type { PackDisplay } from './progress.ts';
import { recoveryLine } from './render-jobs.ts';

export interface WatchOptions {
  readonly display: PackDisplay;
  /** @default 1000 */
  readonly intervalMs?: number;
  /** Give up (ended: false) after this long. @default 1 hour */
  readonly maxWaitMs?: number;
  /** Full job reads per poll, at most. @default 25 */
  readonly detailsPerPoll?: number;
  /** Consecutive failed polls (no answer, 5xx) tolerated before giving up. @default 3 */
  readonly pollFailures?: number;
}

export interface WatchResult {
  readonly pack: PackView;
  readonly ended: boolean;
  /** Failures the jobs met while watched (history included), and how many were recovered. */
  readonly failures: number;
  readonly recovered: number;
}

/** A pack has ended when its status is terminal and every job is done (a stopped pack leaves jobs unfinished). */
export function packEnded(p: PackView): boolean {
  if (!TERMINAL_PACK_STATUSES.includes(p.status)) return false;
  return p.status === 'stopped' || (p.progress?.done ?? 0) >= p.jobCount;
}

const NOTEWORTHY: readonly JobStatus[] = ['recovering', 'awaiting_fix', 'failed', 'cancelled', 'complete'];

/** Every job of a pack, page after page (bounded by the pack's size). */
export async function allJobs(client: ApiClient, packId: string, jobCount: number, status?: JobStatus): Promise<JobSummary[]> {
  const jobs: JobSummary[] = [];
  let cursor: string | undefined;
  const maxPages = Math.ceil(Math.max(1, jobCount) / PAGE.max) + 1;
  for (let page = 0; page < maxPages; page++) {
    const res = await client.call('listPackJobs', { params: { id: packId }, query: { limit: PAGE.max, cursor, status } });
    jobs.push(...res.items);
    cursor = res.nextCursor;
    if (cursor === undefined) break;
  }
  return jobs;
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const transient = (e: unknown) => e instanceof NoAnswerError || e instanceof UnreachableError || (e instanceof ApiRefusal && (e.status >= 500 || e.status === 429));

export async function watchPack(client: ApiClient, packId: string, o: WatchOptions): Promise<WatchResult> {
  const interval = o.intervalMs ?? 1000;
  const deadline = Date.now() + (o.maxWaitMs ?? 3_600_000);
  const perPoll = o.detailsPerPoll ?? 25;
  /** The summary a job had when its record was last read. */
  const readAt = new Map<string, string>();
  /** Outcomes of each job's ledger entries as last printed. */
  const printed = new Map<string, string[]>();
  let pollFailures = 0;
  const tally = () => {
    let failures = 0;
    let recovered = 0;
    for (const outcomes of printed.values()) {
      failures += outcomes.length;
      recovered += outcomes.filter((x) => x === 'recovered').length;
    }
    return { failures, recovered };
  };

  const signature = (j: JobSummary) => `${j.status}|${j.updatedAt}|${j.recoveriesUsed}|${j.runs}`;
  const wantsRead = (j: JobSummary) => readAt.get(j.jobId) !== signature(j) &&
    (NOTEWORTHY.includes(j.status) || j.recoveriesUsed > 0 || j.error !== undefined);

  const report = (job: JobView) => {
    const before = printed.get(job.jobId) ?? [];
    job.recoveries.forEach((r, i) => {
      const was = before[i];
      if (was === undefined) {
        o.display.log(recoveryLine(job.jobId, r));
      } else if (was !== r.outcome && r.outcome !== 'pending') {
        const took = r.resolvedAt === undefined ? '' : ` in ${formatMs(Date.parse(r.resolvedAt) - Date.parse(r.at))}`;
        o.display.log(`${r.outcome === 'recovered' ? '✓' : '✗'} ${job.jobId.slice(0, 8)}  ${r.error} ${r.outcome}${took}`);
      }
    });
    printed.set(job.jobId, job.recoveries.map((r) => r.outcome));
  };

  const readDetails = async (jobs: readonly JobSummary[]) => {
    const todo = jobs.filter(wantsRead).slice(0, perPoll);
    await eachLimited(todo, 4, async (j) => {
      report(await client.call('getJob', { params: { id: j.jobId } }));
      readAt.set(j.jobId, signature(j));
    });
    return todo.length;
  };

  const onSigint = () => {
    o.display.stop();
    process.stderr.write(`\nstopped watching; the pack goes on. Resume with: vto packs watch ${packId}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      let pack: PackView;
      try {
        pack = await client.call('getPack', { params: { id: packId } });
        const jobs = await allJobs(client, packId, pack.jobCount);
        await readDetails(jobs);
        pollFailures = 0;
        const ended = packEnded(pack);
        if (ended) {
          // Catch up with every recovery not yet printed, a bounded batch at a time.
          for (let round = 0; round < Math.ceil(jobs.length / perPoll) + 1; round++) {
            if ((await readDetails(jobs)) === 0) break;
          }
        }
        o.display.update({ pack, ...tally() });
        if (ended) return { pack, ended: true, ...tally() };
      } catch (e) {
        if (!transient(e) || ++pollFailures >= (o.pollFailures ?? 3)) throw e;
        o.display.log(`(poll failed, trying again: ${(e as Error).message.split('\n')[0]})`);
        await new Promise((r) => setTimeout(r, interval));
        continue;
      }
      if (Date.now() > deadline) return { pack, ended: false, ...tally() };
      await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    o.display.stop();
  }
}
