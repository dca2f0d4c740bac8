/**
 * The "Virtual Try-On Packs" page: every pack as an accordion row, live. The list (GET
 * /packs) is polled; packs still running are read one by one (GET /packs/{id}), since a
 * list shows the counts of a pack's last finalize only. Open rows keep their jobs fresh.
 */
import { api } from './api.js';
import { h, setText } from './dom.js';
import { formatTime, plural } from './format.js';
import { errorNotice, messageSlot } from './notice.js';
import { packRow } from './pack-row.js';
import { poll } from './poller.js';
import { TERMINAL_PACK } from './status.js';

const PAGE = 25;
const LIVE_MS = 2000;
const IDLE_MS = 4000;

/** Open rows survive navigation (to a job and back). */
const expanded = new Set();

export function renderPacks(main, { openId }, ctx) {
  ctx.setTitle('Packs');
  if (openId) expanded.add(openId);
  const rows = new Map();
  const list = h('div', { class: 'pack-list' });
  const msg = messageSlot();
  /** What was erased: kept across polls (msg is cleared by each successful one). */
  const erasedMsg = messageSlot();
  const live = h('span', { class: 'live' }, 'connecting…');
  const summary = h('span', { class: 'summary' });
  const empty = h('p', { class: 'empty-state', hidden: true }, 'No packs yet. Create one with the API (POST /packs) or run the offline demo (npm start).');
  let cursor;
  let olderLoaded = [];
  const moreBtn = h('button', { type: 'button', class: 'btn', hidden: true, on: { click: () => void loadOlder() } }, 'Show older packs');
  let scrolledTo = false;
  let fetchedOpen = false;

  main.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Virtual Try-On Packs'),
      h('p', { class: 'lead' }, 'Every pack with its live progress. Open a pack for its jobs and its tools: Restart Incomplete and Refine Pack.'),
      h('div', { class: 'page-meta' }, summary, live)),
    msg.el, erasedMsg.el, list, empty, h('div', { class: 'more' }, moreBtn));

  const hooks = {
    onExpand: (id, open) => (open ? expanded.add(id) : expanded.delete(id)),
    refresh: () => poller.now(),
    /** The pack is gone: its row goes at once, the answer is said above the list (the action refreshes after). */
    erased: (id, notice) => {
      rows.get(id)?.el.remove();
      rows.delete(id);
      expanded.delete(id);
      olderLoaded = olderLoaded.filter((p) => p.packId !== id);
      erasedMsg.show(notice);
    },
  };

  function place(views) {
    // Newest first, as the API lists them; rows are kept, so focus and open panels survive.
    const ordered = [];
    for (const v of views) {
      let row = rows.get(v.packId);
      if (!row) {
        row = packRow(v, ctx, hooks);
        rows.set(v.packId, row);
        if (expanded.has(v.packId)) row.setExpanded(true);
      } else {
        row.update(v);
      }
      ordered.push(row.el);
    }
    ordered.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
    });
    empty.hidden = views.length > 0;
  }

  async function tick() {
    let views;
    try {
      const first = await api(`/packs?limit=${PAGE}`);
      cursor ??= first.nextCursor;
      moreBtn.hidden = !cursor;
      const seen = new Set(first.items.map((p) => p.packId));
      views = [...first.items, ...olderLoaded.filter((p) => !seen.has(p.packId))];
      // Running packs (and open ones) get their live counts.
      views = await Promise.all(views.map(async (v) => {
        if (TERMINAL_PACK.includes(v.status) && v.counts && !expanded.has(v.packId)) return v;
        try {
          return await api(`/packs/${v.packId}`);
        } catch {
          return v;
        }
      }));
      msg.clear();
    } catch (e) {
      msg.show(errorNotice(e, 'Loading the packs failed'));
      setText(live, 'not updating — see the message above');
      live.classList.add('stale');
      return IDLE_MS;
    }
    place(views);
    for (const row of rows.values()) if (row.expanded) void row.refreshJobs();
    const running = views.filter((v) => !TERMINAL_PACK.includes(v.status)).length;
    setText(summary, `${plural(views.length, 'pack')} shown · ${running} running`);
    setText(live, `live · updated ${formatTime(new Date().toISOString())}`);
    live.classList.remove('stale');
    if (openId && !scrolledTo && rows.has(openId)) {
      scrolledTo = true;
      const row = rows.get(openId);
      row.setExpanded(true);
      row.el.scrollIntoView({ block: 'start' });
      row.el.querySelector('.pack-toggle')?.focus();
    } else if (openId && !scrolledTo && !fetchedOpen) {
      // Not on the first page: read it on its own and list it after them.
      fetchedOpen = true;
      try {
        olderLoaded = [await api(`/packs/${openId}`), ...olderLoaded];
        poller.now();
      } catch (e) {
        msg.show(errorNotice(e, `Opening pack ${openId} failed`));
      }
    }
    return running > 0 ? LIVE_MS : IDLE_MS;
  }

  async function loadOlder() {
    if (!cursor) return;
    try {
      const page = await api(`/packs?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`);
      olderLoaded = [...olderLoaded, ...page.items];
      cursor = page.nextCursor;
      moreBtn.hidden = !cursor;
      poller.now();
    } catch (e) {
      msg.show(errorNotice(e, 'Loading older packs failed'));
    }
  }

  const poller = poll(tick);
  ctx.onCleanup(() => poller.stop());
}
