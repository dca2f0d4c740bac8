/**
 * The local Step Functions service through the real SFNClient: starting, describing,
 * listing executions, their history, and the API errors the SDK turns into exceptions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidExecutionInput,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { signRequest } from '../../client/signed-fetch.ts';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startJsonServer, type SfnRequest } from '../../local/stepfunctions/http-server.ts';
import { startLocalStepFunctions } from '../../local/stepfunctions/service.ts';
import type { LambdaLikeContext, LocalStepFunctions } from '../../local/stepfunctions/types.ts';
import { waitForExecution } from '../../local/stepfunctions/wait-for-execution.ts';

const GREET_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:greet';

const greetMachine = {
  Comment: 'Pass, then a Lambda task',
  StartAt: 'Add greeting',
  States: {
    'Add greeting': { Type: 'Pass', Result: 'hello', ResultPath: '$.greeting', Next: 'Greet' },
    Greet: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: '${GreetFunction}', 'Payload.$': '$' },
      ResultSelector: { 'text.$': '$.Payload.text' },
      End: true,
    },
  },
};

/** Holds until the test releases it, so an execution stays RUNNING. */
const holdMachine = {
  StartAt: 'Hold',
  States: { Hold: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'hold', 'Payload.$': '$' }, End: true } },
};

/** A handler as the pipeline writes them: middy with Powertools Logger and Metrics middleware. */
const logger = new Logger({ serviceName: 'sfn-local-test' });
const metrics = new Metrics({ namespace: 'SfnLocalTest', serviceName: 'sfn-local-test' });
const powered = middy(async (_event: unknown, context: Context) => ({ functionName: context.functionName, remaining: context.getRemainingTimeInMillis() > 0 }))
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));

let sfn: LocalStepFunctions;
let client: SFNClient;
let greetArn: string;
let holdArn: string;
let releaseHolds: () => void = () => undefined;
const contexts: LambdaLikeContext[] = [];

beforeAll(async () => {
  let holds = new Promise<void>((r) => (releaseHolds = r));
  sfn = await startLocalStepFunctions({
    credentials: LOCAL_CREDENTIALS,
    lambdaHandlers: {
      [GREET_ARN]: async (event, context) => {
        contexts.push(context);
        const e = event as { greeting: string; who: string };
        return { text: `${e.greeting}, ${e.who}` };
      },
      powered: (event, context) => powered(event, context),
      hold: async () => {
        await holds;
        holds = Promise.resolve();
        return {};
      },
    },
  });
  client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  greetArn = sfn.createStateMachine({ name: 'greet', definition: greetMachine, substitutions: { GreetFunction: GREET_ARN } }).stateMachineArn;
  holdArn = sfn.createStateMachine({ name: 'hold', definition: JSON.stringify(holdMachine) }).stateMachineArn;
  sfn.createStateMachine({
    name: 'powered',
    definition: { StartAt: 'Call', States: { Call: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'powered' }, OutputPath: '$.Payload', End: true } } },
  });
});

afterAll(async () => {
  releaseHolds();
  client?.destroy();
  await sfn?.stop();
});

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 4 }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

