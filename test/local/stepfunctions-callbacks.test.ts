/**
 * Callback tasks (sqs:sendMessage.waitForTaskToken) on the local Step Functions service,
 * with messages going through fauxqs: SendTask* answers, fresh tokens per attempt,
 * heartbeats, and what StopExecution does to pending tasks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { CreateQueueCommand, DeleteMessageCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startLocalStepFunctions } from '../../local/stepfunctions/service.ts';
import type { LocalStepFunctions } from '../../local/stepfunctions/types.ts';
import { waitForExecution } from '../../local/stepfunctions/wait-for-execution.ts';
import { awsEnv } from '../support/aws.ts';
import { eventually } from '../support/eventually.ts';

interface GpuMessage {
  taskToken: string;
  job: string;
}

/** HeartbeatSeconds 10 at timeScale 0.05 = 500 ms; TimeoutSeconds 600 = 30 s. */
const gpuTask = (queueUrl: string, extra: object = {}) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
  Parameters: { QueueUrl: queueUrl, MessageBody: { 'taskToken.$': '$$.Task.Token', 'job.$': '$.job' } },
  HeartbeatSeconds: 10,
  TimeoutSeconds: 600,
  ...extra,
});

let sfn: LocalStepFunctions;
let client: SFNClient;
let sqs: SQSClient;
let queueUrl: string;
const arns: Record<string, string> = {};
let lambdaStarted: () => void = () => undefined;
let lambdaOutcome: Promise<string> = Promise.resolve('not run');

beforeAll(async () => {
  awsEnv();
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `sfn-callbacks-${randomUUID().slice(0, 8)}` }))).QueueUrl ?? '';
  sfn = await startLocalStepFunctions({
    credentials: LOCAL_CREDENTIALS,
    timeScale: 0.05,
    sqs: {
      send: async (url, body) => {
        const sent = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
        return sent.MessageId === undefined ? undefined : { MessageId: sent.MessageId };
      },
    },
    lambdaHandlers: {
      waitForAbort: async (_event, context) => {
        lambdaOutcome = new Promise((resolve) => context.abortSignal.addEventListener('abort', () => resolve('aborted')));
        lambdaStarted();
        return lambdaOutcome;
      },
    },
  });
  client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const define = (name: string, definition: object) => (arns[name] = sfn.createStateMachine({ name, definition }).stateMachineArn);
  define('callback', { StartAt: 'Inpaint', States: { Inpaint: gpuTask(queueUrl, { End: true }) } });
  define('retried', {
    StartAt: 'Inpaint',
    States: { Inpaint: gpuTask(queueUrl, { Retry: [{ ErrorEquals: ['Gpu.OutOfMemory'], IntervalSeconds: 1, MaxAttempts: 2 }], End: true }) },
  });
  define('heartbeat', {
    StartAt: 'Inpaint',
    States: {
      Inpaint: gpuTask(queueUrl, { Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.error', Next: 'Worker died' }], End: true }),
      'Worker died': { Type: 'Pass', End: true },
    },
  });
  define('heartbeatPath', {
    StartAt: 'Inpaint',
    States: {
      Inpaint: {
        ...gpuTask(queueUrl, { Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.error', Next: 'Worker died' }], End: true }),
        HeartbeatSeconds: undefined,
        HeartbeatSecondsPath: '$.limits.heartbeat',
      },
      'Worker died': { Type: 'Pass', End: true },
    },
  });
  define('stoppable', {
    StartAt: 'Both',
    States: {
      Both: {
        Type: 'Parallel',
        Branches: [
          { StartAt: 'Inpaint', States: { Inpaint: gpuTask(queueUrl, { End: true }) } },
          { StartAt: 'Analyze', States: { Analyze: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'waitForAbort' }, End: true } } },
        ],
        End: true,
      },
    },
  });
});

afterAll(async () => {
  client?.destroy();
  await sfn?.stop();
  if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  sqs?.destroy();
});

/** The next GPU message, deleted from the queue. */
async function nextMessage(): Promise<GpuMessage> {
  const m = await eventually(async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 2 }))).Messages?.[0],
    (x) => x !== undefined, 'a GPU message', { timeoutMs: 20_000, everyMs: 0 });
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m!.ReceiptHandle }));
  return JSON.parse(m!.Body ?? '') as GpuMessage;
}

async function start(machine: string, job: string): Promise<string> {
  const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: arns[machine], input: JSON.stringify({ job }) }));
  return executionArn ?? '';
}

