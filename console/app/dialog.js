/* global document */
/**
 * Confirmation dialogs on the native modal <dialog>: the rest of the page is inert while
 * it is open, Tab stays inside, Escape cancels, and focus returns to the control that
 * opened it. Resolves with the values of its fields, or null when cancelled.
 */
import { h, uid } from './dom.js';

/**
 * @param {{ title: string, body: (Node|string)[], confirmLabel: string, danger?: boolean,
 *   fields?: Node[], read?: () => object, focus?: 'cancel' | 'confirm' | 'first-field' }} o
 */
export function confirmDialog(o) {
  const opener = document.activeElement;
  const titleId = uid('dlg-title');
  const descId = uid('dlg-desc');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const confirm = h('button', { type: 'submit', class: ['btn', o.danger ? 'btn-danger' : 'btn-primary'] }, o.confirmLabel);
  const form = h('form', { class: 'dialog-form', novalidate: true },
    h('h2', { id: titleId, class: 'dialog-title' }, o.title),
    h('div', { id: descId, class: 'dialog-body' }, ...o.body),
    o.fields ? h('div', { class: 'dialog-fields' }, ...o.fields) : null,
    h('div', { class: 'dialog-actions' }, cancel, confirm));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, 'aria-describedby': descId }, form);
  document.body.append(dialog);

  return new Promise((resolve) => {
    let result = null;
    const close = () => dialog.close();
    cancel.addEventListener('click', close);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      result = o.read ? o.read() : {};
      close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && typeof opener.focus === 'function' && opener.isConnected) opener.focus();
      resolve(result);
    });
    dialog.showModal();
    const firstField = form.querySelector('.dialog-fields input, .dialog-fields select, .dialog-fields textarea');
    const target = o.focus === 'confirm' ? confirm : o.focus === 'first-field' && firstField ? firstField : cancel;
    target.focus();
  });
}
