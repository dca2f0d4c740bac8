/**
 * One attempt of one Task state (each Retry is a new attempt). The first of these ends
 * it: its work finishing, a SendTask* call, its timeout, its heartbeat lapsing, or its
 * execution (or enclosing Map iteration) being aborted. Later outcomes are ignored.
 */
import { overLimit } from './payload-limit.ts';
import { HeartbeatTimeoutError, TaskAbortedError } from './task-errors.ts';
import type { Json } from './types.ts';

/** Writes the attempt's outcome to the history (TaskSucceeded, LambdaFunctionFailed, …). */
export interface TaskReporter {
  succeeded(output: Json): void;
  failed(error: string, cause: string): void;
  timedOut(error: string, cause: string): void;
}

export interface TaskAttemptOptions {
  /** The Task state, named in payload-limit errors. */
  readonly stateName: string;
  /** Aborted when the execution or enclosing iteration stops. */
  readonly scope: AbortSignal;
  readonly reporter: TaskReporter;
  /** Scaled TimeoutSeconds in ms; undefined = unbounded. */
  readonly timeoutMs?: number | undefined;
  /** Scaled HeartbeatSeconds in ms; only callback tasks have one. */
  readonly heartbeatMs?: number | undefined;
  readonly statesTimeout: () => Error;
}

export class TaskAttempt {
  readonly result: Promise<Json>;
  /** Fires when the attempt is abandoned (timeout, heartbeat, abort): the handler's abortSignal. */
  readonly abandoned: AbortSignal;
  private readonly controller = new AbortController();
  private readonly opts: TaskAttemptOptions;
  private readonly closers: (() => void)[] = [];
  private settled = false;
  private resolve: (v: Json) => void = () => undefined;
  private reject: (e: Error) => void = () => undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly onScopeAbort = (): void => this.abandon(new TaskAbortedError('The execution was stopped'));

  constructor(opts: TaskAttemptOptions) {
    this.opts = opts;
    this.abandoned = this.controller.signal;
    this.result = new Promise<Json>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The library may stop listening (its execution already aborted); that is not an unhandled rejection.
    this.result.catch(() => undefined);
    if (opts.scope.aborted) {
      this.onScopeAbort();
      return;
    }
    opts.scope.addEventListener('abort', this.onScopeAbort, { once: true });
    if (opts.timeoutMs !== undefined) {
      this.timeoutTimer = setTimeout(() => {
        if (this.settled) return;
        const error = opts.statesTimeout();
        opts.reporter.timedOut(error.name, 'The task did not finish within TimeoutSeconds');
        this.abandon(error);
      }, opts.timeoutMs);
    }
    this.armHeartbeat();
  }

  get isOpen(): boolean {
    return !this.settled;
  }

  /** Runs when the attempt ends, however it ends (close its token, stop its child…). */
  onClose(fn: () => void): void {
    if (this.settled) fn();
    else this.closers.push(fn);
  }

  succeed(output: Json): boolean {
    if (this.settled) return false;
    const tooLarge = overLimit(this.opts.stateName, 'result', output);
    if (tooLarge) return this.fail(tooLarge);
    this.opts.reporter.succeeded(output);
    this.close();
    this.resolve(output);
    return true;
  }

  fail(error: Error): boolean {
    if (this.settled) return false;
    this.opts.reporter.failed(error.name, error.message);
    this.close();
    this.reject(error);
    return true;
  }

  /** SendTaskHeartbeat: restarts the HeartbeatSeconds clock. */
  heartbeat(): void {
    if (this.settled) return;
    this.armHeartbeat();
  }

  private armHeartbeat(): void {
    const ms = this.opts.heartbeatMs;
    if (ms === undefined) return;
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => {
      if (this.settled) return;
      const error = new HeartbeatTimeoutError('No heartbeat was received within HeartbeatSeconds');
      this.opts.reporter.timedOut(error.name, error.message);
      this.abandon(error);
    }, ms);
  }

  private abandon(error: Error): void {
    if (this.settled) return;
    this.close();
    this.controller.abort(error);
    this.reject(error);
  }

  private close(): void {
    this.settled = true;
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.heartbeatTimer);
    this.opts.scope.removeEventListener('abort', this.onScopeAbort);
    for (const fn of this.closers.splice(0)) {
      try {
        fn();
      } catch {
        // a closer's failure must not keep the attempt from settling
      }
    }
  }
}
