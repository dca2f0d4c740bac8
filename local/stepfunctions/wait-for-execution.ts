/**
 * Polls DescribeExecution until an execution leaves RUNNING (or a condition holds), for
 * tests and tools that drive executions through the SDK. Works against AWS too.
 */
import { DescribeExecutionCommand, type DescribeExecutionCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';

export class ExecutionWaitTimeout extends Error {
  override readonly name = 'ExecutionWaitTimeout';
}

export interface WaitOptions {
  /** Default 20 s. */
  timeoutMs?: number;
  /** Default 20 ms. */
  intervalMs?: number;
  /** Default: the execution is no longer RUNNING. */
  until?: (d: DescribeExecutionCommandOutput) => boolean;
}

export async function waitForExecution(client: SFNClient, executionArn: string, o: WaitOptions = {}): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  const until = o.until ?? ((d) => d.status !== 'RUNNING');
  for (;;) {
    const d = await client.send(new DescribeExecutionCommand({ executionArn }), { abortSignal: AbortSignal.timeout(5000) });
    if (until(d)) return d;
    if (Date.now() > deadline) throw new ExecutionWaitTimeout(`${executionArn} is still ${d.status} after ${o.timeoutMs ?? 20_000} ms`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 20));
  }
}
