/**
 * Child executions (states:startExecution[.sync:2]), Map and Parallel on the local Step
 * Functions service, and the EventBridge-shaped status events it emits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startLocalStepFunctions } from '../../local/stepfunctions/service.ts';
import type { EventBridgeStepFunctionsStatusEvent, LocalStepFunctions } from '../../local/stepfunctions/types.ts';
import { waitForExecution } from '../../local/stepfunctions/wait-for-execution.ts';
import { eventually } from '../support/eventually.ts';

class QaRejected extends Error {
  override readonly name = 'Qa.Rejected';
}

const ACCOUNT = '123456789012';
const machineArn = (name: string) => `arn:aws:states:eu-west-1:${ACCOUNT}:stateMachine:${name}`;
const invoke = (fn: string, extra: object = {}) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: { FunctionName: fn, 'Payload.$': '$' },
  OutputPath: '$.Payload',
  ...extra,
});

const machines: Record<string, object> = {
  job: { StartAt: 'Render', States: { Render: invoke('render', { End: true }) } },
  parked: { StartAt: 'Park', States: { Park: invoke('park', { End: true }) } },
  pack: {
    StartAt: 'Run job',
    States: {
      'Run job': {
        Type: 'Task',
        Resource: 'arn:aws:states:::states:startExecution.sync:2',
        Parameters: { StateMachineArn: machineArn('job'), 'Input.$': '$', 'Name.$': '$.jobId' },
        Catch: [{ ErrorEquals: ['States.TaskFailed'], ResultPath: '$.failure', Next: 'Job failed' }],
        End: true,
      },
      'Job failed': { Type: 'Pass', End: true },
    },
  },
  parkedParent: {
    StartAt: 'Run parked',
    States: {
      'Run parked': { Type: 'Task', Resource: 'arn:aws:states:::states:startExecution.sync:2', Parameters: { StateMachineArn: machineArn('parked'), 'Name.$': '$.child' }, End: true },
    },
  },
  fireAndForget: {
    StartAt: 'Kick off',
    States: { 'Kick off': { Type: 'Task', Resource: 'arn:aws:states:::states:startExecution', Parameters: { StateMachineArn: machineArn('job'), Name: 'ff', Input: { jobId: 'ff' } }, End: true } },
  },
  map: {
    StartAt: 'Each',
    States: {
      Each: {
        Type: 'Map',
        ItemsPath: '$.items',
        MaxConcurrencyPath: '$.concurrency',
        ItemSelector: { 'value.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index', 'pack.$': '$.pack' },
        ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: 'Count', States: { Count: invoke('count', { End: true }) } },
        ResultPath: '$.results',
        Catch: [{ ErrorEquals: ['Qa.Rejected'], ResultPath: '$.error', Next: 'Map failed' }],
        End: true,
      },
      'Map failed': { Type: 'Pass', End: true },
    },
  },
  parallel: {
    StartAt: 'Both',
    States: {
      Both: {
        Type: 'Parallel',
        Branches: [
          { StartAt: 'Left', States: { Left: { Type: 'Pass', Result: 'L', End: true } } },
          { StartAt: 'Right', States: { Right: { Type: 'Pass', Result: 'R', End: true } } },
        ],
        End: true,
      },
    },
  },
  fails: { StartAt: 'Boom', States: { Boom: { Type: 'Fail', Error: 'Job.Broken', Cause: 'it broke' } } },
  timesOut: { TimeoutSeconds: 5, StartAt: 'Park', States: { Park: invoke('park', { End: true }) } },
};

let sfn: LocalStepFunctions;
let client: SFNClient;
const statusEvents: EventBridgeStepFunctionsStatusEvent[] = [];
let inFlight = 0;
let maxInFlight = 0;
const counted: number[] = [];
let failAt = -1;
let parkRelease: () => void = () => undefined;

beforeAll(async () => {
  sfn = await startLocalStepFunctions({
    credentials: LOCAL_CREDENTIALS,
    region: 'eu-west-1',
    accountId: ACCOUNT,
    timeScale: 0.01,
    onStatusChange: (e) => {
      statusEvents.push(e);
      throw new Error('a broken listener must not matter');
    },
    lambdaHandlers: {
      render: async (event) => {
        const e = event as { jobId: string; fail?: boolean };
        if (e.fail) throw new QaRejected(`job ${e.jobId} rejected`);
        return { rendered: e.jobId };
      },
      park: async (_event, context) =>
        new Promise((resolve) => {
          parkRelease = () => resolve('released');
          context.abortSignal.addEventListener('abort', () => resolve('aborted'));
        }),
      count: async (event) => {
        const e = event as { value: string; index: number; pack: string };
        counted.push(e.index);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        if (e.index === failAt) throw new QaRejected(`item ${e.index}`);
        return `${e.pack}:${e.value}`;
      },
    },
  });
  client = new SFNClient({ endpoint: sfn.url, region: 'eu-west-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  for (const [name, definition] of Object.entries(machines)) sfn.createStateMachine({ name, definition });
});

afterAll(async () => {
  parkRelease();
  client?.destroy();
  await sfn?.stop();
});

async function run(machine: string, input: object) {
  const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: machineArn(machine), input: JSON.stringify(input) }));
  const done = await waitForExecution(client, executionArn ?? '');
  return { executionArn: executionArn ?? '', done, output: JSON.parse(done.output ?? 'null') as Record<string, unknown> };
}

describe('local Step Functions child executions', () => {
  it('runs a startExecution.sync:2 child as a real execution and outputs its description with Output parsed', async () => {
    // Act
    const { done, output } = await run('pack', { jobId: 'job-ok' });
    const child = await client.send(new DescribeExecutionCommand({ executionArn: `arn:aws:states:eu-west-1:${ACCOUNT}:execution:job:job-ok` }));
    const listed = await client.send(new ListExecutionsCommand({ stateMachineArn: machineArn('job') }));
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(output).toMatchObject({ Status: 'SUCCEEDED', Name: 'job-ok', Output: { rendered: 'job-ok' }, Input: { jobId: 'job-ok' }, StateMachineArn: machineArn('job') });
    expect(child.status).toBe('SUCCEEDED');
    expect(listed.executions?.map((e) => e.name)).toContain('job-ok');
  });

  it('fails the parent task with States.TaskFailed when the child fails, the Cause holding the child description', async () => {
    // Act
    const { done, output } = await run('pack', { jobId: 'job-bad', fail: true });
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    const failure = output['failure'] as { Error: string; Cause: string };
    expect(failure.Error).toBe('States.TaskFailed');
    expect(JSON.parse(failure.Cause)).toMatchObject({ Status: 'FAILED', Error: 'Qa.Rejected', Name: 'job-bad' });
  });

  it('starts a fire-and-forget child and moves on with its ARN', async () => {
    const { output } = await run('fireAndForget', {});
    expect(output['ExecutionArn']).toBe(`arn:aws:states:eu-west-1:${ACCOUNT}:execution:job:ff`);
    const child = await waitForExecution(client, String(output['ExecutionArn']));
    expect(child.status).toBe('SUCCEEDED');
  });

  it('stops a .sync child when its parent is stopped', async () => {
    // Prepare
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: machineArn('parkedParent'), input: '{"child":"parked-1"}' }));
    const childArn = `arn:aws:states:eu-west-1:${ACCOUNT}:execution:parked:parked-1`;
    await waitForExecution(client, childArn, { until: () => true });
    // Act
    await client.send(new StopExecutionCommand({ executionArn }));
    const child = await waitForExecution(client, childArn);
    // Assess
    expect(child.status).toBe('ABORTED');
  });
});

describe('local Step Functions Map and Parallel', () => {
  it('runs a Map at most MaxConcurrency iterations at a time, with ItemSelector and results in item order', async () => {
    // Prepare
    maxInFlight = 0;
    counted.length = 0;
    failAt = -1;
    // Act
    const { executionArn, done, output } = await run('map', { pack: 'p', concurrency: 2, items: ['a', 'b', 'c', 'd', 'e', 'f'] });
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(output['results']).toEqual(['p:a', 'p:b', 'p:c', 'p:d', 'p:e', 'p:f']);
    expect(maxInFlight).toBe(2);
    const { events } = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    expect(events?.filter((e) => e.type === 'MapIterationStarted')).toHaveLength(6);
    expect(events?.find((e) => e.type === 'MapStateStarted')?.mapStateStartedEventDetails?.length).toBe(6);
    expect(events?.map((e) => e.type)).toEqual(expect.arrayContaining(['MapStateEntered', 'MapStateSucceeded', 'MapStateExited']));
  });

  it('starts no further iteration once one has failed, and fails the Map with its error', async () => {
    // Prepare
    counted.length = 0;
    failAt = 1;
    // Act
    const { done, output } = await run('map', { pack: 'p', concurrency: 1, items: ['a', 'b', 'c', 'd', 'e', 'f'] });
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect((output['error'] as { Error: string }).Error).toBe('Qa.Rejected');
    expect(counted).toEqual([0, 1]);
  });

  it('runs Parallel branches into an array of their outputs', async () => {
    const { output } = await run('parallel', {});
    expect(output).toEqual(['L', 'R']);
  });
});

describe('local Step Functions status events', () => {
  it('reports RUNNING and each terminal status in the EventBridge shape, whatever the listener throws', async () => {
    // Prepare
    statusEvents.length = 0;
    // Act
    const failed = await run('fails', { n: 1 });
    const timedOut = await run('timesOut', {});
    const { executionArn: abortedArn } = await client.send(new StartExecutionCommand({ stateMachineArn: machineArn('parked') }));
    await client.send(new StopExecutionCommand({ executionArn: abortedArn, cause: 'test' }));
    await waitForExecution(client, abortedArn ?? '');
    await eventually(() => statusEvents.filter((e) => e.detail.status !== 'RUNNING').length, (n) => n === 3, 'the three executions\' end events', { timeoutMs: 5000, everyMs: 5 });
    // Assess
    const statusOf = (arn: string) => statusEvents.filter((e) => e.detail.executionArn === arn).map((e) => e.detail.status);
    expect(statusOf(failed.executionArn)).toEqual(['RUNNING', 'FAILED']);
    expect(statusOf(timedOut.executionArn)).toEqual(['RUNNING', 'TIMED_OUT']);
    expect(statusOf(abortedArn ?? '')).toEqual(['RUNNING', 'ABORTED']);
    const event = statusEvents.find((e) => e.detail.status === 'FAILED');
    expect(event).toMatchObject({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      account: ACCOUNT,
      region: 'eu-west-1',
      resources: [failed.executionArn],
      detail: { stateMachineArn: machineArn('fails'), input: '{"n":1}', output: null, error: 'Job.Broken', cause: 'it broke' },
    });
    expect(event?.detail.stopDate).toBeGreaterThanOrEqual(event?.detail.startDate ?? Number.POSITIVE_INFINITY);
  });
});
