/**
 * Starting, listing and stopping executions of the pack and job machines. Execution names
 * come from the records (`${packId}-${runs + 1}`, `${jobId}-${runs + 1}`), so a name says
 * which pack or job an execution runs.
 */
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { STATE_MACHINES } from '../../core/resources.ts';
import { sfnClient } from '../../adapters/aws-clients.ts';
import { config, required } from '../../adapters/config.ts';
import { JOB_EXECUTIONS_ACCESS, startRun, stopExecution as stopRun } from '../../adapters/job-executions.ts';
import { access, grant } from '../../adapters/access.ts';

/** Starts, lists (the emergency stop) and stops runs of both machines. */
export const EXECUTIONS_ACCESS = access(
  ...(['job', 'pack'] as const).flatMap((m) => [
    JOB_EXECUTIONS_ACCESS.start(m), JOB_EXECUTIONS_ACCESS.stop(m), access(grant(`stateMachine:${m}`, 'states', 'ListExecutions')),
  ]),
);

export type MachineKey = keyof typeof STATE_MACHINES;

export function machineArn(machine: MachineKey): string {
  const c = config();
  return machine === 'pack'
    ? required(c.packStateMachineArn, STATE_MACHINES.pack.envVar)
    : required(c.jobStateMachineArn, STATE_MACHINES.job.envVar);
}

const CALL_TIMEOUT_MS = 10_000;

/**
 * Starts an execution named after a record's next run; a taken name is counted by `bump`
 * and the next one tried (the loop is the watchdog's, adapters/job-executions.ts).
 */
export function startNamedRun(
  machine: MachineKey,
  nextName: () => string,
  input: Record<string, unknown>,
  bump: () => Promise<void>,
): Promise<string> {
  return startRun(machineArn(machine), nextName, input, bump);
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

/** Stops an execution for an emergency stop; one that already ended is fine. */
export function stopExecution(executionArn: string, cause: string): Promise<void> {
  return stopRun(executionArn, 'Control.Stopped', cause);
}

/** The record id in an execution name: `${id}-${run}` → id. */
export const recordIdOf = (executionName: string): string => executionName.replace(/-\d+$/, '');
