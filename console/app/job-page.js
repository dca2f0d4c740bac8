/**
 * A job: its images side by side, its parameters now and originally, its QA report, its
 * recovery path on a timeline linked to its execution, and Retry (with Force explained).
 * Live while the job runs.
 */
import { runAction } from './action.js';
import { api } from './api.js';
import { actionButton, h, setDisabled, setText, uid } from './dom.js';
import { formatDateTime, formatDuration, shortId } from './format.js';
import { executionLink, packHref } from './links.js';
import { errorNotice, messageSlot, successNotice } from './notice.js';
import { metaItems } from './parts.js';
import { poll } from './poller.js';
import { badge, TERMINAL_JOB } from './status.js';
import { recoveryTimeline } from './timeline.js';

/** Every inpaint parameter (core/params.ts), in the order the table shows them, and their words (test/console/app-lists.test.ts). */
export const PARAM_ORDER = ['width', 'height', 'steps', 'batch', 'model', 'seed', 'denoise', 'maskExpandPx'];
export const PARAM_LABELS = { width: 'Width', height: 'Height', steps: 'Steps', batch: 'Batch', model: 'Model', seed: 'Seed', denoise: 'Denoise', maskExpandPx: 'Mask expansion (px)' };

/** Re-renders a section only when its data changed (image URLs are re-signed on every read). */
function section(title, id) {
  const body = h('div', { class: 'section-body' });
  const el = h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id, class: 'card-title' }, title), body);
  let sig;
  return {
    el,
    render(signature, build) {
      if (signature === sig) return;
      sig = signature;
      body.replaceChildren(...[build()].flat().filter(Boolean));
    },
  };
}

function figure(label, link, missingText, alt) {
  if (!link) {
    return h('figure', { class: 'img-fig missing' },
      h('div', { class: 'img-frame' }, h('p', { class: 'img-missing' }, missingText)),
      h('figcaption', null, label));
  }
  const frame = h('div', { class: 'img-frame' });
  const img = h('img', { src: link.url, alt, loading: 'lazy', decoding: 'async' });
  img.addEventListener('error', () => frame.replaceChildren(h('p', { class: 'img-missing' }, 'The image could not be loaded. Its link may have expired: reload the page.')));
  frame.append(img);
  return h('figure', { class: 'img-fig' }, frame, h('figcaption', null, label, h('span', { class: 'key mono', title: link.key }, link.key.split('/').pop())));
}

