/**
 * Figures of the fleet benchmark (bench/fleet.ts) from what one run observed: each GPU host's
 * launch and end, its ComfyUI prompt log (warm-up and job prompts), and each job's end.
 * Pure, so the billing arithmetic is tested on made-up runs (test/bench/fleet-figures.test.ts).
 *
 * A host bills from its launch to its end (cold start included), clipped to the run's window.
 * Its billed time splits into cold start (launch → warm-up prompt start, or → first prompt),
 * warm-up (the warm-up prompt), jobs (job prompts running) and idle (the rest), and idle splits
 * by where it falls on the host: before its first job (ready, waiting for work), between two of
 * its prompts (the GPU waited for the next message: the queue was empty or the worker was
 * still fetching it), after its last job (waiting for scale-in, or to the window's end when it
 * is part of the warm minimum). "Needed" is the GPU time the job prompts ran. All durations
 * are pipeline seconds (real / timeScale).
 */

/** Assumption: g5.xlarge (1 × A10G 24 GiB) on-demand, us-east-1, Linux, per hour. */
export const INSTANCE = { type: 'g5.xlarge', region: 'us-east-1', usdPerHour: 1.006 } as const;

export interface FleetPrompt {
  readonly warmup: boolean;
  readonly jobId: string | null;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
}

export interface FleetHostRun {
  readonly id: string;
  readonly launchedAt: number;
  /** null: still running when the window closed. */
  readonly endedAt: number | null;
  readonly prompts: readonly FleetPrompt[];
}

export interface FleetRun {
  readonly timeScale: number;
  /** Epoch ms: the first job submitted. */
  readonly startAt: number;
  /** Epoch ms: the fleet back at its minimum after the last job (or the deadline). */
  readonly endAt: number;
  readonly jobs: readonly { readonly endedAt: number | null; readonly status: string }[];
  readonly hosts: readonly FleetHostRun[];
}

/** Billed host time and where it went; idle = beforeFirstJob + betweenJobs + afterLastJob. */
export interface Billed {
  readonly total: number;
  readonly coldStart: number;
  readonly warmup: number;
  readonly jobs: number;
  readonly idle: number;
  readonly idleBeforeFirstJob: number;
  readonly idleBetweenJobs: number;
  readonly idleAfterLastJob: number;
}

export interface FleetFigures {
  readonly jobs: number;
  readonly complete: number;
  /** Pipeline seconds from the first submission to the first / last job ended. */
  readonly firstResultSeconds: number | null;
  readonly lastResultSeconds: number | null;
  readonly hostsStarted: number;
  readonly peakHosts: number;
  readonly billed: Billed;
  readonly neededSeconds: number;
  /** billed / needed over the whole window (cold start and scale-in tail included). */
  readonly billedOverNeeded: number | null;
  /** billed / needed while the fleet was at its peak size and every host ready (the steady load). */
  readonly steadyBilledOverNeeded: number | null;
  /** The steady window itself: from the peak fleet all ready to the last job's start, null when there is none. */
  readonly steady: (Billed & { readonly fromSeconds: number; readonly toSeconds: number; readonly needed: number; readonly meanHosts: number }) | null;
  /** Per 1,000 complete jobs: GPU-hours billed and needed, and their cost at INSTANCE. */
  readonly per1000: { readonly billedHours: number; readonly neededHours: number; readonly billedUsd: number; readonly neededUsd: number } | null;
}

