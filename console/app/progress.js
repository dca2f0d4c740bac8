/** The stacked progress bar of a pack: one segment per job status, widths from the counts. */
import { h } from './dom.js';
import { PROGRESS_ORDER, statusLabel } from './status.js';

export function progressBar() {
  const segs = Object.fromEntries(PROGRESS_ORDER.map((st) => [st, h('span', { class: ['seg', `seg-${st}`] })]));
  const track = h('span', { class: 'progress', 'aria-hidden': 'true' }, ...PROGRESS_ORDER.map((st) => segs[st]));
  return {
    el: track,
    update(counts, total) {
      for (const st of PROGRESS_ORDER) {
        const n = counts?.[st] ?? 0;
        segs[st].style.width = total > 0 ? `${(n / total) * 100}%` : '0%';
        segs[st].title = `${n} ${statusLabel(st)}`;
      }
    },
  };
}

/** "3 complete · 1 failed · 2 inpainting" (statuses with jobs only). */
export function countsText(counts) {
  if (!counts) return 'counts not yet known';
  const parts = PROGRESS_ORDER.filter((st) => (counts[st] ?? 0) > 0).map((st) => `${counts[st]} ${statusLabel(st)}`);
  return parts.length > 0 ? parts.join(' · ') : 'no jobs';
}

/** Counts chips, each coloured as its status. */
export function countChips() {
  const el = h('span', { class: 'chips' });
  return {
    el,
    update(counts) {
      const want = PROGRESS_ORDER.filter((st) => (counts?.[st] ?? 0) > 0);
      const sig = want.map((st) => `${st}:${counts[st]}`).join(',');
      if (el.dataset.sig === sig) return;
      el.dataset.sig = sig;
      el.replaceChildren(...want.map((st) => h('span', { class: ['chip', `st-${st}`] }, `${counts[st]} ${statusLabel(st)}`)));
      if (want.length === 0) el.replaceChildren(h('span', { class: 'chip' }, 'no counts yet'));
    },
  };
}

