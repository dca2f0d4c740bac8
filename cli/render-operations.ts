/** Statistics, health and the emergency stop as the CLI prints them for people. */
import type { SuccessOf } from './api-client.ts';
import { formatMs, formatRatio, formatTime, keyValues, section, table } from './format.ts';

const RIGHT4 = ['left', 'right', 'right', 'right'] as const;

export function renderStats(s: SuccessOf<'getStatistics'>): string {
  const head = keyValues([
    ['window', `${formatTime(s.since)} → ${formatTime(s.until)}`],
    ['errors', s.errors],
    ['recovered', s.recoveries],
    ['failed', s.failures],
    ['recovery rate', formatRatio(s.recoveryRate)],
    ['time to recover', s.timeToRecoverMs.count === 0 ? 'n/a' : `p50 ${formatMs(s.timeToRecoverMs.p50)}, p95 ${formatMs(s.timeToRecoverMs.p95)} (${s.timeToRecoverMs.count} recoveries)`],
    ['deferred re-runs', `${s.deferredReruns.started} started, ${s.deferredReruns.recovered} recovered, ${s.deferredReruns.failed} failed`],
  ]);
  const byError = table(['error', 'recoverable', 'strategy', 'errors', 'recovered', 'failed'],
    s.byError.map((e) => [e.error, e.recoverable ? 'yes' : 'no', e.strategy, e.errors, e.recovered, e.failed]),
    { align: ['left', 'left', 'left', 'right', 'right', 'right'] });
  const byStrategy = table(['strategy', 'errors', 'recovered', 'failed'], s.byStrategy.map((e) => [e.strategy, e.errors, e.recovered, e.failed]), { align: RIGHT4 });
  return head
    + section('\nby error', s.byError.length === 0 ? 'no errors in the window' : byError)
    + (s.byStrategy.length === 0 ? '' : section('\nby strategy', byStrategy));
}

export function renderHealth(h: SuccessOf<'getHealth'>): string {
  const q = h.queues;
  const head = keyValues([
    ['status', `${h.status} (score ${h.score})`],
    ['checked', formatTime(h.checkedAt)],
    ['emergency stop', h.emergencyStopped ? `ON since ${h.emergencyStop === undefined ? '?' : formatTime(h.emergencyStop.since)}${h.emergencyStop?.reason === undefined ? '' : `: ${h.emergencyStop.reason}`}` : 'off'],
    ['gpu queue', q.gpu === null ? 'unknown' : `${q.gpu.visible} waiting, ${q.gpu.inFlight} in flight, ${q.gpu.delayed} delayed`],
    ['dead letters', q.deadLetter === null ? 'unknown' : q.deadLetter.visible],
    ['gpu fleet', h.fleet === null ? 'unknown' : `${h.fleet.workersAlive} worker${h.fleet.workersAlive === 1 ? '' : 's'} alive (${h.fleet.slots} slots)${h.fleet.workersLost > 0 ? `, ${h.fleet.workersLost} LOST: ${h.fleet.workers.filter((w) => w.state === 'lost').map((w) => w.workerId).join(', ')}` : ''}`],
    ['stuck jobs', h.stuckJobs.count === 0 ? `none (threshold ${h.stuckJobs.thresholdSeconds} s)` : `${h.stuckJobs.count}: ${Object.entries(h.stuckJobs.byStatus).map(([s, n]) => `${s} ${n}`).join(', ')}`],
  ]);
  const deps = table(['dependency', 'ok', 'latency', 'detail'], h.dependencies.map((d) => [d.name, d.ok ? 'yes' : 'NO', formatMs(d.latencyMs), d.detail ?? '']),
    { align: ['left', 'left', 'right', 'left'], maxWidth: [undefined, undefined, undefined, 80] });
  const breakers = table(['dependency', 'state', 'failures', 'opened'], h.circuitBreakers.map((b) => [b.dependency, b.state, b.failures ?? '', b.openedAt === undefined ? '' : formatTime(b.openedAt)]),
    { align: ['left', 'left', 'right', 'left'] });
  return head
    + section('\ndependencies', h.dependencies.length === 0 ? 'none checked' : deps)
    + section('\ncircuit breakers', h.circuitBreakers.length === 0 ? 'all closed' : breakers);
}

export function renderStopped(s: SuccessOf<'emergencyStop'>): string {
  return [
    `emergency stop ON since ${formatTime(s.since)}${s.reason === undefined ? '' : `: ${s.reason}`}`,
    keyValues([
      ['packs stopped', s.packsStopped.length === 0 ? 'none were running' : s.packsStopped.join(', ')],
      ['executions stopped', s.executionsStopped],
      ['undo', 'vto resume'],
    ]),
  ].join('\n');
}

export function renderResumed(r: SuccessOf<'resume'>): string {
  const lines = [
    'emergency stop cleared',
    keyValues([
      ['packs resumed', r.packsResumed.length === 0 ? 'none' : r.packsResumed.join(', ')],
      ['jobs resumed', r.jobsResumed],
    ]),
  ];
  if (r.failures.length > 0) {
    lines.push(`\n${r.failures.length} pack(s) could not start again; restart each with \`vto packs restart-incomplete ID\`:`);
    lines.push(table(['pack', 'why'], r.failures.map((f) => [f.id, f.message])));
  }
  return lines.join('\n');
}
