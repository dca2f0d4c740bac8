/**
 * A job's recovery path: every failure it met, the taxonomy's name for it, the strategy
 * taken and how it ended, in time order between the job's start and its current state.
 * An ordered list carries the content; a strip above it draws the same on a time axis.
 */
import { h, s } from './dom.js';
import { formatDateTime, formatDuration, formatTime } from './format.js';
import { badge, statusLabel, TERMINAL_JOB } from './status.js';
import { strategyLabel } from './strategies.js';

const ms = (iso) => new Date(iso).getTime();

function strip(job, now) {
  const start = ms(job.createdAt);
  const end = Math.max(TERMINAL_JOB.includes(job.status) ? ms(job.updatedAt) : now, ...job.recoveries.map((r) => ms(r.resolvedAt ?? r.at)), start + 1);
  const W = 1000;
  const x = (t) => 10 + ((t - start) / (end - start)) * (W - 20);
  const items = job.recoveries.map((r) => {
    const from = x(ms(r.at));
    const to = x(r.resolvedAt ? ms(r.resolvedAt) : (r.outcome === 'pending' ? now : ms(r.at)));
    return s('g', { class: `tl-strip-item outcome-${r.outcome}` },
      s('rect', { x: from, y: 14, width: Math.max(4, to - from), height: 12, rx: 3 }),
      s('circle', { cx: from, cy: 20, r: 6 }),
      s('title', null, `${r.error} → ${r.strategy}: ${r.outcome}`));
  });
  return s('svg', { class: 'tl-strip', viewBox: `0 0 ${W} 48`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' },
    s('line', { x1: 10, x2: W - 10, y1: 20, y2: 20, class: 'tl-axis' }),
    s('circle', { cx: 10, cy: 20, r: 5, class: 'tl-start-dot' }),
    s('circle', { cx: W - 10, cy: 20, r: 5, class: `tl-end-dot st-dot-${job.status}` }),
    s('text', { x: 10, y: 44, class: 'tl-label' }, formatTime(job.createdAt)),
    s('text', { x: W - 10, y: 44, class: 'tl-label', 'text-anchor': 'end' }, TERMINAL_JOB.includes(job.status) ? formatTime(job.updatedAt) : 'now'),
    ...items);
}

export function recoveryTimeline(job, taxonomy, now = Date.now()) {
  const start = ms(job.createdAt);
  const offset = (iso) => `+${formatDuration(ms(iso) - start)}`;
  const entries = job.recoveries.map((r, i) => {
    const t = taxonomy[r.error];
    const bound = t?.maxAttempts ? ` of ${t.maxAttempts}` : '';
    const took = r.resolvedAt ? formatDuration(ms(r.resolvedAt) - ms(r.at)) : undefined;
    return h('li', { class: ['tl-item', `outcome-${r.outcome}`], dataset: { error: r.error, strategy: r.strategy } },
      h('span', { class: 'tl-marker', 'aria-hidden': 'true' }),
      h('div', { class: 'tl-time' },
        h('time', { datetime: r.at, title: formatDateTime(r.at) }, formatTime(r.at)),
        h('span', { class: 'muted' }, offset(r.at))),
      h('div', { class: 'tl-body' },
        h('p', { class: 'tl-title' },
          h('span', { class: 'sr-only' }, `Failure ${i + 1}: `),
          h('code', { class: 'err-name' }, r.error),
          r.stage ? ` in ${r.stage}` : '', r.fn === 'AutoRecovery' ? ' · the job failed on it; the watchdog ran it again later' : ` · met by ${r.fn === 'GPU' ? 'the GPU worker' : r.fn}`),
        t ? h('p', { class: 'tl-desc' }, `${t.description} Family ${t.family}; ${t.recoverable ? 'recoverable' : 'not recoverable'}.`) : h('p', { class: 'tl-desc' }, 'Not in the taxonomy.'),
        h('p', { class: 'tl-strategy' },
          'Strategy ', h('strong', null, strategyLabel(r.strategy)), ' ', h('code', null, r.strategy),
          ` · attempt ${r.attempt}${bound}`),
        r.detail ? h('p', { class: 'tl-detail' }, r.fn === 'AutoRecovery' ? 'Deferred: ' : 'Changed: ', h('span', { class: 'mono' }, r.detail)) : null,
        h('p', { class: 'tl-outcome' }, 'Outcome: ', badge(r.outcome === 'pending' ? 'recovering' : r.outcome === 'recovered' ? 'recovered' : 'failed'),
          took ? ` after ${took}` : r.outcome === 'pending' ? ' (in progress)' : ''),
        r.cause ? h('details', { class: 'cause-box' }, h('summary', null, 'Cause as reported'), h('pre', { class: 'cause' }, r.cause)) : null));
  });
  const terminal = TERMINAL_JOB.includes(job.status);
  const endText = job.status === 'complete' ? 'Job complete'
    : job.status === 'failed' ? `Job failed${job.error ? ` with ${job.error.name}` : ''}`
      : `Now ${statusLabel(job.status)}`;
  return h('div', { class: 'timeline-wrap' },
    strip(job, now),
    h('ol', { class: 'timeline', 'aria-label': 'Recovery path' },
      h('li', { class: 'tl-item tl-start' },
        h('span', { class: 'tl-marker', 'aria-hidden': 'true' }),
        h('div', { class: 'tl-time' }, h('time', { datetime: job.createdAt, title: formatDateTime(job.createdAt) }, formatTime(job.createdAt))),
        h('div', { class: 'tl-body' }, h('p', { class: 'tl-title' }, 'Job created'))),
      ...entries,
      job.recoveries.length === 0 ? h('li', { class: 'tl-item tl-none' },
        h('span', { class: 'tl-marker', 'aria-hidden': 'true' }), h('div', { class: 'tl-time' }),
        h('div', { class: 'tl-body' }, h('p', { class: 'muted' }, 'No failure met: no recovery was needed.'))) : null,
      h('li', { class: ['tl-item', 'tl-end', `end-${job.status}`] },
        h('span', { class: 'tl-marker', 'aria-hidden': 'true' }),
        h('div', { class: 'tl-time' }, terminal
          ? [h('time', { datetime: job.updatedAt, title: formatDateTime(job.updatedAt) }, formatTime(job.updatedAt)), h('span', { class: 'muted' }, offset(job.updatedAt))]
          : h('span', { class: 'muted' }, 'now')),
        h('div', { class: 'tl-body' }, h('p', { class: 'tl-title' }, endText)))));
}
