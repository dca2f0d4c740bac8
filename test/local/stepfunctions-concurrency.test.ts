/**
 * The local service's bound on handlers running at once (the offline stack sets it to the
 * machine): invocations beyond it wait and start in the order they were made, and a
 * function's timeout counts from its handler's start, as on Lambda, not from the wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startLocalStepFunctions } from '../../local/stepfunctions/service.ts';
import type { LambdaFunctionConfig, LambdaHandler, LocalStepFunctions } from '../../local/stepfunctions/types.ts';
import { waitForExecution } from '../../local/stepfunctions/wait-for-execution.ts';
import { eventually } from '../support/eventually.ts';

const LIMIT = 2;
const SHORT_TIMEOUT_SECONDS = 0.2;

const started: number[] = [];
let running = 0;
let mostAtOnce = 0;
const holds: (() => void)[] = [];

const handlers: Record<string, LambdaHandler | LambdaFunctionConfig> = {
  held: {
    timeoutSeconds: 30,
    handler: async (event) => {
      started.push((event as { n: number }).n);
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      await new Promise<void>((resolve) => holds.push(resolve));
      running--;
      return 'done';
    },
  },
  quick: { timeoutSeconds: SHORT_TIMEOUT_SECONDS, handler: async () => 'in time' },
};

const invoke = (fn: string) => ({ Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: fn, 'Payload.$': '$' }, OutputPath: '$.Payload', End: true });

let sfn: LocalStepFunctions;
let client: SFNClient;
let heldArn = '';
let quickArn = '';

beforeAll(async () => {
  sfn = await startLocalStepFunctions({ credentials: LOCAL_CREDENTIALS, timeScale: 0.01, lambdaHandlers: handlers, lambdaConcurrency: LIMIT });
  client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  heldArn = sfn.createStateMachine({ name: 'held', definition: { StartAt: 'Held', States: { Held: invoke('held') } } }).stateMachineArn;
  quickArn = sfn.createStateMachine({ name: 'quick', definition: { StartAt: 'Quick', States: { Quick: invoke('quick') } } }).stateMachineArn;
});

afterAll(async () => {
  for (const release of holds.splice(0)) release();
  client?.destroy();
  await sfn?.stop();
});

const start = async (stateMachineArn: string, input: object) =>
  (await client.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }))).executionArn ?? '';

describe('lambdaConcurrency', () => {
  it('runs at most the bound at once, starts the waiting invocations in the order they were made, and starts a waiting function\'s timeout with its handler', async () => {
    // Prepare: fill the slots, then queue four more and a short-timeout function behind them.
    const arns: string[] = [];
    for (let n = 0; n < 6; n++) {
      arns.push(await start(heldArn, { n }));
      if (n < LIMIT) await eventually(() => started.length, (k) => k === n + 1, `invocation ${n} to start`);
    }
    const quick = await start(quickArn, {});
    // Arrange the wait itself: the quick function waits for a slot three times its timeout.
    await new Promise((r) => setTimeout(r, SHORT_TIMEOUT_SECONDS * 1000 * 3));

    // Act: let the held invocations finish one at a time.
    while (started.length < 6 || holds.length > 0) {
      await eventually(() => holds.length, (k) => k > 0, 'a held invocation');
      holds.shift()?.();
    }
    const ends = await Promise.all([...arns, quick].map((arn) => waitForExecution(client, arn)));

    // Assess
    expect(mostAtOnce).toBe(LIMIT);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(ends.map((e) => e.status)).toEqual(Array(7).fill('SUCCEEDED'));
    expect(JSON.parse(ends[6]?.output ?? 'null')).toBe('in time');
  });
});