describe('local Step Functions callback tasks', () => {
  it('waits for SendTaskSuccess on the token the message carried and outputs what it sent', async () => {
    // Prepare
    const executionArn = await start('callback', 'j1');
    const message = await nextMessage();
    // Act
    await client.send(new SendTaskSuccessCommand({ taskToken: message.taskToken, output: JSON.stringify({ image: 's3://out/j1.png' }) }));
    const done = await waitForExecution(client, executionArn);
    // Assess
    expect(message.job).toBe('j1');
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '')).toEqual({ image: 's3://out/j1.png' });
    const { events } = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(events?.map((e) => e.type)).toEqual(expect.arrayContaining(['TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded']));
    expect(events?.find((e) => e.type === 'TaskScheduled')?.taskScheduledEventDetails).toMatchObject({ resourceType: 'sqs', resource: 'sendMessage.waitForTaskToken', heartbeatInSeconds: 10 });
  });

  it('gives each retry attempt a fresh token and retires the old one', async () => {
    // Prepare
    const executionArn = await start('retried', 'j2');
    const first = await nextMessage();
    // Act
    await client.send(new SendTaskFailureCommand({ taskToken: first.taskToken, error: 'Gpu.OutOfMemory', cause: 'CUDA out of memory' }));
    const second = await nextMessage();
    const stale = await client.send(new SendTaskSuccessCommand({ taskToken: first.taskToken, output: '{}' })).catch((e: unknown) => e);
    await client.send(new SendTaskSuccessCommand({ taskToken: second.taskToken, output: '{"attempt":2}' }));
    const done = await waitForExecution(client, executionArn);
    // Assess
    expect(second.taskToken).not.toBe(first.taskToken);
    expect(stale).toBeInstanceOf(TaskTimedOut);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '')).toEqual({ attempt: 2 });
  });

  it('keeps a task alive past HeartbeatSeconds while heartbeats arrive', async () => {
    // Prepare
    const executionArn = await start('heartbeat', 'j3');
    const message = await nextMessage();
    // Act: heartbeat every 100 ms for three heartbeat periods (3 × 500 ms).
    for (let i = 0; i < 15; i++) {
      await client.send(new SendTaskHeartbeatCommand({ taskToken: message.taskToken }));
      await new Promise((r) => setTimeout(r, 100));
    }
    const running = await client.send(new DescribeExecutionCommand({ executionArn }));
    await client.send(new SendTaskSuccessCommand({ taskToken: message.taskToken, output: '{"ok":true}' }));
    const done = await waitForExecution(client, executionArn);
    // Assess
    expect(running.status).toBe('RUNNING');
    expect(JSON.parse(done.output ?? '')).toEqual({ ok: true });
  });

  it('fails a task with no heartbeat within HeartbeatSeconds as States.HeartbeatTimeout, which a Catch handles', async () => {
    // Prepare
    const executionArn = await start('heartbeat', 'j4');
    const message = await nextMessage();
    // Act
    const done = await waitForExecution(client, executionArn);
    const late = await client.send(new SendTaskSuccessCommand({ taskToken: message.taskToken, output: '{}' })).catch((e: unknown) => e);
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '')).toMatchObject({ job: 'j4', error: { Error: 'States.HeartbeatTimeout' } });
    expect(late).toBeInstanceOf(TaskTimedOut);
    const { events } = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(events?.find((e) => e.type === 'TaskTimedOut')?.taskTimedOutEventDetails?.error).toBe('States.HeartbeatTimeout');
  });

  it('reads HeartbeatSecondsPath from the state input, not from the message it sends', async () => {
    // Prepare
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: arns['heartbeatPath'], input: JSON.stringify({ job: 'j6', limits: { heartbeat: 4 } }) }));
    // Act
    const message = await nextMessage();
    const done = await waitForExecution(client, executionArn ?? '');
    // Assess
    expect(Object.keys(message).sort()).toEqual(['job', 'taskToken']);
    expect(JSON.parse(done.output ?? '')).toMatchObject({ error: { Error: 'States.HeartbeatTimeout' } });
    const { events } = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(events?.find((e) => e.type === 'TaskScheduled')?.taskScheduledEventDetails?.heartbeatInSeconds).toBe(4);
  });

  it('aborts on StopExecution: the pending token answers TaskTimedOut and the running handler is signalled', async () => {
    // Prepare
    const started = new Promise<void>((r) => (lambdaStarted = r));
    const executionArn = await start('stoppable', 'j5');
    const message = await nextMessage();
    await started;
    // Act
    await client.send(new StopExecutionCommand({ executionArn, error: 'Operator.Stop', cause: 'emergency stop' }));
    const done = await client.send(new DescribeExecutionCommand({ executionArn }));
    const late = await client.send(new SendTaskSuccessCommand({ taskToken: message.taskToken, output: '{}' })).catch((e: unknown) => e);
    // Assess
    expect(done).toMatchObject({ status: 'ABORTED', error: 'Operator.Stop', cause: 'emergency stop' });
    expect(late).toBeInstanceOf(TaskTimedOut);
    expect(await lambdaOutcome).toBe('aborted');
    const { events } = await client.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 1 }));
    expect(events?.[0]?.type).toBe('ExecutionAborted');
  });

  it.each([
    ['SendTaskSuccess', () => new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })],
    ['SendTaskFailure', () => new SendTaskFailureCommand({ taskToken: 'forged.signature', error: 'X' })],
    ['SendTaskHeartbeat', () => new SendTaskHeartbeatCommand({ taskToken: 'not-a-token' })],
  ] as const)('answers %s with an unknown token with InvalidToken', async (_action, command) => {
    await expect(client.send(command() as SendTaskSuccessCommand)).rejects.toBeInstanceOf(InvalidToken);
  });
});
