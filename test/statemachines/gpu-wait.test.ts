/**
 * Waiting for a GPU is not failing: the committed GPU task of job.asl.json, run on the local
 * Step Functions service with its messages in fauxqs. A message nobody receives for longer
 * than the old heartbeat clock still completes when a worker answers it; a task nobody
 * answers within its TimeoutSecondsPath ends in States.Timeout, which the taxonomy routes
 * to resuming from the checkpoint.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetExecutionHistoryCommand, SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { CreateQueueCommand, DeleteMessageCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GPU_TASK, gpuTaskTimeoutSeconds } from '../../core/resources.ts';
import type { GpuTask } from '../../core/gpu-message.ts';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startLocalStepFunctions } from '../../local/stepfunctions/service.ts';
import type { LocalStepFunctions } from '../../local/stepfunctions/types.ts';
import { waitForExecution } from '../../local/stepfunctions/wait-for-execution.ts';
import { JOB_STATES as S } from '../../statemachines/job.ts';
import { GPU_QUEUE_URL_KEY } from '../../statemachines/tasks.ts';
import { awsEnv } from '../support/aws.ts';
import { eventually } from '../support/eventually.ts';

const TIME_SCALE = 0.05;
const committed = JSON.parse(readFileSync(new URL('../../statemachines/job.asl.json', import.meta.url), 'utf8')) as {
  States: Record<string, Record<string, unknown>>;
};
const gpuState = committed.States[S.runGpu]!;

/** The GPU task alone: every state it can go to becomes a Pass that ends the run, so the route is the output. */
function gpuMachine(): object {
  const catchers = gpuState['Catch'] as { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  const targets = new Set([...catchers.map((c) => c.Next), gpuState['Next'] as string]);
  const states: Record<string, object> = { [S.runGpu]: gpuState };
  for (const t of targets) states[t] = { Type: 'Pass', Parameters: { 'route': t, 'error.$': '$.lastError.Error' }, End: true };
  // The success route has no lastError.
  states[gpuState['Next'] as string] = { Type: 'Pass', Parameters: { route: gpuState['Next'], 'inpaint.$': '$.inpaint' }, End: true };
  return { StartAt: S.runGpu, States: states };
}

let sfn: LocalStepFunctions;
let client: SFNClient;
let sqs: SQSClient;
let queueUrl: string;
let arn: string;

beforeAll(async () => {
  awsEnv();
  sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `gpu-wait-${randomUUID().slice(0, 8)}` }))).QueueUrl ?? '';
  sfn = await startLocalStepFunctions({
    credentials: LOCAL_CREDENTIALS,
    timeScale: TIME_SCALE,
    sqs: {
      send: async (url, body) => {
        const sent = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
        return sent.MessageId === undefined ? undefined : { MessageId: sent.MessageId };
      },
    },
    lambdaHandlers: {},
  });
  client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  arn = sfn.createStateMachine({ name: 'gpu-wait', definition: gpuMachine(), substitutions: { [GPU_QUEUE_URL_KEY]: queueUrl } }).stateMachineArn;
});

afterAll(async () => {
  client?.destroy();
  await sfn?.stop();
  if (queueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  sqs?.destroy();
});

const input = (jobId: string, timeoutSeconds: number) => ({
  packId: 'p', jobId,
  gpu: {
    attempt: 1, workflow: { 1: { class_type: 'LoadImage', inputs: { image: '{{person}}' } } },
    inputs: { person: 'uploads/p.png' }, outputPrefix: `out/${jobId}/`, deadlineSeconds: 600, timeoutSeconds,
    enqueuedAt: new Date().toISOString(), action: 'inpaint',
  } satisfies GpuTask,
});

async function start(jobId: string, timeoutSeconds: number): Promise<string> {
  const r = await client.send(new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(input(jobId, timeoutSeconds)) }));
  return r.executionArn ?? '';
}

/** Receives the message of `jobId`, as a worker that arrives late would; other jobs' messages are put back. */
async function receive(jobId: string): Promise<{ taskToken: string }> {
  const found = await eventually(async () => {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 1 }));
    const m = (r.Messages ?? []).find((x) => (JSON.parse(x.Body ?? '{}') as { jobId: string }).jobId === jobId);
    if (m) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    return m && (JSON.parse(m.Body ?? '{}') as { jobId: string; taskToken: string });
  }, (body) => body !== undefined, `the message for ${jobId}`, { timeoutMs: 20_000, everyMs: 0 });
  return found!;
}

describe('the GPU task waits for a worker without failing', () => {
  it('runs no heartbeat clock and bounds wait and run by the TimeoutSecondsPath the prepare step sets', () => {
    expect(gpuState).not.toHaveProperty('HeartbeatSeconds');
    expect(gpuState).not.toHaveProperty('HeartbeatSecondsPath');
    expect(gpuState).not.toHaveProperty('TimeoutSeconds');
    expect(gpuState['TimeoutSecondsPath']).toBe('$.gpu.timeoutSeconds');
    expect(gpuTaskTimeoutSeconds()).toBe(GPU_TASK.waitMinutes.default * 60 + GPU_TASK.timeoutSeconds);
  });

  it('completes a task whose message waited in the queue longer than the old heartbeat clock', async () => {
    // Prepare: nobody receives the message for 1.5 × the heartbeat the task used to have.
    const executionArn = await start('late-worker', gpuTaskTimeoutSeconds(1));
    const waitMs = GPU_TASK.heartbeatSeconds * 1000 * TIME_SCALE * 1.5;
    await new Promise((r) => setTimeout(r, waitMs));

    // Act: a worker finally takes it and answers.
    const message = await receive('late-worker');
    await client.send(new SendTaskSuccessCommand({
      taskToken: message.taskToken,
      output: JSON.stringify({ outputs: ['out/late-worker/i.png'], gpuSeconds: 1, promptId: 'p1', workerId: 'w1' }),
    }));
    const done = await waitForExecution(client, executionArn, { timeoutMs: 30_000 });

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '{}')).toMatchObject({ route: S.compose, inpaint: { workerId: 'w1' } });
  });

  it('ends a task nobody answers within its timeout in States.Timeout, routed to resume from the checkpoint', async () => {
    // Prepare: a 40 s budget (2 s at this time scale) and no worker at all.
    const executionArn = await start('no-worker', 40);

    // Act
    const done = await waitForExecution(client, executionArn, { timeoutMs: 30_000 });

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '{}')).toEqual({ route: S.resume, error: 'States.Timeout' });
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    const timedOut = history.events?.find((e) => e.type === 'TaskTimedOut');
    expect(timedOut?.taskTimedOutEventDetails?.error).toBe('States.Timeout');
  });
});
