/** GET /statistics: recovery events of the window's hour buckets, summarized. */
import { DEFAULT_STATISTICS_HOURS, MAX_STATISTICS_HOURS, hourBuckets, summarize, type StatisticsEvent } from '../../core/statistics.ts';
import { badRequest } from './errors.ts';
import { mapLimit } from './map-limit.ts';
import type { Operation } from './operation.ts';
import { eventsOfBucket } from './store.ts';

const HOUR_MS = 3_600_000;
/** Hour buckets queried side by side. */
const BUCKET_CONCURRENCY = 16;

const isEvent = (x: Record<string, unknown>): x is Record<string, unknown> & StatisticsEvent =>
  (x['kind'] === 'error' || x['kind'] === 'recovered' || x['kind'] === 'failed' || x['kind'] === 'rerun')
  && typeof x['at'] === 'string' && typeof x['error'] === 'string' && typeof x['strategy'] === 'string';

export const getStatistics: Operation<'getStatistics'> = async (req) => {
  const until = new Date();
  const since = req.query.since === undefined ? new Date(until.getTime() - DEFAULT_STATISTICS_HOURS * HOUR_MS) : new Date(req.query.since);
  if (since.getTime() > until.getTime()) throw badRequest('The window starts in the future', [{ path: 'query.since', message: 'must not be in the future' }]);
  if (until.getTime() - since.getTime() > MAX_STATISTICS_HOURS * HOUR_MS) {
    throw badRequest('The window is too long', [{ path: 'query.since', message: `must be at most ${MAX_STATISTICS_HOURS / 24} days ago` }]);
  }
  const buckets = hourBuckets(since, until);
  // The first bucket starts before `since`: its sort keys (ISO time first) are read from `since` on.
  const pages = await mapLimit(buckets, BUCKET_CONCURRENCY, (b, i) => eventsOfBucket(b, i === 0 ? since.toISOString() : undefined));
  const events = pages.flat().filter(isEvent);
  return { status: 200, body: summarize(events, since, until) };
};
