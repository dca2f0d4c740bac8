/**
 * Recovery statistics from recovery events (adapters/ledger.ts writes them into
 * hour buckets): what failed, what recovered, how fast, and an hourly series for charts.
 * Pure: the API reads the buckets and hands the events here.
 */
import { percentile } from './percentile.ts';
import { entryFor } from './taxonomy.ts';

export interface StatisticsEvent {
  /** 'rerun': a deferred re-run of a failed job (core/deferred-recovery.ts) started or ended, per `outcome`. */
  readonly kind: 'error' | 'recovered' | 'failed' | 'rerun';
  readonly at: string;
  readonly error: string;
  readonly strategy: string;
  readonly timeToRecoverMs?: number;
  readonly outcome?: 'started' | 'recovered' | 'failed';
}

/** The longest window statistics read: 31 days of hour buckets, 744 partitions. */
export const MAX_STATISTICS_HOURS = 31 * 24;
export const DEFAULT_STATISTICS_HOURS = 24;

const HOUR_MS = 3_600_000;

/** The hour bucket of an instant, as the events table keys it: "2026-11-25T07". */
export const hourBucket = (at: Date | string): string => (typeof at === 'string' ? new Date(at) : at).toISOString().slice(0, 13);

/** Every hour bucket from the one holding `since` to the one holding `until`, oldest first. */
export function hourBuckets(since: Date, until: Date): string[] {
  if (since.getTime() > until.getTime()) return [];
  const out: string[] = [];
  const start = Math.floor(since.getTime() / HOUR_MS) * HOUR_MS;
  for (let t = start; t <= until.getTime(); t += HOUR_MS) out.push(hourBucket(new Date(t)));
  return out;
}

export interface Tally { errors: number; recovered: number; failed: number }

export interface Statistics {
  since: string;
  until: string;
  /** Failures met (each failure a job met, whatever came of it). */
  errors: number;
  /** Failures the pipeline recovered from. */
  recoveries: number;
  /** Failures that ended their job. */
  failures: number;
  /**
   * recovered ÷ (recovered + failed) over recoverable error names, 0..1; null when no
   * recoverable failure has been resolved in the window.
   */
  recoveryRate: number | null;
  byError: (Tally & { error: string; recoverable: boolean; strategy: string })[];
  byStrategy: (Tally & { strategy: string })[];
  timeToRecoverMs: { count: number; p50: number | null; p95: number | null };
  /** One point per hour of the window, zeros included, oldest first. */
  series: (Tally & { hour: string })[];
  /** Deferred re-runs of failed jobs: started, and how those that ended came out. */
  deferredReruns: { started: number; recovered: number; failed: number };
}

const zero = (): Tally => ({ errors: 0, recovered: 0, failed: 0 });

function count(t: Tally, kind: Exclude<StatisticsEvent['kind'], 'rerun'>): void {
  if (kind === 'error') t.errors++;
  else if (kind === 'recovered') t.recovered++;
  else t.failed++;
}

const byVolume = <T extends Tally>(a: T & { key: string }, b: T & { key: string }) =>
  b.errors + b.recovered + b.failed - (a.errors + a.recovered + a.failed) || a.key.localeCompare(b.key);

/** Summarizes the events that fall in [since, until]; others are ignored. */
export function summarize(events: readonly StatisticsEvent[], since: Date, until: Date): Statistics {
  const series = new Map(hourBuckets(since, until).map((h) => [h, zero()]));
  const errors = new Map<string, Tally>();
  const strategies = new Map<string, Tally>();
  const ttr: number[] = [];
  const total = zero();
  let recoverableRecovered = 0;
  let recoverableFailed = 0;
  const deferredReruns = { started: 0, recovered: 0, failed: 0 };
  for (const e of events) {
    const t = Date.parse(e.at);
    if (!(t >= since.getTime() && t <= until.getTime())) continue;
    if (e.kind === 'rerun') {
      // The re-run's own ledger entry is resolved like any other; these only count re-runs.
      if (e.outcome !== undefined) deferredReruns[e.outcome]++;
      continue;
    }
    count(total, e.kind);
    const point = series.get(hourBucket(e.at));
    if (point) count(point, e.kind);
    count(errors.get(e.error) ?? errors.set(e.error, zero()).get(e.error)!, e.kind);
    count(strategies.get(e.strategy) ?? strategies.set(e.strategy, zero()).get(e.strategy)!, e.kind);
    if (e.kind === 'recovered' && typeof e.timeToRecoverMs === 'number' && e.timeToRecoverMs >= 0) ttr.push(e.timeToRecoverMs);
    if (entryFor(e.error).recoverable) {
      if (e.kind === 'recovered') recoverableRecovered++;
      if (e.kind === 'failed') recoverableFailed++;
    }
  }
  const resolved = recoverableRecovered + recoverableFailed;
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    errors: total.errors,
    recoveries: total.recovered,
    failures: total.failed,
    recoveryRate: resolved === 0 ? null : Math.round((recoverableRecovered / resolved) * 10_000) / 10_000,
    byError: [...errors].map(([error, t]) => ({ key: error, error, ...entryOf(error), ...t })).sort(byVolume).map(({ key: _k, ...rest }) => rest),
    byStrategy: [...strategies].map(([strategy, t]) => ({ key: strategy, strategy, ...t })).sort(byVolume).map(({ key: _k, ...rest }) => rest),
    timeToRecoverMs: { count: ttr.length, p50: percentile(ttr, 50), p95: percentile(ttr, 95) },
    series: [...series].map(([hour, t]) => ({ hour, ...t })),
    deferredReruns,
  };
}

function entryOf(error: string): { recoverable: boolean; strategy: string } {
  const e = entryFor(error);
  return { recoverable: e.recoverable, strategy: e.strategy };
}
