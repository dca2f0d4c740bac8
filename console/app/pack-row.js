/* global crypto, document, CSS, URLSearchParams */
/**
 * One pack of the packs page as an accordion item (WAI-ARIA accordion pattern: a heading
 * with a button that expands a region). The header shows name, status, creation time, a
 * progress bar and the counts per job status; the panel holds the pack's details, its
 * tools (Restart Incomplete, Refine Pack, Cancel Pack, Erase Pack), its jobs, filterable by status,
 * and its lifecycle events.
 */
import { api } from './api.js';
import { runAction } from './action.js';
import { actionButton, h, setDisabled, setText, uid } from './dom.js';
import { formatDateTime, formatRelative, plural, shortId } from './format.js';
import { executionLink, jobLink, packHref } from './links.js';
import { errorNotice, messageSlot, successNotice } from './notice.js';
import { packEvents } from './pack-events.js';
import { metaItems } from './parts.js';
import { countChips, progressBar } from './progress.js';
import { CANCELLABLE_PACK, JOB_STATUSES, PROGRESS_ORDER, TERMINAL_JOB, TERMINAL_PACK, badge, statusLabel } from './status.js';

const isRunning = (v) => !TERMINAL_PACK.includes(v.status);
const incompleteOf = (v) => (v.counts ? v.jobCount - (v.counts.complete ?? 0) : undefined);