const overlap = (a0: number, a1: number, b0: number, b1: number) => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** Where one host's billed time in [w0, w1] went, in real ms. */
function hostSplit(h: FleetHostRun, w0: number, w1: number, windowEnd: number): Record<keyof Billed, number> {
  const z = { total: 0, coldStart: 0, warmup: 0, jobs: 0, idle: 0, idleBeforeFirstJob: 0, idleBetweenJobs: 0, idleAfterLastJob: 0 };
  const from = Math.max(h.launchedAt, w0);
  const to = Math.min(h.endedAt ?? windowEnd, w1);
  if (to <= from) return z;
  z.total = to - from;
  const ran = h.prompts.filter((p) => p.startedAt !== null)
    .map((p) => ({ warmup: p.warmup, a: p.startedAt!, b: p.endedAt ?? windowEnd }))
    .sort((x, y) => x.a - y.a);
  const first = ran[0]?.a ?? Infinity;
  z.coldStart = overlap(h.launchedAt, Math.min(first, h.endedAt ?? windowEnd), from, to);
  const jobs = ran.filter((p) => !p.warmup);
  const firstJob = jobs[0]?.a ?? Infinity;
  const lastJobEnd = jobs.length === 0 ? -Infinity : Math.max(...jobs.map((p) => p.b));
  // Idle: the gaps after the cold start between prompts, each filed by where it falls.
  const idleGap = (a: number, b: number) => {
    const o = overlap(a, b, from, to);
    if (o <= 0) return;
    z.idle += o;
    if (b <= firstJob) z.idleBeforeFirstJob += o;
    else if (a >= lastJobEnd) z.idleAfterLastJob += o;
    else z.idleBetweenJobs += o;
  };
  let cursor = first;
  for (const p of ran) {
    idleGap(cursor, p.a);
    const o = overlap(p.a, p.b, from, to);
    if (p.warmup) z.warmup += o;
    else z.jobs += o;
    cursor = Math.max(cursor, p.b);
  }
  if (ran.length > 0) idleGap(cursor, h.endedAt ?? windowEnd);
  return z;
}

const sum = (parts: readonly Record<keyof Billed, number>[], k: keyof Billed) => parts.reduce((a, p) => a + p[k], 0);

function billedOf(parts: readonly Record<keyof Billed, number>[], s: (ms: number) => number): Billed {
  const r = (k: keyof Billed) => round(s(sum(parts, k)), 1);
  return {
    total: r('total'), coldStart: r('coldStart'), warmup: r('warmup'), jobs: r('jobs'), idle: r('idle'),
    idleBeforeFirstJob: r('idleBeforeFirstJob'), idleBetweenJobs: r('idleBetweenJobs'), idleAfterLastJob: r('idleAfterLastJob'),
  };
}

export function fleetFigures(run: FleetRun): FleetFigures {
  const s = (ms: number) => ms / 1000 / run.timeScale;
  const { startAt, endAt } = run;
  const ran = (p: FleetPrompt) => p.startedAt !== null;
  const parts = run.hosts.map((h) => hostSplit(h, startAt, endAt, endAt));
  const total = sum(parts, 'total');
  const needed = sum(parts, 'jobs');

  // Steady load: every host of the peak fleet ready (its warm-up ended), until the last job prompt started.
  const events = run.hosts.flatMap((h) => [{ at: h.launchedAt, d: 1 }, ...(h.endedAt === null ? [] : [{ at: h.endedAt, d: -1 }])]).sort((a, b) => a.at - b.at || a.d - b.d);
  let live = 0, peak = 0, peakAt = 0;
  for (const e of events) {
    live += e.d;
    if (live > peak) { peak = live; peakAt = e.at; }
  }
  const readyAt = (h: FleetHostRun) => h.prompts.find((p) => p.warmup)?.endedAt ?? h.prompts.filter(ran).map((p) => p.startedAt!).sort((a, b) => a - b)[0] ?? null;
  const atPeak = run.hosts.filter((h) => h.launchedAt <= peakAt && (h.endedAt === null || h.endedAt > peakAt));
  const lastJobStart = Math.max(...run.hosts.flatMap((h) => h.prompts.filter((p) => !p.warmup && ran(p)).map((p) => p.startedAt!)), -Infinity);
  const readies = atPeak.map(readyAt);
  let steady: FleetFigures['steady'] = null;
  let steadyRatio: number | null = null;
  if (readies.length > 0 && readies.every((r) => r !== null)) {
    const w0 = Math.max(...(readies as number[]));
    const w1 = lastJobStart;
    const inWindow = run.hosts.map((h) => hostSplit(h, w0, w1, endAt));
    const neededW = sum(inWindow, 'jobs');
    if (w1 > w0 && neededW > 0) {
      steady = {
        ...billedOf(inWindow, s), fromSeconds: round(s(w0 - startAt), 1), toSeconds: round(s(w1 - startAt), 1),
        needed: round(s(neededW), 1), meanHosts: round(sum(inWindow, 'total') / (w1 - w0), 2),
      };
      steadyRatio = round(sum(inWindow, 'total') / neededW, 3);
    }
  }

  const ends = run.jobs.map((j) => j.endedAt).filter((e): e is number => e !== null).sort((a, b) => a - b);
  const complete = run.jobs.filter((j) => j.status === 'complete').length;
  const hours = (ms: number) => s(ms) / 3600;
  return {
    jobs: run.jobs.length,
    complete,
    firstResultSeconds: ends.length === 0 ? null : round(s(ends[0]! - startAt), 1),
    lastResultSeconds: ends.length === 0 ? null : round(s(ends.at(-1)! - startAt), 1),
    hostsStarted: run.hosts.length,
    peakHosts: peak,
    billed: billedOf(parts, s),
    neededSeconds: round(s(needed), 1),
    billedOverNeeded: needed > 0 ? round(total / needed, 3) : null,
    steadyBilledOverNeeded: steadyRatio,
    steady,
    per1000: complete === 0 ? null : {
      billedHours: round((hours(total) * 1000) / complete, 3),
      neededHours: round((hours(needed) * 1000) / complete, 3),
      billedUsd: round((hours(total) * 1000 * INSTANCE.usdPerHour) / complete, 2),
      neededUsd: round((hours(needed) * 1000 * INSTANCE.usdPerHour) / complete, 2),
    },
  };
}

