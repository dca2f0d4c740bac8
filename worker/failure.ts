/**
 * From whatever went wrong in a job to what SendTaskFailure carries: `error` is the
 * taxonomy name (the state machine's Retry/Catch match on it) and `cause` a JSON summary
 * that always fits Step Functions' limits, however long ComfyUI's traceback was.
 */
import { isTaught, type Classifier } from '../core/classifier.ts';
import { isPipelineError } from '../core/errors.ts';
import { TASK_FAILURE_LIMITS } from '../core/gpu-message.ts';
import type { ErrorName } from '../core/taxonomy.ts';
import { ComfyHttpError } from './comfy-client.ts';

/** A ComfyUI execution_error (from the WebSocket or the history), kept as raw data. */
export class ExecutionError extends Error {
  override readonly name = 'ComfyExecutionError';
  readonly data: Record<string, unknown>;

  constructor(data: Record<string, unknown>) {
    const type = typeof data['exception_type'] === 'string' ? data['exception_type'] : 'Exception';
    const msg = typeof data['exception_message'] === 'string' ? data['exception_message'] : 'execution failed';
    super(`ComfyUI execution_error in node ${String(data['node_id'] ?? '?')} (${String(data['node_type'] ?? '?')}): ${type}: ${msg}`);
    this.data = data;
  }
}

export interface TaskFailure {
  readonly error: ErrorName;
  readonly cause: string;
  /** The classifier's evidence, for logs. */
  readonly matched: string | null;
}

/** What the classifier should look at for an error: ComfyUI bodies and event data as they came. */
function rawFor(e: unknown): unknown {
  if (e instanceof ExecutionError) return e.data;
  if (e instanceof ComfyHttpError) {
    const body = e.json !== null && typeof e.json === 'object' && !Array.isArray(e.json) ? e.json : { body: e.body };
    return { ...body, status: e.status, message: e.message };
  }
  return e;
}

function summaryOf(e: unknown): Record<string, unknown> {
  if (e instanceof ExecutionError) {
    const d = e.data;
    return {
      message: e.message,
      node_id: d['node_id'], node_type: d['node_type'],
      exception_type: d['exception_type'], exception_message: d['exception_message'],
      traceback: Array.isArray(d['traceback']) ? d['traceback'] : undefined,
    };
  }
  if (e instanceof ComfyHttpError) return { message: e.message, route: e.route, status: e.status, body: e.json ?? e.body };
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `${e.cause.name}: ${e.cause.message}` : undefined;
    return { message: `${e.name}: ${e.message}`, ...(cause !== undefined && { cause }) };
  }
  return { message: String(e) };
}

/** Cuts a string to at most `max` UTF-16 units without leaving half a surrogate pair. */
export function cutText(s: string, max: number, marker = '…[truncated]'): string {
  if (s.length <= max) return s;
  if (max <= marker.length) return s.slice(0, Math.max(0, max));
  let cut = s.slice(0, max - marker.length);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut + marker;
}

/**
 * JSON of `summary` within `limit` characters. Long values are shortened first (a
 * traceback keeps its last lines, where the error is); plain cutting is the last resort.
 */
export function fitCause(summary: Record<string, unknown>, limit: number = TASK_FAILURE_LIMITS.cause): string {
  const full = JSON.stringify(summary);
  if (full.length <= limit) return full;
  for (const budget of [4000, 1000, 200]) {
    const shrunk: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(summary)) {
      if (Array.isArray(v)) {
        const lines = v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
        const kept: string[] = [];
        let used = 0;
        for (let i = lines.length - 1; i >= 0 && used < budget; i--) {
          const line = cutText(lines[i] ?? '', budget);
          kept.unshift(line);
          used += line.length;
        }
        shrunk[k] = kept.length < lines.length ? [`…[${lines.length - kept.length} lines dropped]`, ...kept] : kept;
      } else if (typeof v === 'string') {
        shrunk[k] = cutText(v, budget);
      } else if (v !== null && typeof v === 'object') {
        shrunk[k] = cutText(JSON.stringify(v), budget);
      } else {
        shrunk[k] = v;
      }
    }
    const text = JSON.stringify(shrunk);
    if (text.length <= limit) return text;
  }
  return cutText(full, limit);
}

/** Names a failure with the classifier and builds SendTaskFailure's fields. */
export function toTaskFailure(e: unknown, classifier: Classifier, context: Record<string, unknown> = {}): TaskFailure {
  // A name the worker's code chose stands; an Unclassified one may still be named by an operator-taught pattern.
  const asked = !isPipelineError(e) || e.name === 'Unclassified' ? classifier.classify(rawFor(e), { stage: 'inpaint' }) : null;
  const verdict = asked !== null && (!isPipelineError(e) || isTaught(asked)) ? asked : null;
  const name: ErrorName = verdict?.name ?? (isPipelineError(e) ? e.name : 'Unclassified');
  const matched = verdict?.matched ?? (isPipelineError(e) ? (e.context.matched ?? `name:${e.name}`) : null);
  const cause = fitCause({ ...summaryOf(e), matched, ...context });
  return { error: cutText(name, TASK_FAILURE_LIMITS.error) as ErrorName, cause, matched };
}