export function packRow(initial, ctx, hooks) {
  let view = initial;
  const btnId = uid('pack-btn');
  const panelId = uid('pack-panel');

  // ---- header (the accordion button)
  const nameEl = h('span', { class: 'pack-name' });
  const badgeSlot = h('span', { class: 'pack-badge' });
  const createdEl = h('span', { class: 'pack-created' });
  const bar = progressBar();
  const doneEl = h('span', { class: 'pack-done' });
  const chips = countChips();
  const toggle = h('button', {
    type: 'button', class: 'pack-toggle', id: btnId, 'aria-expanded': 'false', 'aria-controls': panelId,
    on: { click: () => setExpanded(toggle.getAttribute('aria-expanded') !== 'true') },
  },
  h('span', { class: 'chev', 'aria-hidden': 'true' }),
  h('span', { class: 'pack-title' }, nameEl, badgeSlot),
  createdEl,
  h('span', { class: 'pack-progress-cell' }, bar.el, doneEl),
  chips.el);

  // ---- panel
  const meta = h('dl', { class: 'meta-grid' });
  const packError = h('div');
  const tools = messageSlot();
  const restartWhy = h('p', { class: 'tool-state', id: uid('restart-why') });
  const restartBtn = actionButton('Restart Incomplete', () => void restartIncomplete());
  restartBtn.setAttribute('aria-describedby', restartWhy.id);
  const refineWhy = h('p', { class: 'tool-state', id: uid('refine-why') });
  const refineBtn = actionButton('Refine Pack…', () => void refinePack());
  refineBtn.setAttribute('aria-describedby', refineWhy.id);
  const cancelWhy = h('p', { class: 'tool-state', id: uid('cancel-why') });
  const cancelBtn = actionButton('Cancel Pack…', () => void cancelPack(), 'btn btn-danger');
  cancelBtn.setAttribute('aria-describedby', cancelWhy.id);
  const eraseWhy = h('p', { class: 'tool-state', id: uid('erase-why') });
  const eraseBtn = actionButton('Erase Pack…', () => void erasePack(), 'btn btn-danger');
  eraseBtn.setAttribute('aria-describedby', eraseWhy.id);

  const filterId = uid('filter');
  const filter = h('select', { id: filterId, on: { change: () => void loadJobs() } });
  const jobsBody = h('tbody');
  const jobsCaption = h('caption', { class: 'sr-only' });
  const jobsMsg = messageSlot();
  const moreBtn = h('button', { type: 'button', class: 'btn btn-small', hidden: true, on: { click: () => void loadJobs({ more: true }) } }, 'Show more jobs');
  let nextCursor;
  /** An action is on its way: the tools wait for its answer. */
  let busy = false;
  let shown = 0;
  let loading = false;
  const events = packEvents(view.packId, ctx.config);

  const panel = h('div', { class: 'pack-panel', id: panelId, role: 'region', 'aria-labelledby': btnId, hidden: true },
    meta,
    packError,
    h('section', { class: 'tools', 'aria-label': 'Pack tools' },
      h('div', { class: 'tool' },
        h('h3', null, 'Restart Incomplete'),
        h('p', { class: 'tool-help' }, 'Every job that is not complete — pending, in progress or failed — goes back to pending and the pack runs again. Complete jobs and finished stages (checkpoints) are kept.'),
        h('div', { class: 'tool-row' }, restartBtn, restartWhy)),
      h('div', { class: 'tool' },
        h('h3', null, 'Refine Pack'),
        h('p', { class: 'tool-help' }, 'Creates a new pack from this one: "successful only" improves the finished images (new seed, more steps); "all completed" also takes the failed jobs for a corrective inpainting pass.'),
        h('div', { class: 'tool-row' }, refineBtn, refineWhy)),
      h('div', { class: 'tool' },
        h('h3', null, 'Cancel Pack'),
        h('p', { class: 'tool-help' }, 'Stops the pack and every unfinished job (GPU prompts are interrupted); they end cancelled. Complete jobs keep their results; finished stages are kept, so Restart Incomplete can run the rest later.'),
        h('div', { class: 'tool-row' }, cancelBtn, cancelWhy)),
      h('div', { class: 'tool' },
        h('h3', null, 'Erase Pack'),
        h('p', { class: 'tool-help' }, 'Deletes the pack for good: its images (uploads and every result, in every stored version), its jobs and its records. Statistics keep counting its recovery events, without ids.'),
        h('div', { class: 'tool-row' }, eraseBtn, eraseWhy))),
    tools.el,
    h('section', { class: 'jobs', 'aria-label': 'Jobs' },
      h('div', { class: 'jobs-head' },
        h('h3', null, 'Jobs'),
        h('label', { for: filterId, class: 'inline-label' }, 'Status'), filter),
      jobsMsg.el,
      h('div', { class: 'table-wrap' },
        h('table', { class: 'data jobs-table' }, jobsCaption,
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Error'),
            h('th', { scope: 'col', class: 'num' }, 'Recoveries'), h('th', { scope: 'col', class: 'num' }, 'Runs'), h('th', { scope: 'col' }, 'Updated'))),
          jobsBody)),
      moreBtn),
    events.el);

  const el = h('section', { class: 'pack', id: `pack-${view.packId}`, dataset: { packId: view.packId } },
    h('h2', { class: 'pack-heading' }, toggle), panel);

  function setExpanded(open, { focus = false } = {}) {
    toggle.setAttribute('aria-expanded', String(open));
    panel.hidden = !open;
    el.classList.toggle('open', open);
    hooks.onExpand(view.packId, open);
    if (open) void refresh();
    if (focus) toggle.focus();
  }

  function renderMeta() {
    const rows = [
      ['Pack id', h('code', null, view.packId)],
      ['Created', `${formatDateTime(view.createdAt)}`],
      ['Updated', `${formatDateTime(view.updatedAt)}`],
      ['Inpaint', view.inpaint === 'hosted' ? 'hosted API' : 'ComfyUI GPU workers'],
      ['Jobs', String(view.jobCount)],
      ['Runs', String(view.runs)],
      ['Execution', executionLink(ctx.config, view)],
    ];
    if (view.webhook) {
      rows.push(['Webhook', h('span', null, h('code', null, view.webhook.url),
        view.webhook.failures > 0 ? ` · ${plural(view.webhook.failures, 'delivery', 'deliveries')} failed (vto packs webhook-failures ${shortId(view.packId)}…)` : ' · no failed delivery')]);
    }
    if (view.sourcePackId) {
      rows.push(['Refined from', h('span', null, h('a', { href: packHref(view.sourcePackId) }, `pack ${shortId(view.sourcePackId)}`), ` (${view.refineScope === 'all_completed' ? 'all completed' : 'successful only'})`)]);
    }
    const sig = JSON.stringify([view.updatedAt, view.runs, view.executionArn, view.status, view.webhook?.failures]);
    if (meta.dataset.sig === sig) return;
    meta.dataset.sig = sig;
    meta.replaceChildren(...metaItems(rows));
    packError.replaceChildren(view.error
      ? h('div', { class: 'notice notice-error' }, h('p', { class: 'notice-title' }, `The pack failed: ${view.error.name}`), h('pre', { class: 'cause' }, view.error.cause))
      : '');
  }

  function renderTools() {
    const running = isRunning(view);
    const incomplete = incompleteOf(view);
    setDisabled(restartBtn, busy || running || incomplete === 0 || incomplete === undefined);
    setText(restartBtn, incomplete ? `Restart Incomplete (${incomplete})` : 'Restart Incomplete');
    setText(restartWhy, running ? 'Available when the pack is not running.'
      : incomplete === undefined ? 'Counts not known yet.'
        : incomplete === 0 ? 'Every job is complete: nothing to restart.'
          : `${plural(incomplete, 'job')} will be reset to pending.`);
    const c = view.counts ?? {};
    const refinable = (c.complete ?? 0) + (c.failed ?? 0);
    setDisabled(refineBtn, busy || running || refinable === 0);
    setText(refineWhy, running ? 'Available when the pack is not running.'
      : refinable === 0 ? 'No complete or failed job to refine.'
        : `${c.complete ?? 0} complete, ${c.failed ?? 0} failed.`);
    const cancellable = CANCELLABLE_PACK.includes(view.status);
    setDisabled(cancelBtn, busy || !cancellable);
    setText(cancelWhy, cancellable ? 'Available while the pack is pending, running or emergency-stopped.' : `The pack is ${statusLabel(view.status)}: nothing to cancel.`);
    setDisabled(eraseBtn, busy || running);
    setText(eraseWhy, running ? 'Available when the pack is not running: cancel it first.' : 'Asks first, naming what is deleted.');
  }

  function renderFilter() {
    const c = view.counts ?? {};
    const sig = JSON.stringify(c);
    if (filter.dataset.sig === sig) return;
    filter.dataset.sig = sig;
    const current = filter.value;
    filter.replaceChildren(
      h('option', { value: '' }, `All statuses (${view.jobCount})`),
      ...JOB_STATUSES.map((st) => h('option', { value: st }, `${statusLabel(st)} (${c[st] ?? 0})`)));
    filter.value = current;
  }

  function update(next) {
    view = next;
    setText(nameEl, view.name);
    nameEl.title = view.name;
    if (badgeSlot.dataset.status !== view.status) {
      badgeSlot.dataset.status = view.status;
      badgeSlot.replaceChildren(badge(view.status));
    }
    setText(createdEl, `created ${formatRelative(view.createdAt)}`);
    createdEl.title = formatDateTime(view.createdAt);
    const total = view.progress?.total ?? view.jobCount;
    bar.update(view.counts, total);
    setText(doneEl, view.progress ? `${view.progress.done}/${view.progress.total} done` : `${view.jobCount} jobs`);
    chips.update(view.counts);
    el.classList.toggle('running', isRunning(view));
    renderMeta();
    renderTools();
    renderFilter();
  }

  function jobRow(j) {
    const last = j.error ? j.error.name : '';
    return h('tr', { dataset: { jobId: j.jobId, status: j.status } },
      h('td', null, jobLink(j.jobId)),
      h('td', null, badge(j.status), j.needsIntervention ? h('span', { class: 'flag', title: 'Needs a person' }, ' needs intervention') : null),
      h('td', { class: 'err-cell' }, last ? h('code', null, last) : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'num' }, String(j.recoveriesUsed)),
      h('td', { class: 'num' }, String(j.runs)),
      h('td', { title: formatDateTime(j.updatedAt) }, formatRelative(j.updatedAt)));
  }

  /** The open panel's live parts: its jobs and its events. */
  function refresh() {
    if (panel.hidden) return Promise.resolve();
    return Promise.all([loadJobs(), events.refresh()]);
  }

  async function loadJobs({ more = false } = {}) {
    if (loading || panel.hidden) return;
    loading = true;
    const status = filter.value;
    const limit = more ? 50 : Math.min(100, Math.max(50, shown));
    const q = new URLSearchParams({ limit: String(limit) });
    if (status) q.set('status', status);
    if (more && nextCursor) q.set('cursor', nextCursor);
    try {
      const page = await api(`/packs/${view.packId}/jobs?${q}`);
      jobsMsg.clear();
      const rows = page.items.map(jobRow);
      // Keep focus on the same job link across a refresh.
      const focusedJob = jobsBody.contains(document.activeElement) ? document.activeElement.closest('tr')?.dataset.jobId : undefined;
      if (more) jobsBody.append(...rows);
      else jobsBody.replaceChildren(...rows);
      if (focusedJob) jobsBody.querySelector(`tr[data-job-id="${CSS.escape(focusedJob)}"] a`)?.focus();
      shown = jobsBody.children.length;
      nextCursor = page.nextCursor;
      moreBtn.hidden = !nextCursor;
      setText(jobsCaption, `Jobs of pack ${view.name}${status ? `, status ${statusLabel(status)}` : ''}`);
      if (shown === 0) jobsBody.append(h('tr', null, h('td', { colspan: '6', class: 'muted empty' }, status ? `No job is ${statusLabel(status)}.` : 'No jobs.')));
    } catch (e) {
      jobsMsg.show(errorNotice(e, 'Loading the jobs failed'));
    } finally {
      loading = false;
    }
  }

  function hold(held) {
    busy = held;
    renderTools();
  }

  /** A pack tool: its answer in the tools' slot, then the list refreshed. */
  const runPackAction = (o) => runAction({ slot: tools, hold, after: hooks.refresh, ...o });

  function restartIncomplete() {
    const incomplete = incompleteOf(view) ?? 0;
    const c = view.counts ?? {};
    const breakdown = PROGRESS_ORDER.filter((st) => st !== 'complete' && (c[st] ?? 0) > 0).map((st) => `${c[st]} ${statusLabel(st)}`).join(', ');
    return runPackAction({
      label: 'Restart Incomplete',
      confirm: {
        title: `Restart ${plural(incomplete, 'incomplete job')}?`,
        body: [
          h('p', null, 'Pack ', h('strong', null, view.name), ` (${shortId(view.packId)}).`),
          h('p', null, `${plural(incomplete, 'job')} ${incomplete === 1 ? 'goes' : 'go'} back to pending and run${incomplete === 1 ? 's' : ''} again under a new execution of the pack${breakdown ? `: ${breakdown}` : ''}.`),
          h('p', null, `${plural(c.complete ?? 0, 'complete job')} ${c.complete === 1 ? 'is' : 'are'} kept. Finished stages are kept as checkpoints, so they are not redone.`),
        ],
        confirmLabel: `Restart ${plural(incomplete, 'job')}`,
      },
      call: () => api(`/packs/${view.packId}/restart-incomplete`, { method: 'POST', body: {} }),
      done: (r) => successNotice(`Restarted: ${plural(r.resetJobs, 'job')} reset to pending; the pack runs again (execution ${r.executionArn.split(':').pop()}).`),
    });
  }

  function cancelPack() {
    const c = view.counts ?? {};
    const unfinished = JOB_STATUSES.filter((st) => !TERMINAL_JOB.includes(st)).reduce((n, st) => n + (c[st] ?? 0), 0);
    return runPackAction({
      label: 'Cancel Pack',
      confirm: {
        title: `Cancel pack ${view.name}?`,
        body: [
          h('p', null, 'Pack ', h('strong', null, view.name), ` (${shortId(view.packId)}) stops now.`),
          h('p', null, `${plural(unfinished, 'unfinished job')} ${unfinished === 1 ? 'ends' : 'end'} cancelled; a GPU prompt in progress is interrupted. ${plural(c.complete ?? 0, 'complete job')} ${c.complete === 1 ? 'keeps its' : 'keep their'} results.`),
        ],
        confirmLabel: 'Cancel pack',
        danger: true,
        focus: 'cancel',
      },
      call: () => api(`/packs/${view.packId}/cancel`, { method: 'POST', body: {} }),
      done: (r) => successNotice(r.alreadyCancelled ? 'The pack was already cancelled.' : `Pack cancelled: ${plural(r.jobsCancelled, 'job')} cancelled.`),
    });
  }

  async function erasePack() {
    // What goes is read first, so the dialog can name it.
    const scope = await runPackAction({ label: 'Erase Pack', call: () => api(`/packs/${view.packId}/erasure`), after: undefined });
    if (!scope) return;
    await runPackAction({
      label: 'Erase Pack',
      confirm: {
        title: `Erase pack ${view.name}?`,
        body: [
          h('p', null, 'Pack ', h('strong', null, view.name), ` (${shortId(view.packId)}) is deleted for good:`),
          h('ul', { class: 'erase-scope' },
            h('li', null, plural(scope.jobs, 'job')),
            h('li', null, `${plural(scope.objects, 'stored image')} (${plural(scope.versions, 'stored version')}): uploads, masks, GPU outputs and results`),
            h('li', null, 'its records; its recovery events stay counted in the statistics, without ids')),
          h('p', null, 'This cannot be undone.'),
        ],
        confirmLabel: 'Erase pack',
        danger: true,
        focus: 'cancel',
      },
      call: () => api(`/packs/${view.packId}`, { method: 'DELETE' }),
      // The row leaves the list: its tools stay held, the page says the answer above the list.
      keepHeld: true,
      done: (r) => {
        hooks.erased(view.packId, successNotice(r.state === 'erased'
          ? `Pack ${view.name} erased: ${plural(r.deleted.versions, 'stored version')} and ${plural(r.deleted.jobs, 'job')} deleted.`
          : `Pack ${view.name} is being erased; the rest goes within a few minutes.`));
      },
    });
  }

  function refinePack() {
    const c = view.counts ?? {};
    const name = uid('scope');
    const radio = (value, label, help, checked) => {
      const id = uid('scope-opt');
      const helpId = `${id}-help`;
      return h('div', { class: 'radio' },
        h('input', { type: 'radio', name, id, value, checked, 'aria-describedby': helpId }),
        h('label', { for: id }, label),
        h('p', { id: helpId, class: 'radio-help' }, help));
    };
    const fields = [h('fieldset', { class: 'scope' },
      h('legend', null, 'Scope'),
      radio('successful_only', 'Successful only', `A new pack with the ${plural(c.complete ?? 0, 'complete job')}, to improve their images (new seed, more steps).`, true),
      radio('all_completed', 'All completed', `Also the ${plural(c.failed ?? 0, 'failed job')}, for a corrective inpainting pass with the parameters their recovery ended with.`, false))];
    return runPackAction({
      label: 'Refine Pack',
      confirm: {
        title: 'Refine Pack',
        body: [h('p', null, 'Create a refinement pack from ', h('strong', null, view.name), '. This pack is not changed; the new pack links back to it.')],
        fields,
        read: () => ({ scope: fields[0].querySelector('input:checked')?.value ?? 'successful_only' }),
        confirmLabel: 'Create refinement pack',
        focus: 'first-field',
      },
      call: ({ scope }) => api(`/packs/${view.packId}/refine`, { method: 'POST', body: { scope }, idempotencyKey: crypto.randomUUID() }),
      done: (created) => successNotice('Refinement pack created with ', plural(created.jobIds.length, 'job'), ': ',
        h('a', { href: packHref(created.packId), class: 'new-pack-link' }, created.name), ` (${shortId(created.packId)}).`),
    });
  }

  update(view);
  return {
    el,
    get view() { return view; },
    get expanded() { return !panel.hidden; },
    update,
    setExpanded,
    refreshJobs: refresh,
  };
}
