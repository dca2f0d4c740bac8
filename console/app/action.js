/**
 * The shape every operator action has: ask first (a dialog that says what happens), hold
 * its controls while the call is on its way (a second click would send it twice), say the
 * answer in words, then refresh what it changed.
 */
import { confirmDialog } from './dialog.js';
import { errorNotice } from './notice.js';

/**
 * @param {{
 *   label: string,
 *   confirm?: object,
 *   call: (answer: object) => Promise<any>,
 *   done?: (result: any, answer: object) => Node | undefined,
 *   slot: { show(node: Node): void },
 *   hold?: (held: boolean) => void,
 *   keepHeld?: boolean,
 *   after?: () => void,
 * }} o `label` names the action in its failure ("<label> failed: …"); `confirm` the dialog
 *   whose answer (its fields' values) goes to `call`; `done` turns the result into the notice
 *   shown in `slot` (or hands it on itself and returns nothing); `keepHeld` leaves the
 *   controls held after a success, for `after`'s refresh to decide (a cancelled job cannot
 *   be cancelled again); `after` runs after a success and after a failure.
 * @returns the call's result, or undefined when the operator cancelled or the call failed.
 */
export async function runAction(o) {
  const answer = o.confirm ? await confirmDialog(o.confirm) : {};
  if (!answer) return undefined;
  o.hold?.(true);
  let result;
  try {
    result = await o.call(answer);
    const said = o.done?.(result, answer);
    if (said) o.slot.show(said);
  } catch (e) {
    // A fault in putting the answer into words lands here too: said, never swallowed.
    o.slot.show(errorNotice(e, `${o.label} failed`));
    o.hold?.(false);
    o.after?.();
    return undefined;
  }
  if (!o.keepHeld) o.hold?.(false);
  o.after?.();
  return result;
}
