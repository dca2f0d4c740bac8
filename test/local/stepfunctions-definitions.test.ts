/**
 * What definitions the local Step Functions service accepts, how it registers them, and
 * how it scales their durations and fills in the `$$` context.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateStateMachineCommand, GetExecutionHistoryCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { InvalidDefinition, StateMachineAlreadyExists } from '../../local/stepfunctions/api-errors.ts';
import { parseReferencePath, resolveReferencePath } from '../../local/stepfunctions/reference-path.ts';
import { LOCAL_CREDENTIALS } from '../../local/emulators.ts';
import { startLocalStepFunctions } from '../../local/stepfunctions/service.ts';
import type { LocalStepFunctions } from '../../local/stepfunctions/types.ts';
import { waitForExecution } from '../../local/stepfunctions/wait-for-execution.ts';

const pass = { Type: 'Pass', End: true };
const task = (resource: string, extra: object = {}) => ({ Type: 'Task', Resource: resource, End: true, ...extra });

let sfn: LocalStepFunctions;
let client: SFNClient;
const seen: unknown[] = [];

beforeAll(async () => {
  sfn = await startLocalStepFunctions({
    credentials: LOCAL_CREDENTIALS,
    // 1,000 s is 100 ms here.
    timeScale: 0.0001,
    lambdaHandlers: {
      record: async (event) => {
        seen.push(event);
        return event;
      },
    },
  });
  client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await sfn?.stop();
});

async function run(name: string, definition: object, input: object = {}) {
  const { stateMachineArn } = sfn.createStateMachine({ name, definition });
  const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
  const done = await waitForExecution(client, executionArn ?? '');
  return { executionArn: executionArn ?? '', stateMachineArn, done, output: JSON.parse(done.output ?? 'null') as unknown };
}

describe('local Step Functions definitions', () => {
  it.each([
    ['JSONata', { QueryLanguage: 'JSONata', StartAt: 'P', States: { P: pass } }, /JSONata/],
    ['a resource it cannot run', { StartAt: 'T', States: { T: task('arn:aws:states:::dynamodb:putItem') } }, /not supported locally/],
    [
      'a distributed Map',
      {
        StartAt: 'M',
        States: {
          M: {
            Type: 'Map',
            ItemReader: { Resource: 'arn:aws:states:::s3:getObject', ReaderConfig: { InputType: 'JSON' }, Parameters: { Bucket: 'b', Key: 'k' } },
            ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'P', States: { P: pass } },
            End: true,
          },
        },
      },
      /distributed/,
    ],
    ['a state name used twice', { StartAt: 'M', States: { M: { Type: 'Map', ItemProcessor: { StartAt: 'M', States: { M: pass } }, End: true } } }, /DUPLICATE_STATE_NAMES/],
    ['variables (Assign)', { StartAt: 'P', States: { P: { ...pass, Assign: { x: 1 } } } }, /Assign/],
    ['an invalid definition', { StartAt: 'Nowhere', States: { P: pass } }, /invalid/i],
    ['sqs:sendMessage without the sqs option', { StartAt: 'T', States: { T: task('arn:aws:states:::sqs:sendMessage', { Parameters: { QueueUrl: 'q', MessageBody: 'm' } }) } }, /sqs option/],
  ])('refuses %s', (_case, definition, message) => {
    expect(() => sfn.createStateMachine({ name: 'refused', definition })).toThrow(InvalidDefinition);
    expect(() => sfn.createStateMachine({ name: 'refused', definition })).toThrow(message);
  });

  it('refuses a definition whose ${placeholders} have no substitution', () => {
    const definition = { StartAt: 'T', States: { T: task('arn:aws:states:::lambda:invoke', { Parameters: { FunctionName: '${Fn}' } }) } };
    expect(() => sfn.createStateMachine({ name: 'unsubstituted', definition })).toThrow(/Fn/);
  });

  it('returns the same ARN for the same name and definition, and refuses another definition under that name', () => {
    const first = sfn.createStateMachine({ name: 'twice', definition: { StartAt: 'P', States: { P: pass } } });
    const again = sfn.createStateMachine({ name: 'twice', definition: JSON.stringify({ StartAt: 'P', States: { P: pass } }) });
    expect(again.stateMachineArn).toBe(first.stateMachineArn);
    expect(() => sfn.createStateMachine({ name: 'twice', definition: { StartAt: 'Q', States: { Q: pass } } })).toThrow(StateMachineAlreadyExists);
  });

  it('registers a state machine through the CreateStateMachine action too', async () => {
    const created = await client.send(new CreateStateMachineCommand({ name: 'via-api', roleArn: 'arn:aws:iam::000000000000:role/r', definition: JSON.stringify({ StartAt: 'P', States: { P: pass } }) }));
    expect(created.stateMachineArn).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:via-api');
  });

  it('scales Wait by Seconds, SecondsPath and TimestampPath (1,000 s each here)', async () => {
    // Prepare
    const definition = {
      StartAt: 'Seconds',
      States: {
        Seconds: { Type: 'Wait', Seconds: 1000, Next: 'Path' },
        Path: { Type: 'Wait', SecondsPath: '$.delay', Next: 'Timestamp' },
        Timestamp: { Type: 'Wait', TimestampPath: '$.until', End: true },
      },
    };
    const input = { delay: 1000, until: new Date(Date.now() + 1_000_000).toISOString() };
    // Act
    const { done, output } = await run('waits', definition, input);
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(output).toEqual(input);
  });

  it('scales Retry intervals while keeping the backoff (1,000 s, then 2,000 s here)', async () => {
    const definition = {
      StartAt: 'Retried',
      States: {
        Retried: task('arn:aws:states:::lambda:invoke', { Parameters: { FunctionName: 'missing' }, Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1000, MaxAttempts: 2 }] }),
      },
    };
    const { done, executionArn } = await run('retries', definition);
    const { events } = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(done).toMatchObject({ status: 'FAILED', error: 'Lambda.ResourceNotFoundException' });
    expect(events?.filter((e) => e.type === 'TaskFailed')).toHaveLength(3);
  });

  it('gives tasks the $$ context: execution, state machine, and Map item in ItemSelector (legacy Iterator/Parameters too)', async () => {
    // Prepare
    seen.length = 0;
    const definition = {
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          Parameters: { 'item.$': '$$.Map.Item.Value' },
          Iterator: {
            StartAt: 'Record',
            States: {
              Record: task('arn:aws:states:::lambda:invoke', {
                Parameters: { FunctionName: 'record', Payload: { 'item.$': '$.item', 'execution.$': '$$.Execution.Id', 'machine.$': '$$.StateMachine.Name' } },
                OutputPath: '$.Payload.item',
              }),
            },
          },
          End: true,
        },
      },
    };
    // Act
    const { executionArn, output } = await run('context', definition, ['x', 'y']);
    // Assess
    expect(output).toEqual(['x', 'y']);
    expect(seen).toContainEqual({ item: 'x', execution: executionArn, machine: 'context' });
  });
});

describe('reference paths', () => {
  const input = { a: { b: [10, { c: 'deep' }] }, 'odd key': 1 };
  const context = { Execution: { Id: 'arn:x' } };
  it.each([
    ['$', input],
    ['$.a.b[0]', 10],
    ['$.a.b[1].c', 'deep'],
    ["$['odd key']", 1],
    ['$.missing.x', undefined],
    ['$$.Execution.Id', 'arn:x'],
  ])('%s resolves', (path, expected) => {
    expect(resolveReferencePath(parseReferencePath(path), input, context)).toEqual(expected);
  });

  it.each(['a.b', '$.a[*]', '$..a'])('%s is refused', (path) => {
    expect(() => parseReferencePath(path)).toThrow(/reference path/);
  });
});
