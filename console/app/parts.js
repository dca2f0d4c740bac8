/** Page parts more than one page draws the same way. */
import { h, uid } from './dom.js';

/** A titled section; its heading names it for assistive technology. */
export function card(title, ...children) {
  const id = uid('card');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id, class: 'card-title' }, title), ...children);
}

/** The items of a <dl class="meta-grid">, from [term, value] pairs. */
export const metaItems = (rows) => rows.map(([k, v]) => h('div', { class: 'meta-item' }, h('dt', null, k), h('dd', null, v)));
