/**
 * Retry, Catch and timeouts of the local Step Functions service: Lambda errors keep their
 * names and Lambda's Cause, retries show in the history, TimeoutSeconds is enforced as
 * States.Timeout (which States.TaskFailed does not match) and the library's 60 s default
 * task timeout does not apply.
 */
import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { LambdaHandler } from '../../local/stepfunctions/types.ts';
import { lambdaInvoke, useLocalMachines } from '../support/local-sfn.ts';

class NetworkError extends Error {
  override readonly name = 'Transient.Network';
}

/** Resolves after ms, or as soon as the task is abandoned (reporting which). */
function cooperativeWait(ms: number, signal: AbortSignal): Promise<'finished' | 'aborted'> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve('aborted');
    const timer = setTimeout(() => resolve('finished'), ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve('aborted');
    });
  });
}

const machines = {
  retryThenCatch: {
    StartAt: 'Call flaky',
    States: {
      'Call flaky': lambdaInvoke('alwaysNetworkError', {
        Retry: [{ ErrorEquals: ['Transient.Network'], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 2, JitterStrategy: 'FULL' }],
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Recovered' }],
        End: true,
      }),
      Recovered: { Type: 'Pass', End: true },
    },
  },
  retryOtherName: {
    StartAt: 'Call flaky',
    States: {
      'Call flaky': lambdaInvoke('alwaysNetworkError', {
        Retry: [{ ErrorEquals: ['Gpu.OutOfMemory'], MaxAttempts: 3 }],
        Catch: [{ ErrorEquals: ['Transient.Network'], Next: 'Recovered' }],
        End: true,
      }),
      Recovered: { Type: 'Pass', End: true },
    },
  },
  timeout: {
    StartAt: 'Slow',
    States: {
      Slow: lambdaInvoke('slow', {
        TimeoutSeconds: 5,
        Catch: [
          { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'Wrong catcher' },
          { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'Timed out' },
        ],
        End: true,
      }),
      'Wrong catcher': { Type: 'Fail', Error: 'WrongCatcher' },
      'Timed out': { Type: 'Pass', End: true },
    },
  },
  noDefaultTimeout: { StartAt: 'Long', States: { Long: lambdaInvoke('long', { End: true }) } },
  lambdaArn: {
    StartAt: 'Direct',
    States: { Direct: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:direct', End: true } },
  },
  unknownFunction: {
    StartAt: 'Missing',
    States: { Missing: lambdaInvoke('missing', { Catch: [{ ErrorEquals: ['Lambda.ResourceNotFoundException'], Next: 'Caught' }], End: true }), Caught: { Type: 'Pass', End: true } },
  },
  executionTimeout: { TimeoutSeconds: 10, StartAt: 'Slow', States: { Slow: lambdaInvoke('slow', { End: true }) } },
};

const calls: Record<string, number> = {};
const slowOutcomes: Promise<'finished' | 'aborted'>[] = [];

const handlers: Record<string, LambdaHandler> = {
  alwaysNetworkError: async () => {
    calls['alwaysNetworkError'] = (calls['alwaysNetworkError'] ?? 0) + 1;
    throw new NetworkError('connection reset by peer');
  },
  slow: async (_event, context) => {
    const outcome = cooperativeWait(5000, context.abortSignal);
    slowOutcomes.push(outcome);
    return outcome;
  },
  // 100 ms is 100 s at timeScale 0.001: past the library's 60 s default.
  long: async () => new Promise((r) => setTimeout(() => r('done'), 100)),
  direct: async (event) => ({ echoed: event }),
};

const { run } = useLocalMachines(machines, handlers);

const count = (events: HistoryEvent[], type: string): number => events.filter((e) => e.type === type).length;

describe('local Step Functions errors and timeouts', () => {
  it('retries on the error name, counts each attempt in the history, then catches with Lambda\'s Cause', async () => {
    // Prepare
    calls['alwaysNetworkError'] = 0;
    // Act
    const { done, events, output } = await run('retryThenCatch', { job: 1 });
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(calls['alwaysNetworkError']).toBe(3);
    expect(count(events, 'TaskScheduled')).toBe(3);
    expect(count(events, 'TaskFailed')).toBe(3);
    expect(events.find((e) => e.type === 'TaskFailed')?.taskFailedEventDetails?.error).toBe('Transient.Network');
    const error = output?.['error'] as { Error: string; Cause: string };
    expect(error.Error).toBe('Transient.Network');
    expect(JSON.parse(error.Cause)).toMatchObject({ errorType: 'Transient.Network', errorMessage: 'connection reset by peer', trace: expect.any(Array) });
    expect(output?.['job']).toBe(1);
  });

  it('does not retry an error another retrier names, and catches it by name', async () => {
    calls['alwaysNetworkError'] = 0;
    const { done, events } = await run('retryOtherName');
    expect(done.status).toBe('SUCCEEDED');
    expect(calls['alwaysNetworkError']).toBe(1);
    expect(events.map((e) => e.type)).toContain('PassStateEntered');
  });

  it('enforces TimeoutSeconds as States.Timeout, not matched by States.TaskFailed, and fires the abortSignal', async () => {
    // Prepare
    slowOutcomes.length = 0;
    // Act
    const { done, events, output } = await run('timeout');
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect((output?.['error'] as { Error: string }).Error).toBe('States.Timeout');
    expect(events.find((e) => e.type === 'TaskTimedOut')?.taskTimedOutEventDetails?.error).toBe('States.Timeout');
    expect(events.find((e) => e.type === 'TaskScheduled')?.taskScheduledEventDetails?.timeoutInSeconds).toBe(5);
    expect(await slowOutcomes[0]).toBe('aborted');
  });

  it('has no 60 s default task timeout: a 100 s task (scaled) succeeds', async () => {
    const { done, output } = await run('noDefaultTimeout');
    expect(done.status).toBe('SUCCEEDED');
    expect(output).toEqual({ value: 'done' });
  });

  it('runs a Lambda function ARN resource with the raw result and LambdaFunction events', async () => {
    const { done, events, output } = await run('lambdaArn', { a: 1 });
    expect(done.status).toBe('SUCCEEDED');
    expect(output).toEqual({ echoed: { a: 1 } });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionSucceeded']));
  });

  it('fails a task whose function has no handler with Lambda.ResourceNotFoundException', async () => {
    const { done, events } = await run('unknownFunction');
    expect(done.status).toBe('SUCCEEDED');
    expect(events.find((e) => e.type === 'TaskFailed')?.taskFailedEventDetails?.error).toBe('Lambda.ResourceNotFoundException');
  });

  it('times out the whole execution after its TimeoutSeconds and abandons the running task', async () => {
    // Prepare
    slowOutcomes.length = 0;
    // Act
    const { done, events } = await run('executionTimeout');
    // Assess
    expect(done.status).toBe('TIMED_OUT');
    expect(events.at(-1)?.type).toBe('ExecutionTimedOut');
    expect(await slowOutcomes[0]).toBe('aborted');
  });
});
