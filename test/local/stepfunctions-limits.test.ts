/**
 * Lambda's and Step Functions' limits in the local service: a function that runs past its
 * configured timeout fails as Lambda reports it (Sandbox.Timedout), its late result is
 * dropped; payloads over 256 KiB fail as States.DataLimitExceeded, which no Catch takes.
 */
import { describe, expect, it } from 'vitest';
import { StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startLocalStepFunctions } from '../../local/stepfunctions/service.ts';
import { MAX_PAYLOAD_BYTES } from '../../local/stepfunctions/payload-limit.ts';
import type { LambdaFunctionConfig, LambdaHandler } from '../../local/stepfunctions/types.ts';
import { lambdaInvoke, useLocalMachines } from '../support/local-sfn.ts';

const catchAll = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }];
const caught = { Type: 'Pass', End: true };

const machines = {
  timesOut: {
    StartAt: 'Slow',
    States: {
      Slow: lambdaInvoke('stubborn', {
        Retry: [{ ErrorEquals: ['Sandbox.Timedout'], IntervalSeconds: 1, MaxAttempts: 1 }],
        Catch: [
          { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'Wrong catcher' },
          { ErrorEquals: ['Sandbox.Timedout'], ResultPath: '$.error', Next: 'Caught' },
        ],
        End: true,
      }),
      'Wrong catcher': { Type: 'Fail', Error: 'WrongCatcher' },
      Caught: caught,
    },
  },
  abortable: { StartAt: 'Slow', States: { Slow: lambdaInvoke('cooperative', { Catch: catchAll, End: true }), Caught: caught } },
  inTime: { StartAt: 'Quick', States: { Quick: lambdaInvoke('quick', { End: true }) } },
  bigResult: { StartAt: 'Big', States: { Big: lambdaInvoke('big', { Catch: catchAll, End: true }), Caught: caught } },
  bigOutput: {
    StartAt: 'Half',
    // The result fits; merged into an input of the same size, the state's output does not.
    States: { Half: lambdaInvoke('half', { ResultPath: '$.result', Catch: catchAll, End: true }), Caught: caught },
  },
  bigInput: {
    StartAt: 'Twice',
    States: {
      Twice: { ...lambdaInvoke('quick'), Parameters: { FunctionName: 'quick', Payload: { 'a.$': '$.text', 'b.$': '$.text' } }, Catch: catchAll, End: true },
      Caught: caught,
    },
  },
  bigPass: {
    StartAt: 'Grow',
    States: { Grow: { Type: 'Pass', Parameters: { 'a.$': '$.text', 'b.$': '$.text' }, End: true } },
  },
};

const calls: Record<string, number> = {};
const lateResults: Promise<string>[] = [];
const signals: AbortSignal[] = [];
const remaining: number[] = [];

const text = (bytes: number) => 'x'.repeat(bytes);
const FUNCTION_TIMEOUT_SECONDS = 0.1;

const handlers: Record<string, LambdaHandler | LambdaFunctionConfig> = {
  // Ignores its abortSignal and answers after its timeout: the answer must be dropped.
  stubborn: {
    timeoutSeconds: FUNCTION_TIMEOUT_SECONDS,
    handler: async (_event, context) => {
      calls['stubborn'] = (calls['stubborn'] ?? 0) + 1;
      remaining.push(context.getRemainingTimeInMillis());
      const late = new Promise<string>((r) => setTimeout(() => r('late'), 400));
      lateResults.push(late);
      return late;
    },
  },
  cooperative: {
    timeoutSeconds: FUNCTION_TIMEOUT_SECONDS,
    handler: async (_event, context) => {
      signals.push(context.abortSignal);
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve('finished'), 2000);
        context.abortSignal.addEventListener('abort', () => {
          clearTimeout(t);
          resolve('aborted');
        });
      });
    },
  },
  quick: { timeoutSeconds: 5, handler: async () => 'ok' },
  big: async () => text(MAX_PAYLOAD_BYTES + 1),
  half: async () => text(MAX_PAYLOAD_BYTES / 2),
};

const service = useLocalMachines(machines, handlers);
const { run } = service;

const types = (events: HistoryEvent[]) => events.map((e) => e.type);

