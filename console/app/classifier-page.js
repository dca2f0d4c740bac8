/**
 * Teach the classifier: the operator-taught patterns (tried first, newest first, before the
 * built-in rules), a form that dry-runs a pattern against the recorded failures before it
 * can be saved, and removal, each confirmed.
 */
import { runAction } from './action.js';
import { api } from './api.js';
import { actionButton, h, setDisabled, uid } from './dom.js';
import { formatDateTime, plural } from './format.js';
import { errorNotice, infoNotice, messageSlot, successNotice } from './notice.js';
import { card } from './parts.js';

/** What saving a pattern does to the recorded failures it matches: lambdas/api/classifier-schemas.ts's choices, in words (test/console/app-lists.test.ts). */
export const RECORDED = [
  ['reclassify', 'Rename them (deferred recovery then treats them by their new name)'],
  ['rerun', 'Rename them and re-run now those it makes recoverable (bounded as deferred recovery is)'],
  ['leave', 'Leave them as they are (only new failures)'],
];
/** How a pattern matches, in words (test/console/app-lists.test.ts). */
export const MATCH = [['substring', 'Substring'], ['regex', 'Regular expression']];

function field(label, control, help) {
  const helpId = help ? `${control.id}-help` : undefined;
  if (helpId) control.setAttribute('aria-describedby', helpId);
  return h('div', { class: 'form-field' }, h('label', { for: control.id }, label), control, help ? h('p', { id: helpId, class: 'radio-help' }, help) : null);
}

const describe = (p) => `${p.match === 'regex' ? `/${p.pattern}/${p.ignoreCase ? 'i' : ''}` : `"${p.pattern}"`}${p.stage ? ` in ${p.stage}` : ''}`;
const yesNo = (b) => (b ? 'yes' : 'no');