describe('local Step Functions API', () => {
  it('runs an execution to SUCCEEDED and describes it with its input, output and dates', async () => {
    // Prepare
    const input = JSON.stringify({ who: 'Ada' });
    // Act
    const started = await client.send(new StartExecutionCommand({ stateMachineArn: greetArn, name: 'first', input }));
    const done = await waitForExecution(client, started.executionArn ?? '');
    // Assess
    expect(started.executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:greet:first');
    expect(started.startDate).toBeInstanceOf(Date);
    expect(done).toMatchObject({ status: 'SUCCEEDED', name: 'first', stateMachineArn: greetArn, input });
    expect(JSON.parse(done.output ?? '')).toEqual({ text: 'hello, Ada' });
    expect(done.stopDate!.getTime()).toBeGreaterThanOrEqual(done.startDate!.getTime());
  });

  it('writes the history in AWS shape: entered/exited per state type and the task events', async () => {
    // Prepare
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: greetArn, input: '{"who":"Grace"}' }));
    await waitForExecution(client, executionArn ?? '');
    // Act
    const events = await history(executionArn ?? '');
    // Assess
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(events[1]?.previousEventId).toBe(1);
    expect(events[3]?.stateEnteredEventDetails).toMatchObject({ name: 'Greet', input: JSON.stringify({ who: 'Grace', greeting: 'hello' }) });
    expect(events[4]?.taskScheduledEventDetails).toMatchObject({ resourceType: 'lambda', resource: 'invoke', region: 'us-east-1' });
    expect(JSON.parse(events[6]?.taskSucceededEventDetails?.output ?? '')).toMatchObject({ Payload: { text: 'hello, Grace' }, StatusCode: 200 });
    expect(events[0]?.timestamp).toBeInstanceOf(Date);
  });

  it('pages the history in reverse order too', async () => {
    // Prepare
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: greetArn, input: '{"who":"Linus"}' }));
    await waitForExecution(client, executionArn ?? '');
    const forward = await history(executionArn ?? '');
    // Act
    const first = await client.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 5 }));
    const second = await client.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 5, nextToken: first.nextToken }));
    // Assess
    expect([...(first.events ?? []), ...(second.events ?? [])].map((e) => e.id)).toEqual(forward.map((e) => e.id).reverse());
    expect(second.nextToken).toBeUndefined();
  });

  it('invokes the handler with a Lambda-like context', async () => {
    // Prepare
    contexts.length = 0;
    // Act
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: greetArn, input: '{"who":"Alan"}' }));
    await waitForExecution(client, executionArn ?? '');
    // Assess
    const context = contexts[0];
    expect(context).toMatchObject({ functionName: 'greet', invokedFunctionArn: GREET_ARN, functionVersion: '$LATEST', executionArn, callbackWaitsForEmptyEventLoop: true });
    expect(context?.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context?.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(context?.abortSignal.aborted).toBe(false);
  });

  it('runs a middy handler with Powertools Logger and Metrics middleware on that context', async () => {
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: greetArn.replace(':greet', ':powered') }));
    const done = await waitForExecution(client, executionArn ?? '');
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '')).toEqual({ functionName: 'powered', remaining: true });
  });

  it('lists executions newest first, filtered by status and paged', async () => {
    // Prepare
    const arns: string[] = [];
    for (const who of ['a', 'b', 'c']) {
      const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: greetArn, name: `list-${who}`, input: JSON.stringify({ who }) }));
      await waitForExecution(client, executionArn ?? '');
      arns.push(executionArn ?? '');
    }
    // Act
    const first = await client.send(new ListExecutionsCommand({ stateMachineArn: greetArn, statusFilter: 'SUCCEEDED', maxResults: 2 }));
    const second = await client.send(new ListExecutionsCommand({ stateMachineArn: greetArn, statusFilter: 'SUCCEEDED', maxResults: 2, nextToken: first.nextToken }));
    const running = await client.send(new ListExecutionsCommand({ stateMachineArn: greetArn, statusFilter: 'RUNNING' }));
    // Assess
    expect(first.executions?.map((e) => e.executionArn)).toEqual([arns[2], arns[1]]);
    expect(second.executions?.[0]?.executionArn).toBe(arns[0]);
    expect(first.executions?.[0]).toMatchObject({ status: 'SUCCEEDED', name: 'list-c', stateMachineArn: greetArn });
    expect(running.executions).toEqual([]);
  });

  it('names an execution with a UUID when no name is given', async () => {
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: greetArn, input: '{"who":"x"}' }));
    expect(executionArn).toMatch(/:execution:greet:[0-9a-f-]{36}$/);
  });

  it('refuses to reuse the name of a finished execution', async () => {
    // Prepare
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: greetArn, name: 'once', input: '{"who":"x"}' }));
    await waitForExecution(client, executionArn ?? '');
    // Act
    const again = client.send(new StartExecutionCommand({ stateMachineArn: greetArn, name: 'once', input: '{"who":"x"}' }));
    // Assess
    await expect(again).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('treats the same name and input while running as the same start, and other input as a conflict', async () => {
    // Prepare
    const first = await client.send(new StartExecutionCommand({ stateMachineArn: holdArn, name: 'held', input: '{"n":1}' }));
    // Act
    const same = await client.send(new StartExecutionCommand({ stateMachineArn: holdArn, name: 'held', input: '{"n":1}' }));
    const other = await client.send(new StartExecutionCommand({ stateMachineArn: holdArn, name: 'held', input: '{"n":2}' })).catch((e: unknown) => e);
    // Assess
    expect(same.executionArn).toBe(first.executionArn);
    expect(same.startDate).toEqual(first.startDate);
    expect(other).toBeInstanceOf(ExecutionAlreadyExists);
    releaseHolds();
    expect((await waitForExecution(client, first.executionArn ?? '')).status).toBe('SUCCEEDED');
  });

  it.each([
    ['an unknown execution', () => new DescribeExecutionCommand({ executionArn: 'arn:aws:states:us-east-1:000000000000:execution:greet:nope' }), ExecutionDoesNotExist],
    ['an unknown state machine', () => new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:nope' }), StateMachineDoesNotExist],
    ['input that is not JSON', () => new StartExecutionCommand({ stateMachineArn: greetArn, input: '{nope' }), InvalidExecutionInput],
  ] as const)('answers %s with the named exception', async (_case, command, exception) => {
    await expect(client.send(command() as DescribeExecutionCommand)).rejects.toBeInstanceOf(exception);
  });

  it('describes and lists the registered state machines', async () => {
    // Act
    const described = await client.send(new DescribeStateMachineCommand({ stateMachineArn: greetArn }));
    const listed = await client.send(new ListStateMachinesCommand({}));
    // Assess
    expect(described).toMatchObject({ name: 'greet', type: 'STANDARD', status: 'ACTIVE' });
    expect(described.definition).toContain(GREET_ARN);
    expect(described.definition).not.toContain('${GreetFunction}');
    expect(listed.stateMachines?.map((m) => m.name).sort()).toEqual(['greet', 'hold', 'powered']);
  });
});

