/**
 * Starting, listing and stopping executions of the pack and job machines. Execution names
 * come from the records (`${packId}-${runs + 1}`, `${jobId}-${runs + 1}`), so a name says
 * which pack or job an execution runs.
 */
import {
  ExecutionAlreadyExists, ExecutionDoesNotExist, ListExecutionsCommand, StartExecutionCommand, StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { STATE_MACHINES } from '../../core/resources.ts';
import { sfnClient } from '../adapters/aws-clients.ts';
import { config, required } from '../adapters/config.ts';

export type MachineKey = keyof typeof STATE_MACHINES;

export class ExecutionNameTakenError extends Error {
  override readonly name = 'ExecutionNameTakenError';
}

export function machineArn(machine: MachineKey): string {
  const c = config();
  return machine === 'pack'
    ? required(c.packStateMachineArn, STATE_MACHINES.pack.envVar)
    : required(c.jobStateMachineArn, STATE_MACHINES.job.envVar);
}

const CALL_TIMEOUT_MS = 10_000;

/** Starts an execution; a name already used by another execution throws ExecutionNameTakenError. */
export async function startExecution(machine: MachineKey, name: string, input: Record<string, unknown>): Promise<string> {
  try {
    const res = await sfnClient().send(
      new StartExecutionCommand({ stateMachineArn: machineArn(machine), name, input: JSON.stringify(input) }),
      { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
    if (!res.executionArn) throw new Error(`StartExecution of ${name} returned no executionArn`);
    return res.executionArn;
  } catch (e) {
    if (e instanceof ExecutionAlreadyExists || (e as { name?: string }).name === 'ExecutionAlreadyExists') {
      throw new ExecutionNameTakenError(`execution name ${name} is taken`, { cause: e });
    }
    throw e;
  }
}

/**
 * Starts an execution named after a record's next run. When the name is taken (an earlier
 * start never reached the step that counts runs), `bump` counts that run and the next
 * name is tried, a bounded number of times.
 */
export async function startNamedRun(
  machine: MachineKey,
  nextName: () => string,
  input: Record<string, unknown>,
  bump: () => Promise<void>,
  attempts = 3,
): Promise<string> {
  for (let i = 1; ; i++) {
    try {
      return await startExecution(machine, nextName(), input);
    } catch (e) {
      if (!(e instanceof ExecutionNameTakenError) || i >= attempts) throw e;
      await bump();
    }
  }
}

export interface RunningExecution {
  readonly executionArn: string;
  readonly name: string;
}

/** Every RUNNING execution of a machine (all pages). */
export async function runningExecutions(machine: MachineKey): Promise<RunningExecution[]> {
  const out: RunningExecution[] = [];
  let nextToken: string | undefined;
  do {
    const res = await sfnClient().send(
      new ListExecutionsCommand({ stateMachineArn: machineArn(machine), statusFilter: 'RUNNING', maxResults: 1000, ...(nextToken && { nextToken }) }),
      { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
    for (const e of res.executions ?? []) if (e.executionArn && e.name) out.push({ executionArn: e.executionArn, name: e.name });
    nextToken = res.nextToken;
  } while (nextToken);
  return out;
}

/** Stops an execution; one that already ended is fine. */
export async function stopExecution(executionArn: string, cause: string): Promise<void> {
  try {
    await sfnClient().send(
      new StopExecutionCommand({ executionArn, error: 'Control.Stopped', cause: cause.slice(0, 32_768) }),
      { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
  } catch (e) {
    if (e instanceof ExecutionDoesNotExist || (e as { name?: string }).name === 'ExecutionDoesNotExist') return;
    throw e;
  }
}

/** The record id in an execution name: `${id}-${run}` → id. */
export const recordIdOf = (executionName: string): string => executionName.replace(/-\d+$/, '');
