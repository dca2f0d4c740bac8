/**
 * EventBridge "Step Functions Execution Status Change" events, and delivering them to the
 * listener without its failures or slowness ever reaching an execution.
 */
import { randomUUID } from 'node:crypto';
import type { Account } from './arns.ts';
import type { ExecutionDescription } from './run-env.ts';
import type { EventBridgeStepFunctionsStatusEvent } from './types.ts';

export function statusChangeEvent(d: ExecutionDescription, account: Account): EventBridgeStepFunctionsStatusEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: account.accountId,
    time: new Date(d.stopDate ?? d.startDate).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: account.region,
    resources: [d.executionArn],
    detail: {
      executionArn: d.executionArn,
      stateMachineArn: d.stateMachineArn,
      name: d.name,
      status: d.status,
      startDate: d.startDate,
      stopDate: d.stopDate ?? null,
      input: d.input,
      inputDetails: { included: true },
      output: d.output ?? null,
      outputDetails: d.output !== undefined ? { included: true } : null,
      error: d.error ?? null,
      cause: d.cause ?? null,
    },
  };
}

export class StatusNotifier {
  private readonly listener: ((e: EventBridgeStepFunctionsStatusEvent) => void | Promise<void>) | undefined;
  private readonly account: Account;
  private readonly pending = new Set<Promise<void>>();

  constructor(listener: ((e: EventBridgeStepFunctionsStatusEvent) => void | Promise<void>) | undefined, account: Account) {
    this.listener = listener;
    this.account = account;
  }

  /** Delivers on a later turn, so the listener never runs inside an execution's call stack. */
  notify(d: ExecutionDescription): void {
    const listener = this.listener;
    if (!listener) return;
    const event = statusChangeEvent(d, this.account);
    const delivery = Promise.resolve()
      .then(() => listener(event))
      .catch(() => {
        // A listener's failure is its own business, as with an EventBridge target.
      });
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }

  /** Deliveries still in flight (for stop()). */
  inFlight(): Promise<void>[] {
    return [...this.pending];
  }
}
