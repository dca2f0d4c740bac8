/**
 * Figures of the fleet benchmark (bench/fleet.ts) from what one run observed: each GPU host's
 * launch and end, its ComfyUI prompt log (warm-up and job prompts), and each job's end.
 * Pure, so the billing arithmetic is tested on made-up runs (test/bench/fleet-figures.test.ts).
 *
 * A host bills from its launch to its end (cold start included), clipped to the run's window.
 * Its billed time splits into cold start (launch → warm-up prompt start, or → first prompt),
 * warm-up (the warm-up prompt), jobs (job prompts running) and idle (the rest). "Needed" is
 * the GPU time the job prompts ran. All durations are pipeline seconds (real / timeScale).
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

export interface FleetFigures {
  readonly jobs: number;
  readonly complete: number;
  /** Pipeline seconds from the first submission to the first / last job ended. */
  readonly firstResultSeconds: number | null;
  readonly lastResultSeconds: number | null;
  readonly hostsStarted: number;
  readonly peakHosts: number;
  readonly billed: { readonly total: number; readonly coldStart: number; readonly warmup: number; readonly jobs: number; readonly idle: number };
  readonly neededSeconds: number;
  /** billed / needed over the whole window (cold start and scale-in tail included). */
  readonly billedOverNeeded: number | null;
  /** billed / needed while the fleet was at its peak size and every host ready (the steady load). */
  readonly steadyBilledOverNeeded: number | null;
  /** Per 1,000 complete jobs: GPU-hours billed and needed, and their cost at INSTANCE. */
  readonly per1000: { readonly billedHours: number; readonly neededHours: number; readonly billedUsd: number; readonly neededUsd: number } | null;
}

const overlap = (a0: number, a1: number, b0: number, b1: number) => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

export function fleetFigures(run: FleetRun): FleetFigures {
  const s = (ms: number) => ms / 1000 / run.timeScale;
  const { startAt, endAt } = run;
  const ran = (p: FleetPrompt) => p.startedAt !== null;
  const endOf = (p: FleetPrompt) => p.endedAt ?? endAt;
  let coldStart = 0, warmup = 0, jobs = 0, total = 0, needed = 0;
  for (const h of run.hosts) {
    const from = Math.max(h.launchedAt, startAt);
    const to = Math.min(h.endedAt ?? endAt, endAt);
    if (to <= from) continue;
    total += to - from;
    const first = h.prompts.filter(ran).map((p) => p.startedAt!).sort((a, b) => a - b)[0] ?? to;
    coldStart += overlap(h.launchedAt, first, from, to);
    for (const p of h.prompts.filter(ran)) {
      const o = overlap(p.startedAt!, endOf(p), from, to);
      if (p.warmup) warmup += o;
      else { jobs += o; needed += o; }
    }
  }
  const idle = Math.max(0, total - coldStart - warmup - jobs);

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
  let steady: number | null = null;
  if (readies.length > 0 && readies.every((r) => r !== null)) {
    const w0 = Math.max(...(readies as number[]));
    const w1 = lastJobStart;
    if (w1 > w0) {
      let billedW = 0, neededW = 0;
      for (const h of run.hosts) {
        billedW += overlap(h.launchedAt, h.endedAt ?? endAt, w0, w1);
        for (const p of h.prompts.filter((x) => !x.warmup && ran(x))) neededW += overlap(p.startedAt!, endOf(p), w0, w1);
      }
      steady = neededW > 0 ? round(billedW / neededW, 3) : null;
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
    billed: { total: round(s(total), 1), coldStart: round(s(coldStart), 1), warmup: round(s(warmup), 1), jobs: round(s(jobs), 1), idle: round(s(idle), 1) },
    neededSeconds: round(s(needed), 1),
    billedOverNeeded: needed > 0 ? round(total / needed, 3) : null,
    steadyBilledOverNeeded: steady,
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
    ['GPU-s the jobs needed', (f) => v(f.neededSeconds)],
    ['billed / needed (run)', (f) => v(f.billedOverNeeded, '×')],
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
