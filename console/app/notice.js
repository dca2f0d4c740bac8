/** Messages to the operator: errors in words (role=alert), results (role=status). */
import { describeError } from './api.js';
import { h } from './dom.js';

export function errorNotice(e, doing) {
  const d = describeError(e, doing);
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('p', { class: 'notice-title' }, d.title),
    d.hint ? h('p', { class: 'notice-hint' }, d.hint) : null,
    d.issues.length > 0 ? h('ul', { class: 'notice-issues' }, d.issues.map((i) => h('li', null, i))) : null,
    h('p', { class: 'notice-ref' }, d.reference));
}

export function successNotice(...children) {
  return h('div', { class: 'notice notice-ok', role: 'status' }, h('p', null, ...children));
}

export function infoNotice(...children) {
  return h('div', { class: 'notice notice-info' }, h('p', null, ...children));
}

/** A place for one message at a time. */
export function messageSlot() {
  const el = h('div', { class: 'msg-slot' });
  return {
    el,
    show(node) { el.replaceChildren(node); },
    clear() { el.replaceChildren(); },
  };
}