describe('local Step Functions memory bounds', () => {
  it('drops the oldest finished executions past maxExecutions', async () => {
    // Prepare
    const small = await startLocalStepFunctions({ credentials: LOCAL_CREDENTIALS, lambdaHandlers: {}, maxExecutions: 3 });
    const smallClient = new SFNClient({ endpoint: small.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    try {
      const { stateMachineArn } = small.createStateMachine({ name: 'tiny', definition: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } } });
      const arns: string[] = [];
      // Act
      for (let i = 0; i < 5; i++) {
        const { executionArn } = await smallClient.send(new StartExecutionCommand({ stateMachineArn, name: `e${i}` }));
        await waitForExecution(smallClient, executionArn ?? '');
        arns.push(executionArn ?? '');
      }
      const oldest = await smallClient.send(new DescribeExecutionCommand({ executionArn: arns[0] })).catch((e: unknown) => e);
      const listed = await smallClient.send(new ListExecutionsCommand({ stateMachineArn }));
      // Assess
      expect(oldest).toBeInstanceOf(ExecutionDoesNotExist);
      expect(listed.executions?.map((e) => e.name)).toEqual(['e4', 'e3', 'e2']);
    } finally {
      smallClient.destroy();
      await small.stop();
    }
  });
});

describe('local Step Functions authentication (SigV4, as the local gateway checks it)', () => {
  let guarded: LocalStepFunctions;
  let good: SFNClient;
  let onToken: (token: string) => void = () => undefined;
  let machines = 0;
  const callbackMachine = {
    StartAt: 'Wait for a worker',
    States: {
      'Wait for a worker': {
        Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
        Parameters: { QueueUrl: 'https://sqs.local/q', MessageBody: { 'taskToken.$': '$$.Task.Token' } }, End: true,
      },
    },
  };
  const clientWith = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new SFNClient({ endpoint: guarded.url, region: 'us-east-1', credentials, maxAttempts: 1 });

  beforeAll(async () => {
    guarded = await startLocalStepFunctions({
      credentials: LOCAL_CREDENTIALS,
      lambdaHandlers: {},
      sqs: { send: async (_url, body) => onToken((JSON.parse(body) as { taskToken: string }).taskToken) },
    });
    good = clientWith(LOCAL_CREDENTIALS);
  });
  afterAll(async () => {
    good?.destroy();
    await guarded?.stop();
  });

  /** A running execution waiting on its task token. */
  async function waiting(): Promise<{ executionArn: string; taskToken: string }> {
    const stateMachineArn = guarded.createStateMachine({ name: `callback-${++machines}`, definition: callbackMachine }).stateMachineArn;
    const token = new Promise<string>((resolve) => (onToken = resolve));
    const { executionArn } = await good.send(new StartExecutionCommand({ stateMachineArn }));
    return { executionArn: executionArn!, taskToken: await token };
  }
  const statusOf = async (executionArn: string) => (await good.send(new DescribeExecutionCommand({ executionArn }))).status;

  it('refuses unsigned requests with 400 MissingAuthenticationTokenException, and neither answers the task nor stops the execution', async () => {
    // Prepare
    const { executionArn, taskToken } = await waiting();
    const post = (action: string, body: object) => fetch(guarded.url, {
      method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AWSStepFunctions.${action}` }, body: JSON.stringify(body),
    });
    // Act
    const answers = [await post('SendTaskSuccess', { taskToken, output: '{}' }), await post('StopExecution', { executionArn })];
    // Assess
    for (const res of answers) {
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ __type: 'com.amazon.coral.service#MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    }
    expect(await statusOf(executionArn)).toBe('RUNNING');
    await good.send(new SendTaskSuccessCommand({ taskToken, output: '{}' }));
    expect((await waitForExecution(good, executionArn)).status).toBe('SUCCEEDED');
  });

  it.each([
    ['the wrong secret', 'InvalidSignatureException', { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'guessed' }, /^The request signature we calculated does not match/],
    ['an unknown access key', 'UnrecognizedClientException', { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' }, /^The security token included in the request is invalid/],
  ])('refuses a request signed with %s with %s, and neither answers the task nor stops the execution', async (_name, exception, credentials, message) => {
    // Prepare
    const { executionArn, taskToken } = await waiting();
    const intruder = clientWith(credentials);
    try {
      // Act
      const answered = await intruder.send(new SendTaskSuccessCommand({ taskToken, output: '{"forged":true}' })).catch((e: unknown) => e);
      const stopped = await intruder.send(new StopExecutionCommand({ executionArn })).catch((e: unknown) => e);
      // Assess
      for (const e of [answered, stopped]) {
        expect(e).toMatchObject({ name: exception, $metadata: { httpStatusCode: 400 } });
        expect((e as Error).message).toMatch(message);
      }
      expect(await statusOf(executionArn)).toBe('RUNNING');
    } finally {
      intruder.destroy();
    }
    await good.send(new SendTaskSuccessCommand({ taskToken, output: '{"real":true}' }));
    const done = await waitForExecution(good, executionArn);
    expect(JSON.parse(done.output ?? '')).toEqual({ real: true });
  });

  it('refuses a signature for another service or region', async () => {
    const s = await signRequest(guarded.url, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AWSStepFunctions.ListStateMachines' }, body: '{}' },
      { credentials: LOCAL_CREDENTIALS, region: 'us-east-1', service: 'execute-api' });
    const { host: _h, ...headers } = s.headers;
    const res = await fetch(guarded.url, { method: 'POST', headers, body: '{}' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ __type: 'com.amazon.coral.service#InvalidSignatureException', message: expect.stringMatching(/scoped to correct service: 'states'/) });
  });

  it('hands the action the access key id of the verified signer', async () => {
    // Prepare: a server accepting two signers, whose runner records what it is given.
    const seen: SfnRequest[] = [];
    const other = { accessKeyId: 'vtoworker', secretAccessKey: 'vtoworkersecret' };
    const server = await startJsonServer(0, { region: 'us-east-1', credentials: [LOCAL_CREDENTIALS, other] }, (r) => {
      seen.push(r);
      return {};
    });
    const asOther = new SFNClient({ endpoint: server.url, region: 'us-east-1', credentials: other, maxAttempts: 1 });
    try {
      // Act
      await asOther.send(new ListStateMachinesCommand({}));
      // Assess
      expect(seen).toEqual([{ action: 'ListStateMachines', body: {}, accessKeyId: 'vtoworker' }]);
    } finally {
      asOther.destroy();
      await server.close();
    }
  });
});
