/**
 * The watchdog and the reconciler offline, as EventBridge runs them on AWS: the reconciler
 * handler hears the local Step Functions service's status-change events through the same
 * filter as the CDK rule, and the watchdog handler runs on a timer standing for the schedule
 * (its period scaled like every wait), one sweep at a time.
 */
import type { Context } from 'aws-lambda';
import { isReconciledStatus } from '../core/watchdog.ts';
import type { SweepReport } from '../adapters/watchdog-sweep.ts';
import { runsAs } from './iam/enforce.ts';
import { lambdaContext } from './lambda-context.ts';
import type { EventBridgeStepFunctionsStatusEvent } from './stepfunctions/index.ts';


type Handler<E, R> = (event: E, context: Context) => Promise<R>;

const context = (functionName: string, timeoutMs: number): Context => lambdaContext({ functionName, deadline: Date.now() + timeoutMs });

/** Forwards the events the CDK rule matches (these machines, these statuses) to the reconciler handler. */
export async function reconcilerListener(stateMachineArns: () => readonly string[]): Promise<(e: EventBridgeStepFunctionsStatusEvent) => Promise<void>> {
  const { handler: reconcilerHandler } = (await import('../lambdas/handlers/reconciler.ts')) as { handler: Handler<unknown, unknown> };
  // Its SDK calls are checked against the Reconciler role when IAM is enforced (local/iam/).
  const handler = runsAs('Reconciler', reconcilerHandler);
  return async (e) => {
    if (!isReconciledStatus(e.detail.status) || !stateMachineArns().includes(e.detail.stateMachineArn)) return;
    await handler(e, context('vto-reconciler', 60_000));
  };
}

export interface WatchdogTimer {
  /** Sweeps finished so far. */
  readonly sweeps: number;
  /** The report of the next sweep to finish (one that starts after this call). */
  next(): Promise<SweepReport>;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/**
 * Runs the watchdog handler every `periodMs`, never two sweeps at once: the next period
 * starts when a sweep ends (on AWS the handler's lease does the same). A failed sweep is
 * logged by the handler and the timer goes on. `sweepHandler` replaces the real one in tests.
 */
export async function startWatchdogTimer(periodMs: number, sweepHandler?: Handler<unknown, SweepReport>): Promise<WatchdogTimer> {
  const handler = sweepHandler ?? runsAs('Watchdog', ((await import('../lambdas/handlers/watchdog.ts')) as { handler: Handler<unknown, SweepReport> }).handler);
  let sweeps = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let waiters: { started: number; resolve: (r: SweepReport) => void; reject: (e: Error) => void }[] = [];

  const run = async () => {
    const started = sweeps;
    try {
      const report = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event', time: new Date().toISOString() }, context('vto-watchdog', periodMs * 10));
      sweeps++;
      const ready = waiters.filter((w) => w.started <= started);
      waiters = waiters.filter((w) => w.started > started);
      for (const w of ready) w.resolve(report);
    } catch {
      sweeps++;
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = run().finally(() => {
        running = undefined;
        schedule();
      });
    }, periodMs);
  };
  schedule();
  return {
    get sweeps() {
      return sweeps;
    },
    next() {
      // A sweep already under way may have read the tables before the caller's change.
      const after = running === undefined ? sweeps : sweeps + 1;
      return new Promise<SweepReport>((resolve, reject) => waiters.push({ started: after, resolve, reject }));
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      for (const w of waiters) w.reject(new Error('the watchdog timer stopped'));
      waiters = [];
    },
  };
}
