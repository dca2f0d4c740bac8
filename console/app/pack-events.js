/**
 * A pack's lifecycle events in its panel (pack started … pack completed, each job's
 * completion, failure, recovery or cancellation), read from the console server's
 * /console/api/events, which offline reads the local event bus. New events are appended
 * as the packs page polls. Deployed, there is no local bus: the section says where the
 * events are instead.
 */
import { consoleApi } from './api.js';
import { h } from './dom.js';
import { formatDateTime, formatTime } from './format.js';
import { jobLink } from './links.js';
import { errorNotice, infoNotice, messageSlot } from './notice.js';

/** Events kept in a panel: a pack of thousands of jobs has thousands of job events. */
const KEEP = 500;

export function packEvents(packId, config) {
  const list = h('ol', { class: 'event-list', 'aria-label': 'Lifecycle events', 'aria-live': 'polite' });
  const msg = messageSlot();
  const empty = h('p', { class: 'muted empty', hidden: true }, 'No event yet.');
  const el = h('section', { class: 'pack-events', 'aria-label': 'Events' },
    h('div', { class: 'jobs-head' }, h('h3', null, 'Events')), msg.el, empty, list);
  let after = 0;
  let loading = false;

  if (!config.localEvents) {
    msg.show(infoNotice('Events are on the pipeline\'s EventBridge bus (source vto.pipeline): add a rule with a target of yours. Offline, the console lists them here from the local bus.'));
    return { el, refresh: () => Promise.resolve() };
  }

  const row = (e) => h('li', { class: 'event', dataset: { type: e.type, seq: e.seq } },
    h('time', { datetime: e.time, title: formatDateTime(e.time) }, formatTime(e.time)),
    ' ', h('code', { class: 'event-type' }, e.type),
    e.jobId ? [' job ', jobLink(e.jobId)] : null,
    e.note ? h('span', { class: 'event-note' }, ` ${e.note}`) : null);

  async function refresh() {
    if (loading) return;
    loading = true;
    try {
      const page = await consoleApi(`/events?pack=${encodeURIComponent(packId)}&after=${after}`);
      msg.clear();
      list.append(...page.events.map(row));
      while (list.children.length > KEEP) list.firstElementChild.remove();
      after = page.next;
      empty.hidden = list.children.length > 0;
    } catch (e) {
      msg.show(errorNotice(e, 'Loading the events failed'));
    } finally {
      loading = false;
    }
  }

  return { el, refresh };
}