export function renderClassifier(main, _params, ctx) {
  ctx.setTitle('Classifier');
  const listMsg = messageSlot();
  const formMsg = messageSlot();
  const list = h('div');
  const preview = h('div', { class: 'dry-run', 'aria-live': 'polite' });

  const nameIn = h('input', { type: 'text', id: uid('tp-name'), required: true, autocomplete: 'off', placeholder: 'Transient.ServiceUnavailable' });
  const patternIn = h('input', { type: 'text', id: uid('tp-pattern'), required: true, maxlength: '300', autocomplete: 'off' });
  const matchSel = h('select', { id: uid('tp-match') }, MATCH.map(([v, l]) => h('option', { value: v }, l)));
  const caseIn = h('input', { type: 'checkbox', id: uid('tp-case') });
  const stageSel = h('select', { id: uid('tp-stage') }, h('option', { value: '' }, 'Any stage'), ctx.config.stages.map((s) => h('option', { value: s }, s)));
  const noteIn = h('input', { type: 'text', id: uid('tp-note'), maxlength: '200', autocomplete: 'off' });
  const recordedSel = h('select', { id: uid('tp-recorded') }, RECORDED.map(([v, l]) => h('option', { value: v }, l)));
  const dryBtn = actionButton('Dry run', () => void dryRun(), 'btn btn-primary');
  const saveBtn = actionButton('Save…', () => void save(), 'btn');
  setDisabled(saveBtn, true);

  const body = () => ({
    name: nameIn.value.trim(), pattern: patternIn.value, match: matchSel.value, ignoreCase: !caseIn.checked,
    ...(stageSel.value && { stage: stageSel.value }),
  });
  // Save is offered only for the pattern just dry-run: any change asks for a new dry run.
  let dryRunOf = null;
  const invalidate = () => {
    if (dryRunOf !== null && JSON.stringify(body()) !== dryRunOf) {
      dryRunOf = null;
      setDisabled(saveBtn, true);
      preview.replaceChildren(infoNotice('The pattern changed: dry-run it again before saving.'));
    }
  };
  for (const el of [nameIn, patternIn, matchSel, caseIn, stageSel]) {
    el.addEventListener('input', invalidate);
    el.addEventListener('change', invalidate);
  }

  const caseLabel = h('label', { for: caseIn.id, class: 'inline-label' }, caseIn, ' Match case exactly');
  main.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Classifier'),
      h('p', { class: 'lead' }, 'Teach the classifier a failure it leaves Unclassified or names wrongly. Taught patterns are tried first, newest first, before the built-in rules; Lambdas and GPU workers use a saved pattern within a minute.')),
    card('Teach a pattern',
      h('form', { class: 'pattern-form', novalidate: true, on: { submit: (ev) => { ev.preventDefault(); void dryRun(); } } },
        field('Taxonomy name', nameIn, 'The name failures it matches get, e.g. Transient.Network (`vto classify --list`).'),
        field('Pattern', patternIn, 'Text the failure contains; at most 300 characters.'),
        field('Match as', matchSel),
        h('div', { class: 'form-field' }, caseLabel),
        field('Stage', stageSel),
        field('Note', noteIn, 'Why, for the other operators (saved with the pattern).'),
        field('Recorded failures it matches', recordedSel),
        h('div', { class: 'tool-row' }, dryBtn, saveBtn)),
      formMsg.el,
      preview),
    card('Taught patterns', listMsg.el, list));

  function renderList(l) {
    if (l.patterns.length === 0) {
      list.replaceChildren(h('p', null, 'No pattern taught yet.'));
      return;
    }
    list.replaceChildren(
      h('p', { class: 'radio-help' }, `Version ${l.version}, changed ${l.updatedAt ? formatDateTime(l.updatedAt) : '—'} by ${l.updatedBy ?? '—'}.`),
      h('table', { class: 'data patterns' },
        h('caption', { class: 'sr-only' }, 'Taught patterns, in the order they are tried'),
        h('thead', null, h('tr', null, ['Id', 'Name', 'Matches', 'By', 'At', 'Note', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, [...l.patterns].reverse().map((p) => h('tr', { dataset: { pattern: p.id } },
          h('td', null, p.id), h('td', null, p.name), h('td', null, h('code', null, describe(p))),
          h('td', null, p.createdBy), h('td', null, formatDateTime(p.createdAt)), h('td', null, p.note ?? ''),
          h('td', null, actionButton('Remove…', () => void remove(p), 'btn btn-small'))))),
      ));
  }

  async function load(keepMessage = false) {
    try {
      renderList(await api('/classifier/patterns'));
      if (!keepMessage) listMsg.clear();
    } catch (e) {
      listMsg.show(errorNotice(e, 'Loading the taught patterns failed'));
    }
  }

  async function dryRun() {
    setDisabled(dryBtn, true);
    formMsg.clear();
    const sent = body();
    try {
      const d = await api('/classifier/patterns/dry-run', { method: 'POST', body: sent });
      dryRunOf = JSON.stringify(sent);
      setDisabled(saveBtn, false);
      preview.replaceChildren(
        h('p', { class: 'dry-run-summary' }, `${plural(d.matches.length, 'recorded failure')} of ${d.scanned} would match: ${d.changed} renamed, ${d.rerunnable} deferred recovery could re-run.${d.more ? ' Older failed jobs were not looked at.' : ''}`),
        d.matches.length === 0 ? null : h('table', { class: 'data' },
          h('caption', { class: 'sr-only' }, 'What the pattern would change'),
          h('thead', null, h('tr', null, ['Job', 'Stage', 'Before', 'After', 'Recoverable', 'Re-run'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', null, d.matches.map((m) => h('tr', null,
            h('td', null, h('a', { href: `#/jobs/${m.jobId}` }, m.jobId.slice(0, 8))), h('td', null, m.stage ?? '—'),
            h('td', null, m.before.name), h('td', null, m.after.name),
            h('td', null, `${yesNo(m.before.recoverable)} → ${yesNo(m.after.recoverable)}`), h('td', null, yesNo(m.rerunnable)))))));
    } catch (e) {
      dryRunOf = null;
      setDisabled(saveBtn, true);
      preview.replaceChildren();
      formMsg.show(errorNotice(e, 'The dry run failed'));
    } finally {
      setDisabled(dryBtn, false);
    }
  }

  function save() {
    const sent = body();
    const recorded = recordedSel.value;
    const note = noteIn.value.trim();
    return runAction({
      label: 'Saving the pattern',
      confirm: {
        title: 'Save this pattern?',
        body: [
          h('p', null, `Failures matching ${describe({ ...sent, ignoreCase: sent.ignoreCase })} will be named ${sent.name}, before the built-in rules.`),
          h('p', null, RECORDED.find(([v]) => v === recorded)?.[1] ?? ''),
        ],
        confirmLabel: 'Save',
        focus: 'confirm',
      },
      slot: formMsg,
      hold: (held) => setDisabled(saveBtn, held),
      // Saved: Save waits for the next pattern's dry run.
      keepHeld: true,
      call: () => api('/classifier/patterns', { method: 'POST', body: { ...sent, recorded, ...(note && { note }) } }),
      done: (a) => {
        dryRunOf = null;
        preview.replaceChildren();
        const started = a.reruns.filter((r) => r.action === 'rerun').length;
        return successNotice(`Saved ${a.pattern.id} (version ${a.version}): ${plural(a.reclassified.length, 'failure')} renamed${recorded === 'rerun' ? `, ${plural(started, 're-run')} started` : ''}.`);
      },
      after: () => void load(),
    });
  }

  function remove(p) {
    return runAction({
      label: 'Removing the pattern',
      confirm: {
        title: `Remove ${p.id}?`,
        body: [h('p', null, `Failures matching ${describe(p)} will no longer be named ${p.name} by it. Failures it already renamed keep their name.`)],
        confirmLabel: 'Remove',
        danger: true,
      },
      slot: listMsg,
      call: () => api(`/classifier/patterns/${encodeURIComponent(p.id)}`, { method: 'DELETE' }),
      done: (r) => successNotice(`Removed ${r.removed.id} (version ${r.version}).`),
      // The list read again keeps the answer above it.
      after: () => void load(true),
    });
  }

  void load();
}
