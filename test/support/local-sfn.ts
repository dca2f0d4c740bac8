/**
 * The local Step Functions service as its own tests use it: started before a file's tests
 * with its machines and Lambda handlers, stopped after them, and a run that returns the
 * ended execution, its history and its parsed output.
 */
import { GetExecutionHistoryCommand, SFNClient, StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startLocalStepFunctions } from '../../local/stepfunctions/service.ts';
import type { LambdaFunctionConfig, LambdaHandler, LocalStepFunctionsOptions } from '../../local/stepfunctions/types.ts';
import { waitForExecution } from '../../local/stepfunctions/wait-for-execution.ts';

/** A Task state invoking `fn` through the Lambda integration, its result the Payload under `value`. */
export const lambdaInvoke = (fn: string, extra: object = {}) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: { FunctionName: fn, 'Payload.$': '$' },
  ResultSelector: { 'value.$': '$.Payload' },
  ...extra,
});

export interface LocalMachines<M extends string> {
  readonly client: SFNClient;
  arnOf(machine: M): string;
  run(machine: M, input?: object): Promise<{
    done: Awaited<ReturnType<typeof waitForExecution>>;
    events: HistoryEvent[];
    output: Record<string, unknown> | undefined;
  }>;
}

/** Starts the service (time scale 0.001 unless `options` says otherwise) with `machines` created, for the file's tests. */
export function useLocalMachines<M extends string>(
  machines: Record<M, object>,
  lambdaHandlers: Record<string, LambdaHandler | LambdaFunctionConfig>,
  options: Partial<LocalStepFunctionsOptions> = {},
): LocalMachines<M> {
  let stop: (() => Promise<void>) | undefined;
  let client: SFNClient | undefined;
  const arns = new Map<string, string>();
  beforeAll(async () => {
    const sfn = await startLocalStepFunctions({ credentials: LOCAL_CREDENTIALS, timeScale: 0.001, ...options, lambdaHandlers });
    stop = () => sfn.stop();
    client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    for (const [name, definition] of Object.entries<object>(machines)) arns.set(name, sfn.createStateMachine({ name, definition }).stateMachineArn);
  });
  afterAll(async () => {
    client?.destroy();
    await stop?.();
  });
  const started = (): SFNClient => {
    if (!client) throw new Error('the local Step Functions service is not started yet');
    return client;
  };
  return {
    get client() { return started(); },
    arnOf: (machine) => arns.get(machine) ?? '',
    async run(machine, input = {}) {
      const client = started();
      const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: arns.get(machine), input: JSON.stringify(input) }));
      const done = await waitForExecution(client, executionArn ?? '');
      const page = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
      return { done, events: page.events ?? [], output: done.output === undefined ? undefined : (JSON.parse(done.output) as Record<string, unknown>) };
    },
  };
}
