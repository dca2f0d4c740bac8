/* global document, URL */
/**
 * Building DOM from data: elements are created and text goes in as text nodes, never as
 * markup, so nothing a job, pack or error holds can become HTML or script. (The server's
 * Content-Security-Policy also requires Trusted Types, which makes any innerHTML with a
 * string throw.)
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (typeof c === 'string' || typeof c === 'number') el.append(document.createTextNode(String(c)));
    else el.append(c);
  }
}

function applyProps(el, props) {
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'on') for (const [type, fn] of Object.entries(v)) el.addEventListener(type, fn);
    else if (k === 'style') for (const [p, val] of Object.entries(v)) el.style.setProperty(p, String(val));
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    else if (k === 'hidden') el.hidden = Boolean(v);
    else if (k === 'href') el.setAttribute('href', safeHref(String(v)));
    else if (k.startsWith('on')) throw new Error(`use props.on for event handlers, not ${k}`);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** Only in-app hash links and http(s) URLs become links; anything else (javascript:, data:) is dropped. */
export function safeHref(href) {
  if (href.startsWith('#')) return href;
  try {
    const u = new URL(href, document.baseURI);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : '#';
  } catch {
    return '#';
  }
}

/** h('div', { class: 'x', on: { click } }, 'text', child, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Sets text only when it changed (keeps screen readers and selections calm during polling). */
export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

/**
 * A button that stays focusable when unavailable (aria-disabled), so focus is not lost
 * when it becomes unavailable under the operator's hand, and keyboard users can still
 * reach it and read why. Clicks while unavailable do nothing.
 */
export function actionButton(label, onClick, cls = 'btn') {
  const b = h('button', { type: 'button', class: cls }, label);
  b.addEventListener('click', (ev) => {
    if (b.getAttribute('aria-disabled') === 'true') {
      ev.preventDefault();
      return;
    }
    onClick(ev);
  });
  return b;
}

export function setDisabled(button, disabled) {
  if (disabled) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
}

let idCounter = 0;
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** Text only screen readers read. */
export const srOnly = (...children) => h('span', { class: 'sr-only' }, ...children);