export function formatFleet(title: string, rows: readonly { label: string; f: FleetFigures }[]): string {
  const v = (n: number | null | undefined, unit = '') => (n === null || n === undefined ? '—' : `${n}${unit}`);
  const lines: [string, (f: FleetFigures) => string][] = [
    ['jobs complete', (f) => `${f.complete}/${f.jobs}`],
    ['first result (s)', (f) => v(f.firstResultSeconds)],
    ['last result (s)', (f) => v(f.lastResultSeconds)],
    ['hosts started / peak', (f) => `${f.hostsStarted} / ${f.peakHosts}`],
    ['GPU-s billed', (f) => v(f.billed.total)],
    ['  cold start', (f) => v(f.billed.coldStart)],
    ['  warm-up', (f) => v(f.billed.warmup)],
    ['  jobs', (f) => v(f.billed.jobs)],
    ['  idle', (f) => v(f.billed.idle)],
    ['    before a host\'s first job', (f) => v(f.billed.idleBeforeFirstJob)],
    ['    between jobs', (f) => v(f.billed.idleBetweenJobs)],
    ['    after a host\'s last job', (f) => v(f.billed.idleAfterLastJob)],
    ['GPU-s the jobs needed', (f) => v(f.neededSeconds)],
    ['billed / needed (run)', (f) => v(f.billedOverNeeded, '×')],
    ['steady window (s from first submission)', (f) => (f.steady === null ? '—' : `${f.steady.fromSeconds}–${f.steady.toSeconds}`)],
    ['  mean hosts', (f) => v(f.steady?.meanHosts)],
    ['  GPU-s billed', (f) => v(f.steady?.total)],
    ['    cold start + warm-up', (f) => v(f.steady === null ? null : round(f.steady.coldStart + f.steady.warmup, 1))],
    ['    jobs (needed)', (f) => v(f.steady?.jobs)],
    ['    idle between jobs', (f) => v(f.steady?.idleBetweenJobs)],
    ['    idle before first / after last job', (f) => v(f.steady === null ? null : round(f.steady.idleBeforeFirstJob + f.steady.idleAfterLastJob, 1))],
    ['billed / needed (steady load)', (f) => v(f.steadyBilledOverNeeded, '×')],
    ['per 1,000 jobs: GPU-h billed', (f) => v(f.per1000?.billedHours)],
    ['per 1,000 jobs: GPU-h needed', (f) => v(f.per1000?.neededHours)],
    [`per 1,000 jobs: $ billed (${INSTANCE.type} $${INSTANCE.usdPerHour}/h)`, (f) => v(f.per1000?.billedUsd)],
    ['per 1,000 jobs: $ needed', (f) => v(f.per1000?.neededUsd)],
  ];
  const width = Math.max(...lines.map(([l]) => l.length));
  const col = Math.max(14, ...rows.map((r) => r.label.length + 2));
  const head = `${''.padEnd(width)}  ${rows.map((r) => r.label.padStart(col)).join('')}`;
  return [title, '', head, ...lines.map(([l, fn]) => `${l.padEnd(width)}  ${rows.map((r) => fn(r.f).padStart(col)).join('')}`)].join('\n');
}
