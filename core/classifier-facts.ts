/**
 * The facts the classifier's rules read, pulled out of any shape of raw failure: a text, a
 * Node/undici/AWS SDK error with its cause chain, an HTTP status with its body, a ComfyUI
 * `/prompt` answer, a WebSocket frame, a history entry, a Lambda or Step Functions error
 * payload. Names, codes and statuses come from object fields and, for failures that are
 * only text, from the class names and codes the text prints (classifier-signals.ts).
 *
 * Bounded work: the rules never see more than MAX_TEXT_CHARS characters (each field keeps
 * its head and tail, where the HTML title and the final exception line are), and object
 * graphs are walked to MAX_DEPTH levels and MAX_OBJECTS objects.
 */
import { textSignals } from './classifier-signals.ts';
import { isErrorName } from './taxonomy.ts';

/** One ComfyUI validation error (`node_errors[id].errors[i]`). */
export interface NodeErrorFact {
  readonly type: string;
  readonly inputName: string | null;
  readonly classType: string | null;
  /** The value ComfyUI rejected (`extra_info.received_value`, or read from `details`). */
  readonly receivedValue: string | null;
  readonly text: string;
}

/** What the rules look at, extracted once from any raw failure. */
export interface Facts {
  /** Every message-like field, joined by newlines, at most MAX_TEXT_CHARS long. */
  readonly text: string;
  /** Error names: `name`, `__type`, Lambda's `errorType`, Step Functions' `Error`. */
  readonly names: readonly string[];
  /** Error codes: Node's `code`, AWS's `Code`, DynamoDB cancellation reasons. */
  readonly codes: readonly string[];
  /** The first HTTP status met (the outermost error's). */
  readonly status: number | null;
  /** Every HTTP status met, outermost first: a wrapped 401 still counts. */
  readonly statuses: readonly number[];
  readonly exceptionType: string | null;
  readonly nodeErrors: readonly NodeErrorFact[];
  /** The `error.type` of a ComfyUI /prompt 400 answer. */
  readonly promptErrorType: string | null;
  /** The AWS SDK flagged the error as throttling (`$retryable.throttling`). */
  readonly throttling: boolean;
}

/** Most characters of failure text the rules read. */
export const MAX_TEXT_CHARS = 64 * 1024;
/** Most characters kept from one field; a longer field keeps its first and last halves. */
const MAX_FIELD_CHARS = 16 * 1024;
/** How deep causes, bodies and nested errors are followed. */
const MAX_DEPTH = 8;
/** Most objects visited in one failure, so cyclic or huge graphs stay cheap. */
const MAX_OBJECTS = 256;
/** Bodies longer than this are read as text, not parsed as JSON. */
const MAX_JSON_CHARS = 256 * 1024;

/** Keeps the head and the tail of a long string: the title of a page, the last line of a traceback. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const half = Math.floor(max / 2);
  return `${s.slice(0, half)}\n…\n${s.slice(s.length - half)}`;
}

const TEXT_KEYS = [
  'message', 'Message', 'exception_message', 'details', 'detail', 'body', 'statusText', 'Cause', 'error_message',
  'errorMessage', 'reason', 'Reason',
] as const;

/**
 * Pulls the fields the rules read out of any shape of failure. Never throws: getters that
 * throw, cycles and exotic objects are skipped.
 */
