/**
 * The executions the watchdog and the reconciler look at and start: how an execution
 * stands (DescribeExecution, and its last history event for a running one), stopping a
 * silent one, and starting a job's or pack's next run under the name its record gives it.
 */
import {
  DescribeExecutionCommand, ExecutionAlreadyExists, ExecutionDoesNotExist, GetExecutionHistoryCommand,
  StartExecutionCommand, StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionView } from '../core/watchdog.ts';
import { access, grant } from './access.ts';
import { sfnClient } from './aws-clients.ts';

type Machine = 'job' | 'pack';
/** What each function here calls, on one machine or its executions. */
export const JOB_EXECUTIONS_ACCESS = {
  /** viewExecution; `withProgress` reads the newest history event too. */
  view: (m: Machine, withProgress = false) =>
    access(grant(`executions:${m}`, 'states', 'DescribeExecution', ...(withProgress ? ['GetExecutionHistory'] : []))),
  /** stopExecution */
  stop: (m: Machine) => access(grant(`executions:${m}`, 'states', 'StopExecution')),
  /** startRun */
  start: (m: Machine) => access(grant(`stateMachine:${m}`, 'states', 'StartExecution')),
} as const;

const CALL_TIMEOUT_MS = 10_000;
const timeout = () => ({ abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
const named = (e: unknown, name: string) => (e as { name?: unknown } | null)?.name === name;

/** The ARN an execution of `stateMachineArn` named `name` has (or will have). */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** The execution name at the end of its ARN. */
export const executionNameOf = (executionArn: string): string => executionArn.slice(executionArn.lastIndexOf(':') + 1);

/**
 * How an execution stands. A running one also tells when it last did anything (its newest
 * history event), when `withProgress` asks for it.
 */
export async function viewExecution(executionArn: string | undefined, withProgress: boolean): Promise<ExecutionView> {
  if (executionArn === undefined) return { status: 'MISSING' };
  let d;
  try {
    d = await sfnClient().send(new DescribeExecutionCommand({ executionArn }), timeout());
  } catch (e) {
    if (e instanceof ExecutionDoesNotExist || named(e, 'ExecutionDoesNotExist')) return { status: 'MISSING' };
    throw e;
  }
  switch (d.status) {
    case 'SUCCEEDED':
      return { status: 'SUCCEEDED' };
    case 'FAILED':
    case 'TIMED_OUT':
    case 'ABORTED':
      return { status: d.status, error: d.error ?? null, cause: d.cause ?? null };
    default: {
      // RUNNING, or PENDING_REDRIVE (about to run again).
      if (!withProgress) return { status: 'RUNNING', lastEventAt: null };
      const h = await sfnClient().send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1 }), timeout());
      const last = h.events?.[0]?.timestamp;
      return { status: 'RUNNING', lastEventAt: last === undefined ? null : last.getTime() };
    }
  }
}

/** Stops an execution; one that already ended (or never existed) is fine. */
export async function stopExecution(executionArn: string, error: string, cause: string): Promise<void> {
  try {
    await sfnClient().send(new StopExecutionCommand({ executionArn, error, cause: cause.slice(0, 32_768) }), timeout());
  } catch (e) {
    if (e instanceof ExecutionDoesNotExist || named(e, 'ExecutionDoesNotExist')) return;
    throw e;
  }
}

/**
 * Starts a run named after its record's next run. A name already taken (an earlier run
 * ended before it counted itself) is counted by `bump` and the next name tried, a bounded
 * number of times.
 */
export async function startRun(
  stateMachineArn: string,
  nextName: () => string,
  input: Record<string, unknown>,
  bump: () => Promise<void>,
  attempts = 3,
): Promise<string> {
  for (let i = 1; ; i++) {
    try {
      const res = await sfnClient().send(new StartExecutionCommand({ stateMachineArn, name: nextName(), input: JSON.stringify(input) }), timeout());
      if (!res.executionArn) throw new Error(`StartExecution of ${nextName()} returned no executionArn`);
      return res.executionArn;
    } catch (e) {
      const taken = e instanceof ExecutionAlreadyExists || named(e, 'ExecutionAlreadyExists');
      if (!taken || i >= attempts) throw e;
      await bump();
    }
  }
}
