/**
 * stop() ends everything the service started: in a fresh Node process with an execution
 * holding a callback task (with heartbeat and timeout timers), a running Lambda handler,
 * a long Wait, path-based Waits inside a Map and a pending Retry, the process exits on its
 * own once stop() resolves.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const serviceUrl = new URL('../../local/stepfunctions/service.ts', import.meta.url).href;
const eventuallyUrl = new URL('../support/eventually.ts', import.meta.url).href;
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const script = `
const { startLocalStepFunctions } = await import(${JSON.stringify(serviceUrl)});
const { eventually } = await import(${JSON.stringify(eventuallyUrl)});
const { SFNClient, StartExecutionCommand, DescribeExecutionCommand, GetExecutionHistoryCommand } = await import('@aws-sdk/client-sfn');
let handlerOutcome;
const credentials = { accessKeyId: 'a', secretAccessKey: 'b' };
const sfn = await startLocalStepFunctions({
  credentials,
  sqs: { send: async () => undefined },
  lambdaHandlers: {
    slow: async (_event, context) => (handlerOutcome = new Promise((resolve) => {
      const timer = setTimeout(() => resolve('finished'), 600000);
      context.abortSignal.addEventListener('abort', () => { clearTimeout(timer); resolve('aborted'); });
    })),
    failing: async () => { throw new Error('again'); },
  },
});
const wait = (extra) => ({ Type: 'Wait', End: true, ...extra });
const { stateMachineArn } = sfn.createStateMachine({ name: 'busy', definition: {
  StartAt: 'All',
  States: { All: { Type: 'Parallel', End: true, Branches: [
    { StartAt: 'Callback', States: { Callback: { Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: { QueueUrl: 'http://queue', MessageBody: { 'token.$': '$$.Task.Token' } }, HeartbeatSeconds: 600, TimeoutSeconds: 3600, End: true } } },
    { StartAt: 'Lambda', States: { Lambda: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'slow' }, TimeoutSeconds: 3600, End: true } } },
    { StartAt: 'Retrying', States: { Retrying: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'failing' },
      Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 3600 }], End: true } } },
    { StartAt: 'Long wait', States: { 'Long wait': wait({ Seconds: 3600 }) } },
    { StartAt: 'Each', States: { Each: { Type: 'Map', ItemsPath: '$.items', End: true,
      ItemProcessor: { StartAt: 'Wait item', States: { 'Wait item': wait({ SecondsPath: '$' }) } } } } },
  ] } },
} });
const client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials, maxAttempts: 1 });
const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify({ items: [3600, 3600] }) }));
await eventually(() => handlerOutcome !== undefined, Boolean, 'the Lambda handler to run', { timeoutMs: 20_000, everyMs: 10 });
// Every branch holds what stop() must end: the callback submitted, the three Waits entered, the Retry's first failure.
const types = async () => (await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events.map((e) => e.type);
await eventually(types, (t) => t.includes('TaskSubmitted') && t.filter((x) => x === 'WaitStateEntered').length === 3 && t.includes('TaskFailed'),
  'every branch to be under way', { timeoutMs: 10_000, everyMs: 10 });
const before = (await client.send(new DescribeExecutionCommand({ executionArn }))).status;
await sfn.stop();
// Closed handles leave the list on the next turns of the event loop.
for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
console.log(JSON.stringify({ before, handler: await handlerOutcome, resources: process.getActiveResourcesInfo() }));
`;

function runChild(): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '--no-warnings', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Bound only: a process still alive this long after its work is done has leaked a handle.
    const guard = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

describe('local Step Functions shutdown', () => {
  it('leaves no timers or sockets behind: the process exits by itself after stop()', async () => {
    // Act
    const { code, stdout, stderr, killed } = await runChild();
    // Assess
    expect(killed, `the process did not exit; stdout: ${stdout} stderr: ${stderr}`).toBe(false);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { before: string; handler: string; resources: string[] };
    expect(report.before).toBe('RUNNING');
    expect(report.handler).toBe('aborted');
    expect(report.resources.filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap')).toEqual([]);
  });
});