export function extractFacts(raw: unknown): Facts {
  const texts: string[] = [];
  let textChars = 0;
  const names: string[] = [];
  const codes: string[] = [];
  const nodeErrors: NodeErrorFact[] = [];
  let status: number | null = null;
  const statuses: number[] = [];
  let exceptionType: string | null = null;
  let promptErrorType: string | null = null;
  let throttling = false;
  const seen = new WeakSet<object>();
  let objects = 0;

  const get = (o: object, key: string): unknown => {
    try {
      return (o as Record<string, unknown>)[key];
    } catch {
      return undefined;
    }
  };
  const ownValues = (o: object): unknown[] => {
    try {
      return Object.values(o);
    } catch {
      return [];
    }
  };
  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
  const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null;
  const addText = (s: string) => {
    if (textChars >= MAX_TEXT_CHARS) return;
    const piece = clip(s, MAX_FIELD_CHARS);
    texts.push(piece);
    textChars += piece.length + 1;
  };
  const setStatus = (v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 100 || v >= 600) return;
    status ??= v;
    if (!statuses.includes(v) && statuses.length < 16) statuses.push(v);
  };

  /** A string field: JSON objects (a raw HTTP body, a Lambda Cause) are read as objects. */
  const visitString = (s: string, depth: number) => {
    const t = s.trimStart();
    if (t.startsWith('{') && s.length <= MAX_JSON_CHARS) {
      try {
        const parsed: unknown = JSON.parse(s);
        if (isObject(parsed)) {
          visit(parsed, depth + 1);
          return;
        }
      } catch {
        // not JSON after all: read it as text
      }
    }
    addText(s);
  };

  const visitNodeErrors = (ne: object) => {
    for (const node of ownValues(ne).slice(0, 64)) {
      if (!isObject(node)) continue;
      const errors = get(node, 'errors');
      if (!Array.isArray(errors)) continue;
      const classType = str(get(node, 'class_type'));
      for (const e of errors.slice(0, 16)) {
        if (!isObject(e)) continue;
        const type = str(get(e, 'type')) ?? 'unknown';
        const extra = get(e, 'extra_info');
        const details = str(get(e, 'details')) ?? '';
        const received = isObject(extra) ? get(extra, 'received_value') : undefined;
        const inputName = (isObject(extra) ? str(get(extra, 'input_name')) : null) ?? /^(\w{1,64})[:,]/.exec(details)?.[1] ?? null;
        const receivedValue =
          typeof received === 'string' || typeof received === 'number' ? String(received) : /^\w{1,64}: '([^\n]{0,512}?)' not in/.exec(details)?.[1] ?? null;
        const text = `${str(get(e, 'message')) ?? ''}: ${details}`.trim();
        nodeErrors.push({ type, inputName, classType, receivedValue, text });
        addText(text);
        if (isObject(extra)) {
          const et = str(get(extra, 'exception_type'));
          if (et !== null) exceptionType ??= et;
        }
      }
    }
  };

  const visit = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH || v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (v.length > 0) visitString(v, depth);
      return;
    }
    if (!isObject(v) || seen.has(v) || ++objects > MAX_OBJECTS) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v.slice(0, 16)) visit(x, depth + 1);
      return;
    }

    // Names: JS `name`, AWS JSON `__type` (prefix#Name), Lambda `errorType`, ASL Catch `Error`.
    const name = str(get(v, 'name'));
    if (name !== null && name !== 'Error') names.push(name);
    const awsType = str(get(v, '__type'))?.split('#').pop();
    if (awsType !== undefined && awsType !== '' && awsType !== name) names.push(awsType);
    const errorType = str(get(v, 'errorType'));
    if (errorType !== null) names.push(errorType);
    const aslError = get(v, 'Error');
    if (typeof aslError === 'string' && /^[\w.]{1,128}$/.test(aslError)) names.push(aslError);
    else if (typeof aslError === 'string') addText(aslError);
    else if (isObject(aslError)) visit(aslError, depth + 1);

    for (const key of ['code', 'Code', 'errno']) {
      const c = get(v, key);
      if (typeof c === 'string' && c.length > 0) codes.push(c);
      else if (key === 'code') setStatus(c);
    }
    const reasons = get(v, 'CancellationReasons');
    if (Array.isArray(reasons)) {
      for (const r of reasons.slice(0, 32)) {
        const c = isObject(r) ? str(get(r, 'Code')) : null;
        if (c !== null) codes.push(c);
      }
    }

    const metadata = get(v, '$metadata');
    for (const s of [get(v, 'status'), get(v, 'statusCode'), get(v, 'httpStatusCode'), isObject(metadata) ? get(metadata, 'httpStatusCode') : undefined]) setStatus(s);
    const retryable = get(v, '$retryable');
    if (isObject(retryable) && get(retryable, 'throttling') === true) throttling = true;

    for (const key of TEXT_KEYS) {
      const s = get(v, key);
      if (typeof s === 'string' && s.length > 0) visitString(s, depth);
      else if (key === 'body' && isObject(s)) visit(s, depth + 1);
    }
    const et = str(get(v, 'exception_type'));
    if (et !== null) {
      exceptionType ??= et;
      addText(et);
    }
    const traceback = get(v, 'traceback');
    if (Array.isArray(traceback)) for (const t of traceback.slice(-3)) if (typeof t === 'string') addText(t);

    const err = get(v, 'error');
    if (isObject(err) && !Array.isArray(err)) {
      const type = str(get(err, 'type'));
      if (type !== null) promptErrorType ??= type;
      visit(err, depth + 1);
    } else if (typeof err === 'string') {
      // Step Functions' execution and event details: {"error": "States.HeartbeatTimeout", "cause": …}.
      if (isErrorName(err)) names.push(err);
      // ComfyUI's /prompt answers a request without a graph with {"error": "no prompt", "node_errors": []}.
      if (get(v, 'node_errors') !== undefined && /^no prompt$/i.test(err.trim())) promptErrorType ??= 'no_prompt';
      visitString(err, depth);
    }
    const ne = get(v, 'node_errors');
    if (isObject(ne)) visitNodeErrors(ne);

    // A WebSocket frame {type, data} (its type is the event name), a client's response.data,
    // a history entry's status.messages [[event, data], …].
    const data = get(v, 'data');
    if (isObject(data)) {
      const frameType = str(get(v, 'type'));
      if (frameType !== null) addText(frameType);
      visit(data, depth + 1);
    }
    const statusObj = get(v, 'status');
    if (isObject(statusObj)) visit(statusObj, depth + 1);
    // GET /history/{prompt_id} answers {prompt_id: {prompt, outputs, status, meta}}.
    for (const entry of ownValues(v).slice(0, 8)) {
      if (isObject(entry) && isObject(get(entry, 'status')) && isObject(get(entry, 'outputs'))) visit(entry, depth + 1);
    }
    const messages = get(v, 'messages');
    if (Array.isArray(messages)) {
      for (const m of messages.slice(-8)) {
        if (Array.isArray(m) && typeof m[0] === 'string') {
          addText(m[0]);
          visit(m[1], depth + 1);
        }
      }
    }

    visit(get(v, 'cause'), depth + 1);
    visit(get(v, 'response'), depth + 1);
    const errors = get(v, 'errors');
    if (Array.isArray(errors)) for (const e of errors.slice(0, 10)) visit(e, depth + 1);
    else if (typeof errors === 'string') visitString(errors, depth);
  };

  visit(raw, 0);
  const text = clip(texts.join('\n'), MAX_TEXT_CHARS);
  // Class names and codes printed in the text count like those read from objects.
  for (const signal of textSignals(text)) {
    names.push(signal);
    codes.push(signal);
  }
  // Clients that only say "Request failed with status code 503" or "answered HTTP 429".
  if (status === null) setStatus(Number(/\b(?:status(?: code)?|HTTP(?:\/\d(?:\.\d)?)?)[ :=]{1,3}([1-5]\d\d)\b/i.exec(text)?.[1]));
  return { text, names, codes, status, statuses, exceptionType, nodeErrors, promptErrorType, throttling };
}
