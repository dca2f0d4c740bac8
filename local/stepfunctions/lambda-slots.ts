/**
 * How many in-process Lambda handlers run at once. Every function of the offline stack runs
 * in one Node process, beside the simulated providers, and shares its event loop and libuv
 * threadpool (sharp). On AWS each invocation has its own sandbox; here, a burst of a hundred
 * executions would run a hundred handlers at once, and the providers' answers would wait
 * behind them until their callers time out — a fault of the emulator, not of the pipeline.
 * Invocations beyond the bound wait for a slot in the order they were made, so work keeps
 * the order it arrived in; a function's timeout starts when its handler does, as on Lambda.
 */
export class LambdaSlots {
  private busy = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
    if (!(limit >= 1)) throw new RangeError(`lambdaConcurrency must be ≥ 1, got ${limit}`);
  }

  /** Resolves with the slot's release once a handler may start. */
  async acquire(): Promise<() => void> {
    if (this.busy < this.limit) this.busy++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the oldest waiter, so the count never dips and refills.
      const next = this.waiting.shift();
      if (next) next();
      else this.busy--;
    };
  }

  get queued(): number {
    return this.waiting.length;
  }
}
