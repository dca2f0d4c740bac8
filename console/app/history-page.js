/**
 * An execution's event history, offline: read by the console server from the local Step
 * Functions endpoint (read-only). Deployed, executions open in the AWS console instead.
 */
import { consoleApi } from './api.js';
import { h, setText } from './dom.js';
import { formatDateTime, formatDuration } from './format.js';
import { jobHref } from './links.js';
import { errorNotice, messageSlot } from './notice.js';
import { metaItems } from './parts.js';
import { poll } from './poller.js';

const tone = (type) => (/Failed|TimedOut|Aborted/.test(type) ? 'ev-bad' : /Retried|Caught/.test(type) ? 'ev-warn' : /Succeeded|Exited/.test(type) ? 'ev-ok' : '');

export function renderHistory(main, { executionArn }, ctx) {
  const name = executionArn.split(':').pop() ?? executionArn;
  ctx.setTitle(`Execution ${name}`);
  const msg = messageSlot();
  const head = h('dl', { class: 'meta-grid' });
  const onlyStates = h('input', { type: 'checkbox', id: 'only-states', checked: true, on: { change: () => draw() } });
  const body = h('tbody');
  const count = h('span', { class: 'muted' });
  let data;

  // A job execution is named <jobId>-<run>: link back to the job.
  const jobId = /^([0-9a-f-]{36})-\d+$/.exec(name)?.[1];
  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', null,
      h('li', null, h('a', { href: '#/packs' }, 'Packs')),
      jobId && executionArn.includes(':execution:vto-job') ? h('li', null, h('a', { href: jobHref(jobId) }, 'Job')) : null,
      h('li', null, h('span', { 'aria-current': 'page' }, 'Execution history')))),
    h('div', { class: 'page-head' },
      h('h1', null, 'Execution history'),
      h('p', { class: 'lead' }, 'Events of one Step Functions execution, read from the local Step Functions endpoint (offline; read-only).')),
    msg.el, head,
    h('div', { class: 'card' },
      h('div', { class: 'jobs-head' }, h('h2', { class: 'card-title' }, 'Events'), h('div', { class: 'check inline' }, onlyStates, h('label', { for: 'only-states' }, 'States, failures and retries only')), count),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data history' },
        h('caption', { class: 'sr-only' }, `Events of execution ${name}`),
        h('thead', null, h('tr', null, h('th', { scope: 'col', class: 'num' }, '#'), h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Error / cause'))),
        body))));

  function draw() {
    if (!data) return;
    const start = new Date(data.startDate).getTime();
    const events = onlyStates.checked ? data.events.filter((e) => /StateEntered|Failed|Retried|Caught|TimedOut|Aborted|Execution/.test(e.type)) : data.events;
    setText(count, `${events.length} of ${data.events.length} events${data.truncated ? ' (history truncated)' : ''}`);
    body.replaceChildren(...events.map((e) => h('tr', { class: tone(e.type) },
      h('td', { class: 'num' }, String(e.id)),
      h('td', { title: formatDateTime(e.timestamp) }, `+${formatDuration(new Date(e.timestamp).getTime() - start)}`),
      h('td', null, h('code', null, e.type)),
      h('td', null, e.state ?? ''),
      h('td', { class: 'err-cell' }, e.error ? h('code', null, e.error) : '', e.cause ? h('details', { class: 'cause-box' }, h('summary', null, 'cause'), h('pre', { class: 'cause' }, e.cause)) : ''))));
  }

  async function tick() {
    if (!ctx.config.localHistory) {
      msg.show(errorNotice(new Error('Execution histories are shown here offline only. Deployed, open the execution in the AWS Step Functions console (the link on the job page).'), 'No local history'));
      return 600_000;
    }
    try {
      data = await consoleApi(`/execution-history?executionArn=${encodeURIComponent(executionArn)}`);
      msg.clear();
    } catch (e) {
      msg.show(errorNotice(e, 'Loading the execution history failed'));
      return 8000;
    }
    head.replaceChildren(...metaItems([
      ['Execution', h('code', null, data.name)],
      ['State machine', h('code', null, data.stateMachineArn.split(':').pop())],
      ['Status', h('span', { class: ['badge', `ex-${data.status.toLowerCase()}`] }, data.status)],
      ['Started', formatDateTime(data.startDate)],
      ['Stopped', data.stopDate ? `${formatDateTime(data.stopDate)} (${formatDuration(new Date(data.stopDate) - new Date(data.startDate))})` : 'running'],
      ...(data.error ? [['Error', h('code', null, data.error)]] : []),
    ]));
    draw();
    return data.status === 'RUNNING' ? 2000 : 30_000;
  }

  const poller = poll(tick);
  ctx.onCleanup(() => poller.stop());
}
