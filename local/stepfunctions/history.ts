/**
 * An execution's event history in the shape GetExecutionHistory returns: the state
 * events the library reports (mapped to `TaskStateEntered`, `MapStateExited`, …) and the
 * task, Map and execution events we write ourselves.
 */
import type { StateMachine } from 'aws-local-stepfunctions';
import { InvalidToken } from './api-errors.ts';
import type { StateType } from './compile.ts';
import type { Json, JsonObject } from './types.ts';

/** As AWS: an execution fails when its history would pass 25,000 events. */
export const HISTORY_EVENT_LIMIT = 25_000;

export type LibraryEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly type: string;
  readonly detailsKey?: string;
  readonly details?: JsonObject;
}

export interface HistoryPage {
  events: JsonObject[];
  nextToken?: string;
}

export const jsonText = (v: Json | undefined): string => JSON.stringify(v ?? null);

const DATA_FIELDS = new Set(['input', 'inputDetails', 'output', 'outputDetails', 'parameters']);

export class History {
  private readonly events: HistoryEvent[] = [];
  private readonly onLimit: () => void;
  private limitReached = false;
  private sealed = false;

  constructor(onLimit: () => void) {
    this.onLimit = onLimit;
  }

  get length(): number {
    return this.events.length;
  }

  all(): readonly HistoryEvent[] {
    return this.events;
  }

  /** Adds an event; ignored once the execution has ended or the limit is reached. */
  add(type: string, detailsKey?: string, details?: JsonObject): void {
    if (this.sealed) return;
    if (this.events.length >= HISTORY_EVENT_LIMIT - 1) {
      if (!this.limitReached) {
        this.limitReached = true;
        this.onLimit();
      }
      return;
    }
    this.push(type, detailsKey, details);
  }

  /** Adds the execution's terminal event; nothing is added after it. */
  close(type: string, detailsKey?: string, details?: JsonObject): void {
    if (this.sealed) return;
    this.push(type, detailsKey, details);
    this.sealed = true;
  }

  private push(type: string, detailsKey?: string, details?: JsonObject): void {
    const id = this.events.length + 1;
    this.events.push({
      id,
      previousEventId: id - 1,
      timestamp: Date.now(),
      type,
      ...(detailsKey !== undefined && details !== undefined ? { detailsKey, details } : {}),
    });
  }

  /** A page of events, oldest first unless reversed; the token names the last event returned. */
  page(opts: { maxResults?: number; nextToken?: string; reverseOrder?: boolean; includeExecutionData?: boolean }): HistoryPage {
    const max = opts.maxResults && opts.maxResults > 0 ? Math.min(opts.maxResults, 1000) : 100;
    const reverse = opts.reverseOrder === true;
    let after = reverse ? this.events.length + 1 : 0;
    if (opts.nextToken !== undefined) after = decodeToken(opts.nextToken);
    const slice = reverse
      ? this.events.slice(Math.max(0, after - 1 - max), after - 1).reverse()
      : this.events.slice(after, after + max);
    const last = slice.at(-1);
    const more = last !== undefined && (reverse ? last.id > 1 : last.id < this.events.length);
    return {
      events: slice.map((e) => toWire(e, opts.includeExecutionData !== false)),
      ...(more ? { nextToken: encodeToken(last.id) } : {}),
    };
  }
}

function toWire(e: HistoryEvent, includeData: boolean): JsonObject {
  const wire: JsonObject = { timestamp: e.timestamp / 1000, type: e.type, id: e.id, previousEventId: e.previousEventId };
  if (e.detailsKey !== undefined && e.details !== undefined) {
    wire[e.detailsKey] = includeData ? e.details : Object.fromEntries(Object.entries(e.details).filter(([k]) => !DATA_FIELDS.has(k)));
  }
  return wire;
}

const encodeToken = (id: number): string => Buffer.from(JSON.stringify({ h: id })).toString('base64url');

function decodeToken(token: string): number {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof v === 'object' && v !== null && 'h' in v && Number.isInteger(v.h)) return v.h as number;
  } catch {
    // falls through to the error below
  }
  throw new InvalidToken(`Invalid nextToken: '${token}'`);
}

const dataDetails = (name: string, field: 'input' | 'output', value: Json | undefined): JsonObject => ({
  name,
  [field]: jsonText(value),
  [`${field}Details`]: { truncated: false },
});

/**
 * Writes the history event for one library event. Only state entry and exit are kept:
 * AWS has no StateFailed/StateRetried/StateCaught events (a retry shows as TaskFailed
 * followed by a new TaskScheduled), and execution events are ours.
 */
export function recordLibraryEvent(history: History, stateTypes: ReadonlyMap<string, StateType>, ev: LibraryEvent): void {
  if (ev.type !== 'StateEntered' && ev.type !== 'StateExited') return;
  const type = stateTypes.get(ev.state.name) ?? ev.state.type;
  if (ev.type === 'StateEntered') {
    history.add(`${type}StateEntered`, 'stateEnteredEventDetails', dataDetails(ev.state.name, 'input', ev.state.input));
  } else {
    history.add(`${type}StateExited`, 'stateExitedEventDetails', dataDetails(ev.state.name, 'output', ev.state.output));
  }
}