function paramsTable(job) {
  const keys = [...new Set([...PARAM_ORDER, ...Object.keys(job.params), ...Object.keys(job.originalParams)])].filter((k) => k in job.params || k in job.originalParams);
  return h('table', { class: 'data params' },
    h('caption', { class: 'sr-only' }, 'Parameters now and originally'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Parameter'), h('th', { scope: 'col' }, 'Now'), h('th', { scope: 'col' }, 'Originally'))),
    h('tbody', null, keys.map((k) => {
      const now = job.params[k];
      const was = job.originalParams[k];
      const changed = JSON.stringify(now) !== JSON.stringify(was);
      return h('tr', { class: changed ? 'changed' : undefined },
        h('th', { scope: 'row' }, PARAM_LABELS[k] ?? k),
        h('td', { class: 'mono' }, String(now ?? '—'), changed ? h('span', { class: 'changed-mark' }, ' changed') : null),
        h('td', { class: 'mono' }, String(was ?? '—')));
    })));
}

function qaReport(report) {
  if (report === undefined || report === null) return h('p', { class: 'muted' }, 'No QA report yet: the job has not reached QA.');
  if (typeof report !== 'object') return h('pre', { class: 'cause' }, String(report));
  const { score, threshold, passed, reasons, metrics, ...rest } = report;
  const parts = [];
  if (typeof score === 'number') {
    parts.push(h('div', { class: 'qa-head' },
      badge(passed ? 'complete' : 'failed', 'qa-verdict'),
      h('span', { class: 'qa-score' }, `Score ${score}`, typeof threshold === 'number' ? ` / threshold ${threshold}` : '')));
    const meter = h('div', { class: 'qa-meter', 'aria-hidden': 'true' }, h('span', { class: passed ? 'ok' : 'bad' }));
    meter.firstChild.style.width = `${Math.max(0, Math.min(100, score))}%`;
    if (typeof threshold === 'number') {
      const mark = h('span', { class: 'qa-threshold' });
      mark.style.left = `${Math.max(0, Math.min(100, threshold))}%`;
      meter.append(mark);
    }
    parts.push(meter);
  }
  parts.push(Array.isArray(reasons) && reasons.length > 0
    ? h('div', null, h('h3', { class: 'sub' }, 'Reasons'), h('ul', { class: 'reasons' }, reasons.map((r) => h('li', null, typeof r === 'string' ? r : JSON.stringify(r)))))
    : h('p', { class: 'muted' }, passed === false ? 'No reasons given.' : 'No reasons: the result passed every check.'));
  if (metrics && typeof metrics === 'object') {
    parts.push(h('table', { class: 'data metrics' },
      h('caption', { class: 'sr-only' }, 'QA metrics'),
      h('tbody', null, Object.entries(metrics).map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', { class: 'mono num' }, typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : JSON.stringify(v)))))));
  }
  if (Object.keys(rest).length > 0) parts.push(h('pre', { class: 'cause' }, JSON.stringify(rest, null, 2)));
  return parts;
}

export function renderJob(main, { jobId }, ctx) {
  ctx.setTitle(`Job ${shortId(jobId)}`);
  const crumbPack = h('a', { href: '#/packs' }, 'pack');
  const statusSlot = h('span', { class: 'title-badge' });
  const flag = h('span', { class: 'flag', hidden: true }, 'needs intervention');
  const summary = h('dl', { class: 'meta-grid' });
  const errorBox = h('div');
  const msg = messageSlot();
  const actionMsg = messageSlot();
  const live = h('span', { class: 'live' }, 'loading…');
  const retryBtn = actionButton('Retry job…', () => void retry(), 'btn btn-primary');
  const cancelBtn = actionButton('Cancel job…', () => void cancel(), 'btn btn-danger');
  const images = section('Images', uid('images'));
  const path = section('Recovery path', uid('path'));
  const params = section('Parameters', uid('params'));
  const qa = section('QA report', uid('qa'));
  const details = section('Attempts and checkpoints', uid('details'));
  let job;

  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', null,
      h('li', null, h('a', { href: '#/packs' }, 'Packs')),
      h('li', null, crumbPack),
      h('li', null, h('span', { 'aria-current': 'page' }, `Job ${shortId(jobId)}`)))),
    h('div', { class: 'page-head' },
      h('h1', null, `Job ${shortId(jobId)} `, statusSlot, flag),
      h('div', { class: 'page-meta' }, h('code', { class: 'muted' }, jobId), live)),
    msg.el,
    h('div', { class: 'job-top' }, summary,
      h('div', { class: 'card retry-card' },
        h('h2', { class: 'card-title' }, 'Retry'),
        h('p', { class: 'tool-help' }, 'Runs this job again under a new execution of the job machine. "Force" also runs a complete job or one whose failure is not recoverable, with its attempt counters reset.'),
        h('div', { class: 'tool-row' }, retryBtn, cancelBtn), actionMsg.el)),
    errorBox,
    images.el,
    path.el,
    h('div', { class: 'two-col' }, params.el, qa.el),
    details.el);

  let packLoaded = false;
  async function loadPackName(packId) {
    if (packLoaded) return;
    packLoaded = true;
    crumbPack.setAttribute('href', packHref(packId));
    setText(crumbPack, `Pack ${shortId(packId)}`);
    try {
      const pack = await api(`/packs/${packId}`);
      setText(crumbPack, pack.name);
    } catch {
      // The breadcrumb keeps the id; the job itself is what this page shows.
    }
  }

  function render(j) {
    job = j;
    void loadPackName(j.packId);
    if (statusSlot.dataset.status !== j.status) {
      statusSlot.dataset.status = j.status;
      statusSlot.replaceChildren(badge(j.status));
    }
    flag.hidden = !j.needsIntervention;
    const rows = [
      ['Pack', h('a', { href: packHref(j.packId) }, shortId(j.packId))],
      ['Inpaint', j.inpaint === 'hosted' ? 'hosted API' : 'ComfyUI GPU workers'],
      ['Created', formatDateTime(j.createdAt)],
      ['Updated', formatDateTime(j.updatedAt)],
      ['Runs', String(j.runs)],
      ['Recoveries used', String(j.recoveriesUsed)],
      ['Failures met', j.recoveryCount > j.recoveries.length ? `${j.recoveryCount} (the newest ${j.recoveries.length} below; all in Statistics)` : String(j.recoveryCount ?? j.recoveries.length)],
      ['GPU time', j.gpuSeconds === undefined ? '—' : formatDuration(j.gpuSeconds * 1000)],
      ['Execution', executionLink(ctx.config, j)],
    ];
    summary.replaceChildren(...metaItems(rows));
    const t = j.error ? ctx.config.taxonomy[j.error.name] : undefined;
    errorBox.replaceChildren(j.error
      ? h('div', { class: 'notice notice-error job-error' },
        h('p', { class: 'notice-title' }, `Failed with `, h('code', null, j.error.name), ` at ${formatDateTime(j.error.at)}`),
        t ? h('p', null, `${t.description} ${t.recoverable ? 'Recoverable, but its recoveries were spent.' : 'Not recoverable: the pipeline does not retry it. Fix the cause, then retry with Force.'}`) : null,
        h('details', { class: 'cause-box' }, h('summary', null, 'Cause as reported'), h('pre', { class: 'cause' }, j.error.cause)))
      : '');

    const o = j.outputs ?? {};
    images.render(JSON.stringify([j.inputs, o.mask?.key, o.inpainted?.key, o.result?.key]), () => [
      h('div', { class: 'img-grid' },
        figure('Person (original)', j.inputLinks?.person, 'The input image is not available.', `Person image of job ${j.jobId}`),
        figure('Garment', j.inputLinks?.garment, 'The input image is not available.', `Garment image of job ${j.jobId}`),
        figure('Mask', o.mask, 'No mask yet: segmentation has not finished.', `Expanded garment mask of job ${j.jobId}`),
        figure('Inpainted', o.inpainted, 'No inpainted image yet.', `Inpainted image of job ${j.jobId}`),
        figure('Result', o.result, j.status === 'failed' ? 'No result: the job failed.' : 'No result yet.', `Composited result of job ${j.jobId}`)),
      h('p', { class: 'keys muted' }, 'Inputs: ', h('code', null, j.inputs.person), ' · ', h('code', null, j.inputs.garment)),
    ]);
    path.render(JSON.stringify([j.recoveries, j.status, TERMINAL_JOB.includes(j.status) ? j.updatedAt : '']), () => recoveryTimeline(j, ctx.config.taxonomy));
    params.render(JSON.stringify([j.params, j.originalParams]), () => paramsTable(j));
    qa.render(JSON.stringify(j.qaReport ?? null), () => qaReport(j.qaReport));
    details.render(JSON.stringify([j.attempts, j.triedModels, j.checkpoints]), () => h('div', { class: 'details-grid' },
      h('div', null, h('h3', { class: 'sub' }, 'Attempts'),
        Object.keys(j.attempts).length === 0 ? h('p', { class: 'muted' }, 'None yet.')
          : h('table', { class: 'data' }, h('tbody', null, Object.entries(j.attempts).map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, h('code', null, k)), h('td', { class: 'num' }, String(v))))))),
      h('div', null, h('h3', { class: 'sub' }, 'Models tried'),
        j.triedModels.length === 0 ? h('p', { class: 'muted' }, 'Only the original model.') : h('ul', null, j.triedModels.map((m) => h('li', null, h('code', null, m))))),
      h('div', null, h('h3', { class: 'sub' }, 'Checkpoints'),
        Object.keys(j.checkpoints).length === 0 ? h('p', { class: 'muted' }, 'No stage finished yet.')
          : h('table', { class: 'data' }, h('tbody', null, Object.entries(j.checkpoints).map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', { class: 'mono small' }, v))))))));
  }

  async function tick() {
    try {
      const j = await api(`/jobs/${jobId}`);
      msg.clear();
      render(j);
      setDisabled(cancelBtn, TERMINAL_JOB.includes(j.status));
      setText(live, TERMINAL_JOB.includes(j.status) ? `updated ${new Date().toLocaleTimeString()}` : `live · updated ${new Date().toLocaleTimeString()}`);
      return TERMINAL_JOB.includes(j.status) ? 15_000 : 2000;
    } catch (e) {
      msg.show(errorNotice(e, 'Loading the job failed'));
      setText(live, 'not updating — see the message above');
      return 8000;
    }
  }

  /** A job action: its answer beside Retry, then the job read again. */
  const runJobAction = (o) => runAction({ slot: actionMsg, after: () => poller.now(), ...o });

  function retry() {
    if (!job) return undefined;
    const forceId = uid('force');
    const suggested = job.status === 'complete' || job.needsIntervention;
    const force = h('input', { type: 'checkbox', id: forceId, checked: suggested, 'aria-describedby': `${forceId}-help` });
    const fields = [h('div', { class: 'check' }, force, h('label', { for: forceId }, 'Force'),
      h('p', { id: `${forceId}-help`, class: 'radio-help' },
        'Overrides the pipeline\'s verdict and bounds: runs a complete job, or one whose failure is not recoverable (e.g. after you freed disk space or replaced a corrupt input), and resets its attempt counters. Without it the API refuses such jobs.'))];
    const { jobId } = job;
    return runJobAction({
      label: 'Retry',
      confirm: {
        title: `Retry job ${shortId(jobId)}?`,
        body: [h('p', null, `The job (now ${job.status}) runs again under a new execution of the job machine, from its checkpoints: finished stages are not redone.`),
          suggested ? h('p', null, job.status === 'complete' ? 'The job is complete, so it needs Force.' : 'The job needs intervention (its failure is not recoverable), so it needs Force.') : null],
        fields,
        read: () => ({ force: force.checked }),
        confirmLabel: 'Retry',
        focus: 'first-field',
      },
      hold: (held) => setDisabled(retryBtn, held),
      call: (res) => api(`/jobs/${jobId}/retry`, { method: 'POST', body: res.force ? { force: true } : {} }),
      done: (r) => successNotice(`Job started again${r.forced ? ' (forced)' : ''}: execution ${r.executionArn.split(':').pop()}.`),
    });
  }

  function cancel() {
    if (!job || TERMINAL_JOB.includes(job.status)) return undefined;
    const { jobId } = job;
    return runJobAction({
      label: 'Cancel',
      confirm: {
        title: `Cancel job ${shortId(jobId)}?`,
        body: [h('p', null, `The job (now ${job.status}) stops: its execution is stopped and a GPU prompt it runs is interrupted. It ends cancelled.`),
          h('p', null, 'Finished stages are kept as checkpoints: a later retry resumes from them.')],
        confirmLabel: 'Cancel job',
        danger: true,
        focus: 'cancel',
      },
      hold: (held) => setDisabled(cancelBtn, held),
      // A cancelled job cannot be cancelled again: the job read after it decides.
      keepHeld: true,
      call: () => api(`/jobs/${jobId}/cancel`, { method: 'POST', body: {} }),
      done: (r) => successNotice(r.alreadyCancelled ? 'The job was already cancelled.' : 'Job cancelled.'),
    });
  }

  const poller = poll(tick);
  ctx.onCleanup(() => poller.stop());
}
