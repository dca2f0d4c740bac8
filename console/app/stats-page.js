/* global window, CustomEvent */
/**
 * Statistics and health: recovery rate over time, errors per taxonomy name and per
 * strategy, time to recover; GPU queue depth, circuit breakers, stuck jobs, dependency
 * checks; and the emergency stop and resume, each confirmed with what it does.
 */
import { runAction } from './action.js';
import { api } from './api.js';
import { hourlyRecoveryChart, stackedBars } from './charts.js';
import { actionButton, h, setDisabled, setText, uid } from './dom.js';
import { formatDateTime, formatDuration, formatPercent, plural } from './format.js';
import { errorNotice, messageSlot, successNotice } from './notice.js';
import { card } from './parts.js';
import { poll } from './poller.js';
import { strategyLabel } from './strategies.js';

const WINDOWS = [['24', 'Last 24 hours'], ['72', 'Last 3 days'], ['168', 'Last 7 days'], ['720', 'Last 30 days']];

function tile(label, value, note, tone) {
  return h('div', { class: ['tile', tone] }, h('p', { class: 'tile-label' }, label), h('p', { class: 'tile-value' }, value), note ? h('p', { class: 'tile-note' }, note) : null);
}

export function renderStats(main, _params, ctx) {
  ctx.setTitle('Statistics & health');
  const healthMsg = messageSlot();
  const statsMsg = messageSlot();
  const controlMsg = messageSlot();
  const healthTiles = h('div', { class: 'tiles' });
  const stopState = h('div', { class: 'stop-state' });
  const stopBtn = actionButton('Emergency stop…', () => void emergencyStop(), 'btn btn-danger');
  const resumeBtn = actionButton('Resume…', () => void resume(), 'btn btn-primary');
  const deps = h('div');
  const queue = h('div');
  const breakers = h('div');
  const stuck = h('div');
  const statTiles = h('div', { class: 'tiles' });
  const hourly = h('div');
  const byError = h('div');
  const byStrategy = h('div');
  const windowId = uid('window');
  const windowSel = h('select', { id: windowId, on: { change: () => statsPoller.now() } }, WINDOWS.map(([v, l]) => h('option', { value: v }, l)));
  const checked = h('span', { class: 'live' }, 'loading…');
  let health;

  main.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Statistics & health'),
      h('p', { class: 'lead' }, 'How the pipeline recovers from its failures, and the state of what it depends on.'),
      h('div', { class: 'page-meta' }, checked)),
    healthMsg.el,
    h('div', { class: 'health-grid' },
      card('Health', healthTiles, deps),
      card('Emergency stop', stopState, h('div', { class: 'tool-row' }, stopBtn, resumeBtn), controlMsg.el)),
    h('div', { class: 'health-grid three' },
      card('GPU queue', queue),
      card('Circuit breakers', breakers),
      card('Stuck jobs', stuck)),
    h('div', { class: 'section-head' },
      h('h2', { class: 'section-title' }, 'Recoveries'),
      h('label', { for: windowId, class: 'inline-label' }, 'Window'), windowSel),
    statsMsg.el,
    statTiles,
    card('Recovery rate over time', hourly),
    h('div', { class: 'two-col' },
      card('Errors per taxonomy name', byError),
      card('Errors per strategy', byStrategy)));

  function renderHealth(hl) {
    health = hl;
    healthTiles.replaceChildren(
      tile('Status', hl.status, `score ${hl.score} / 100`, `tone-${hl.status}`),
      tile('Emergency stop', hl.emergencyStopped ? 'active' : 'off', hl.emergencyStopped && hl.emergencyStop?.since ? `since ${formatDateTime(hl.emergencyStop.since)}` : null, hl.emergencyStopped ? 'tone-down' : 'tone-ok'),
      tile('Dead-letter queue', hl.queues.deadLetter ? String(hl.queues.deadLetter.visible) : '—', 'messages', hl.queues.deadLetter?.visible > 0 ? 'tone-degraded' : ''));
    deps.replaceChildren(h('table', { class: 'data' },
      h('caption', { class: 'sr-only' }, 'Dependency checks'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Dependency'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col', class: 'num' }, 'Latency'), h('th', { scope: 'col' }, 'Detail'))),
      h('tbody', null, hl.dependencies.map((d) => h('tr', null,
        h('th', { scope: 'row' }, d.name),
        h('td', null, h('span', { class: ['badge', d.ok ? 'st-complete' : 'st-failed'] }, d.ok ? 'ok' : 'failing')),
        h('td', { class: 'num' }, `${d.latencyMs} ms`),
        h('td', { class: 'small' }, d.detail ?? ''))))));
    const gpu = hl.queues.gpu;
    queue.replaceChildren(gpu
      ? h('div', { class: 'tiles compact' },
        tile('Waiting', String(gpu.visible), 'visible messages', gpu.visible > 0 ? 'tone-degraded' : ''),
        tile('Being worked', String(gpu.inFlight), 'in flight'),
        tile('Delayed', String(gpu.delayed), 'not yet visible'))
      : h('p', { class: 'muted' }, 'No GPU queue depth: the queue check failed or is not configured.'));
    const bs = Array.isArray(hl.circuitBreakers) ? hl.circuitBreakers : [];
    breakers.replaceChildren(bs.length === 0
      ? h('p', { class: 'muted' }, 'No breaker data.')
      : h('table', { class: 'data' },
        h('caption', { class: 'sr-only' }, 'Circuit breakers'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Dependency'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col', class: 'num' }, 'Failures'), h('th', { scope: 'col' }, 'Opened'))),
        h('tbody', null, bs.map((b) => h('tr', null,
          h('th', { scope: 'row' }, b.dependency),
          h('td', null, h('span', { class: ['badge', b.state === 'closed' ? 'st-complete' : b.state === 'open' ? 'st-failed' : 'st-recovering'] }, b.state.replace('_', '-'))),
          h('td', { class: 'num' }, b.failures === undefined ? '—' : String(b.failures)),
          h('td', null, b.openedAt ? formatDateTime(b.openedAt) : '—'))))));
    const byStatus = Object.entries(hl.stuckJobs.byStatus ?? {});
    stuck.replaceChildren(
      h('p', { class: 'big-number' }, String(hl.stuckJobs.count)),
      h('p', { class: 'muted' }, `jobs not moved for more than ${formatDuration(hl.stuckJobs.thresholdSeconds * 1000)}`),
      ...(byStatus.length > 0 ? [h('ul', { class: 'plain' }, byStatus.map(([st, n]) => h('li', null, `${n} ${st}`)))] : []));
    setDisabled(stopBtn, hl.emergencyStopped);
    setDisabled(resumeBtn, !hl.emergencyStopped);
    // The header shows the stop too: tell it now rather than at its next poll.
    window.dispatchEvent(new CustomEvent('vto:health', { detail: hl }));
    stopState.replaceChildren(hl.emergencyStopped
      ? h('p', { class: 'stop-on' }, h('strong', null, 'Stopped'), hl.emergencyStop?.since ? ` since ${formatDateTime(hl.emergencyStop.since)}` : '', hl.emergencyStop?.reason ? ` — ${hl.emergencyStop.reason}` : '', '. Executions are stopped, GPU consumption is paused, new work is refused.')
      : h('p', null, h('strong', null, 'Running normally.'), ' The emergency stop halts every running execution at once and pauses the GPU workers; nothing is lost.'));
  }

  function renderStatistics(st) {
    const tone = st.recoveryRate === null ? '' : st.recoveryRate >= 0.99 ? 'tone-ok' : st.recoveryRate >= 0.8 ? 'tone-degraded' : 'tone-down';
    statTiles.replaceChildren(
      tile('Errors', String(st.errors), `${formatDateTime(st.since)} – now`),
      tile('Recovered', String(st.recoveries), null, 'tone-ok'),
      tile('Failed', String(st.failures), null, st.failures > 0 ? 'tone-down' : ''),
      tile('Recovery rate', formatPercent(st.recoveryRate, 1), 'recovered ÷ (recovered + failed)', tone),
      tile('Time to recover, p50', formatDuration(st.timeToRecoverMs.p50), `${plural(st.timeToRecoverMs.count, 'recovery', 'recoveries')}`),
      tile('Time to recover, p95', formatDuration(st.timeToRecoverMs.p95)),
      ...(st.deferredReruns ? [tile('Deferred re-runs', String(st.deferredReruns.started),
        `failed jobs run again once their cause passed: ${st.deferredReruns.recovered} recovered, ${st.deferredReruns.failed} failed`)] : []));
    hourly.replaceChildren(hourlyRecoveryChart(st.series, hourly.clientWidth,
      `Recoveries per hour: ${st.recoveries} recovered, ${st.failures} failed; recovery rate ${formatPercent(st.recoveryRate, 1)}.`));
    byError.replaceChildren(stackedBars(
      st.byError.map((e) => ({ ...e, name: e.error })),
      { width: byError.clientWidth, nameHeader: 'Error name', summaryText: `Errors per taxonomy name: ${st.byError.map((e) => `${e.error} ${e.errors}`).join(', ') || 'none'}.`, describe: (r) => `${r.recoverable ? 'recoverable' : 'not recoverable'}, strategy ${r.strategy}` }));
    byStrategy.replaceChildren(stackedBars(
      st.byStrategy.map((e) => ({ ...e, name: strategyLabel(e.strategy) })),
      { width: byStrategy.clientWidth, nameHeader: 'Strategy', summaryText: `Errors per strategy: ${st.byStrategy.map((e) => `${e.strategy} ${e.errors}`).join(', ') || 'none'}.` }));
  }

  async function healthTick() {
    try {
      renderHealth(await api('/health'));
      healthMsg.clear();
      setText(checked, `health checked ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      healthMsg.show(errorNotice(e, 'Loading the health report failed'));
    }
    return 5000;
  }

  async function statsTick() {
    const since = new Date(Date.now() - Number(windowSel.value) * 3_600_000).toISOString();
    try {
      renderStatistics(await api(`/statistics?since=${encodeURIComponent(since)}`));
      statsMsg.clear();
    } catch (e) {
      statsMsg.show(errorNotice(e, 'Loading the statistics failed'));
    }
    return 15_000;
  }

  /**
   * The emergency stop and resume: the answer in the card, then the health read again, which
   * also decides which of the two buttons is offered.
   */
  const runControl = (o) => runAction({ slot: controlMsg, keepHeld: true, after: () => healthPoller.now(), ...o });

  function emergencyStop() {
    const reasonId = uid('reason');
    const reason = h('input', { type: 'text', id: reasonId, maxlength: '500', autocomplete: 'off', 'aria-describedby': `${reasonId}-help` });
    return runControl({
      label: 'The emergency stop',
      confirm: {
        title: 'Stop everything now?',
        body: [
          h('p', null, 'The emergency stop:'),
          h('ul', null,
            h('li', null, 'stops every running pack and job execution at once,'),
            h('li', null, 'pauses the GPU workers (they take no new work from the queue),'),
            h('li', null, 'refuses new work (creating, restarting, refining and retrying packs and jobs) until you resume.')),
          h('p', null, 'Nothing is lost: jobs keep their state and checkpoints. Resume puts the unfinished jobs back to pending and starts their packs again.'),
        ],
        fields: [h('label', { for: reasonId }, 'Reason (optional, recorded with the stop)'), reason,
          h('p', { id: `${reasonId}-help`, class: 'radio-help' }, 'For the other operators, e.g. "GPU fleet maintenance".')],
        read: () => ({ reason: reason.value.trim() }),
        confirmLabel: 'Stop everything',
        danger: true,
      },
      hold: (held) => setDisabled(stopBtn, held),
      call: (res) => api('/emergency-stop', { method: 'POST', body: res.reason ? { reason: res.reason } : {} }),
      done: (r) => successNotice(`Emergency stop active: ${plural(r.packsStopped.length, 'pack')} and ${plural(r.executionsStopped, 'execution')} stopped.`),
    });
  }

  function resume() {
    return runControl({
      label: 'Resume',
      confirm: {
        title: 'Resume the pipeline?',
        body: [
          h('p', null, 'Resume clears the emergency stop: the GPU workers take work again and new work is accepted.'),
          h('p', null, 'The unfinished jobs of the packs the stop halted go back to pending and those packs start again; the jobs continue from their checkpoints.'),
          health?.emergencyStop?.reason ? h('p', null, `The stop was: ${health.emergencyStop.reason}`) : null,
        ],
        confirmLabel: 'Resume',
        focus: 'confirm',
      },
      hold: (held) => setDisabled(resumeBtn, held),
      call: () => api('/resume', { method: 'POST', body: {} }),
      done: (r) => successNotice(`Resumed: ${plural(r.packsResumed.length, 'pack')} started again, ${plural(r.jobsResumed, 'job')} back to pending.`,
        r.failures.length > 0 ? ` ${plural(r.failures.length, 'pack')} could not be started: ${r.failures.map((f) => `${f.id} (${f.message})`).join('; ')} — restart them with Restart Incomplete.` : ''),
    });
  }

  const healthPoller = poll(healthTick);
  const statsPoller = poll(statsTick);
  ctx.onCleanup(() => { healthPoller.stop(); statsPoller.stop(); });
}