describe('a Lambda function past its configured timeout', () => {
  it('fails as Sandbox.Timedout with Lambda\'s "Task timed out" cause, is retried by that name, and its late result is dropped', async () => {
    // Prepare
    calls['stubborn'] = 0;
    lateResults.length = 0;
    remaining.length = 0;
    // Act
    const { done, events, output } = await run('timesOut');
    await Promise.all(lateResults);
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(calls['stubborn']).toBe(2);
    const error = output?.['error'] as { Error: string; Cause: string };
    expect(error.Error).toBe('Sandbox.Timedout');
    expect(JSON.parse(error.Cause)).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringMatching(/^RequestId: [0-9a-f-]{36} Error: Task timed out after 0\.10 seconds$/),
    });
    expect(events.filter((e) => e.type === 'TaskFailed').map((e) => e.taskFailedEventDetails?.error)).toEqual(['Sandbox.Timedout', 'Sandbox.Timedout']);
    expect(types(events)).not.toContain('TaskSucceeded');
    expect(output?.['value']).toBeUndefined();
    // The function's own timeout bounds the time it is told it has.
    for (const ms of remaining) expect(ms).toBeLessThanOrEqual(FUNCTION_TIMEOUT_SECONDS * 1000);
  });

  it('fires the handler\'s abortSignal at the timeout', async () => {
    signals.length = 0;
    const { done, output } = await run('abortable');
    expect(done.status).toBe('SUCCEEDED');
    expect((output?.['error'] as { Error: string }).Error).toBe('Sandbox.Timedout');
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect((signals[0]?.reason as Error).name).toBe('Sandbox.Timedout');
  });

  it('leaves a function that answers within its timeout alone', async () => {
    const { done, output } = await run('inTime');
    expect(done.status).toBe('SUCCEEDED');
    expect(output).toEqual({ value: 'ok' });
  });

  it('refuses a timeout Lambda cannot have', async () => {
    await expect(startLocalStepFunctions({ credentials: LOCAL_CREDENTIALS, lambdaHandlers: { f: { handler: async () => null, timeoutSeconds: 901 } } })).rejects.toThrow(/timeoutSeconds must be a number in \(0, 900\]/);
  });
});

describe('payloads over 256 KiB', () => {
  it('fail a task whose result is too large with States.DataLimitExceeded, which States.ALL does not catch', async () => {
    const { done, events } = await run('bigResult');
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('States.DataLimitExceeded');
    expect(done.cause).toMatch(/'Big' returned a result with a size exceeding the maximum number of bytes service limit/);
    expect(events.find((e) => e.type === 'TaskFailed')?.taskFailedEventDetails?.error).toBe('States.DataLimitExceeded');
    expect(types(events)).not.toContain('PassStateEntered');
  });

  it('fail a state whose output is too large, though its result fits', async () => {
    const { done, events } = await run('bigOutput', { text: text(MAX_PAYLOAD_BYTES / 2) });
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('States.DataLimitExceeded');
    expect(done.cause).toMatch(/'Half' produced an output/);
    expect(types(events)).toContain('TaskSucceeded');
    expect(types(events)).not.toContain('PassStateEntered');
  });

  it('fail a task whose input after Parameters is too large, before the function runs', async () => {
    const { done, events } = await run('bigInput', { text: text(MAX_PAYLOAD_BYTES / 2) });
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('States.DataLimitExceeded');
    expect(done.cause).toMatch(/'Twice' received an input/);
    expect(types(events)).not.toContain('TaskScheduled');
  });

  it('fail a Pass state whose output is too large', async () => {
    const { done } = await run('bigPass', { text: text(MAX_PAYLOAD_BYTES / 2) });
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('States.DataLimitExceeded');
  });

  it('pass at exactly the limit', async () => {
    // {"text":"…"} is 11 bytes of JSON around the text.
    const { done } = await run('bigPass', { text: text(Math.floor((MAX_PAYLOAD_BYTES - 20) / 2)) });
    expect(done.status).toBe('SUCCEEDED');
  });

  it('refuse an execution input that is too large, as StartExecution does', async () => {
    const input = JSON.stringify({ text: text(MAX_PAYLOAD_BYTES) });
    await expect(service.client.send(new StartExecutionCommand({ stateMachineArn: service.arnOf('inTime'), input }))).rejects.toMatchObject({ name: 'ValidationException' });
  });
});
