/* global document, window, location */
/**
 * The console's shell: loads the server's config, routes between the pages by the URL
 * hash (#/packs, #/packs/<id>, #/jobs/<id>, #/executions/<arn>, #/stats, #/classifier), moves focus to
 * each page's heading, shows the emergency-stop state in the header, and turns any fault
 * of the page into a message: the console never shows a blank page.
 */
import { api, consoleApi } from './api.js';
import { h, clear } from './dom.js';
import { formatDateTime } from './format.js';
import { errorNotice } from './notice.js';
import { poll } from './poller.js';
import { renderPacks } from './packs-page.js';
import { renderJob } from './job-page.js';
import { renderHistory } from './history-page.js';
import { renderStats } from './stats-page.js';
import { renderClassifier } from './classifier-page.js';
import { useStatuses } from './status.js';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const topStatus = document.getElementById('topbar-status');

let cleanup = () => undefined;
let config;

function showFault(text) {
  banner.append(h('div', { class: 'notice notice-error banner', role: 'alert' },
    h('p', { class: 'notice-title' }, `The console page met a fault: ${text}`),
    h('p', { class: 'notice-hint' }, 'The data shown may be stale. Reload the page; if it happens again, report the text above.')));
}
window.addEventListener('error', (ev) => showFault(ev.message || String(ev.error)));
window.addEventListener('unhandledrejection', (ev) => showFault(ev.reason instanceof Error ? ev.reason.message : String(ev.reason)));

const ROUTES = [
  { pattern: /^#\/packs\/([0-9a-f-]{36})$/, nav: 'packs', render: (m) => (el, ctx) => renderPacks(el, { openId: m[1] }, ctx) },
  { pattern: /^#\/(packs)?$|^#?$/, nav: 'packs', render: () => (el, ctx) => renderPacks(el, {}, ctx) },
  { pattern: /^#\/jobs\/([0-9a-f-]{36})$/, nav: 'packs', render: (m) => (el, ctx) => renderJob(el, { jobId: m[1] }, ctx) },
  { pattern: /^#\/executions\/(.+)$/, nav: 'packs', render: (m) => (el, ctx) => renderHistory(el, { executionArn: decodeURIComponent(m[1]) }, ctx) },
  { pattern: /^#\/stats$/, nav: 'stats', render: () => (el, ctx) => renderStats(el, {}, ctx) },
  { pattern: /^#\/classifier$/, nav: 'classifier', render: () => (el, ctx) => renderClassifier(el, {}, ctx) },
];

function route() {
  cleanup();
  cleanup = () => undefined;
  const hash = location.hash;
  const found = ROUTES.map((r) => ({ r, m: r.pattern.exec(hash) })).find((x) => x.m);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (found && a.dataset.nav === found.r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main);
  if (!found) {
    document.title = 'Not found · VTO operator console';
    main.append(h('h1', { tabindex: '-1' }, 'Page not found'), h('p', null, 'There is no page at this address. ', h('a', { href: '#/packs' }, 'Go to the packs')));
    focusHeading();
    return;
  }
  const cleanups = [];
  const ctx = {
    config,
    onCleanup: (fn) => cleanups.push(fn),
    setTitle: (t) => { document.title = `${t} · VTO operator console`; },
    focusHeading,
  };
  try {
    found.r.render(found.m)(main, ctx);
  } catch (e) {
    main.append(errorNotice(e, 'Showing this page failed'));
  }
  cleanup = () => { for (const fn of cleanups) fn(); };
  focusHeading();
}

/** Moves focus to the page's heading so keyboard and screen-reader users start there. */
function focusHeading() {
  const h1 = main.querySelector('h1');
  if (h1) {
    if (!h1.hasAttribute('tabindex')) h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
  }
}

/** The header's badges: where the console points, and the emergency stop when it is on. */
function startHeaderStatus() {
  const mode = h('span', { class: 'mode-badge', title: config.api }, `${config.mode} · ${config.region}`);
  const stop = h('a', { class: 'stop-badge', href: '#/stats', hidden: true }, 'Emergency stop active');
  topStatus.replaceChildren(mode, stop);
  const stopBanner = h('div', { class: 'notice notice-warn banner', hidden: true });
  banner.prepend(stopBanner);
  const show = (health) => {
    stop.hidden = !health.emergencyStopped;
    stopBanner.hidden = !health.emergencyStopped;
    if (health.emergencyStopped) {
      const since = health.emergencyStop?.since;
      const reason = health.emergencyStop?.reason;
      stopBanner.replaceChildren(h('p', null,
        h('strong', null, 'Emergency stop is active'),
        since ? ` since ${formatDateTime(since)}` : '',
        reason ? ` (reason: ${reason})` : '',
        '. Executions are stopped and GPU consumption is paused; new work is refused until you resume. ',
        h('a', { href: '#/stats' }, 'Statistics & health')));
    }
  };
  window.addEventListener('vto:health', (ev) => show(ev.detail));
  poll(async () => {
    try {
      show(await api('/health'));
    } catch {
      // The pages report API errors where they happen; the header only shows the stop.
    }
    return 10_000;
  });
}

async function boot() {
  try {
    config = await consoleApi('/config');
    useStatuses(config);
  } catch (e) {
    clear(main).append(h('h1', { tabindex: '-1' }, 'The console could not start'), errorNotice(e, 'Loading the console configuration failed'));
    focusHeading();
    return;
  }
  startHeaderStatus();
  window.addEventListener('hashchange', route);
  route();
}

void boot();
