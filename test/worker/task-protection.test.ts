/**
 * ECS task scale-in protection set by the worker. The ECS agent's endpoint cannot run here
 * (it exists only inside an ECS task), so a local HTTP server stands in for it, answering
 * as the agent documents: PUT $ECS_AGENT_URI/task-protection/v1/state with
 * {"ProtectionEnabled", "ExpiresInMinutes"?} → {"protection": …} or {"failure": …}.
 * What is checked is the worker's side: when it asks, what it sends, and that a failing or
 * silent agent never stops GPU work.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../worker/logger.ts';
import { TASK_PROTECTION_PATH, TaskProtection, TaskProtectionError, taskProtectionFromEnv } from '../../worker/task-protection.ts';
import { eventually } from '../support/eventually.ts';
import { startHarness, type Harness } from './support/harness.ts';

interface AgentCall { readonly method: string; readonly path: string; readonly body: Record<string, unknown> }

/** A stand-in for the ECS agent; `answer` decides each reply. */
async function startAgent(answer: (call: AgentCall, res: ServerResponse) => void = (_c, res) => ok(res)) {
  const calls: AgentCall[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const call = { method: req.method ?? '', path: req.url ?? '', body: JSON.parse(text || '{}') as Record<string, unknown> };
      calls.push(call);
      answer(call, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/task-1234`;
  return {
    uri, calls,
    enabled: () => calls.filter((c) => c.body['ProtectionEnabled'] === true).length,
    last: () => calls.at(-1)?.body['ProtectionEnabled'],
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
function ok(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ protection: { ProtectionEnabled: true, TaskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/c/1234' } }));
}

const logged: Record<string, unknown>[] = [];
const log = createLogger({ level: 'debug', write: (line) => logged.push(JSON.parse(line) as Record<string, unknown>) });
const agents: { close(): Promise<void> }[] = [];
const protections: TaskProtection[] = [];
afterEach(async () => {
  await Promise.all(protections.splice(0).map((p) => p.close()));
  await Promise.all(agents.splice(0).map((a) => a.close()));
  logged.length = 0;
});

const agent = async (answer?: Parameters<typeof startAgent>[0]) => {
  const a = await startAgent(answer);
  agents.push(a);
  return a;
};
const protection = (o: ConstructorParameters<typeof TaskProtection>[0]) => {
  const p = new TaskProtection(o);
  protections.push(p);
  return p;
};

describe('task scale-in protection through the ECS agent', () => {
  it('protects the task for a bounded time when work is held, and unprotects it when none is', async () => {
    // Prepare
    const a = await agent();
    const p = protection({ agentUri: a.uri, log, expiresInMinutes: 7 });

    // Act
    p.held(true);
    await eventually(() => a.calls.length, (n) => n === 1, 'the enable call');
    p.held(false);
    await eventually(() => a.calls.length, (n) => n === 2, 'the disable call');

    // Assess
    expect(a.calls).toEqual([
      { method: 'PUT', path: `/api/task-1234${TASK_PROTECTION_PATH}`, body: { ProtectionEnabled: true, ExpiresInMinutes: 7 } },
      { method: 'PUT', path: `/api/task-1234${TASK_PROTECTION_PATH}`, body: { ProtectionEnabled: false } },
    ]);
  });

  it('renews protection while work is held and stops renewing once it is released', async () => {
    // Prepare
    const a = await agent();
    const p = protection({ agentUri: a.uri, log, renewEveryMs: 40 });

    // Act
    p.held(true);
    await eventually(() => a.enabled(), (n) => n >= 3, 'two renewals');
    p.held(false);
    await eventually(() => a.last(), (v) => v === false, 'the disable call');
    const after = a.calls.length;
    await new Promise((r) => setTimeout(r, 200));

    // Assess
    expect(a.calls.length).toBe(after);
  });

  it('calls only on a change, and ends on the latest state when changes come faster than the agent answers', async () => {
    // Prepare
    const a = await agent((_c, res) => setTimeout(() => ok(res), 30));
    const p = protection({ agentUri: a.uri, log });

    // Act
    p.held(true);
    p.held(true);
    p.held(false);
    p.held(true);
    p.held(false);
    await p.close();

    // Assess
    expect(a.calls.length).toBeLessThanOrEqual(2);
    expect(a.last()).toBe(false);
  });

  it('logs a refusal by the agent and goes on; the next change is sent', async () => {
    // Prepare
    let refuse = true;
    const a = await agent((_c, res) => {
      if (!refuse) return ok(res);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ failure: { Arn: 'arn:aws:ecs:…', Reason: 'TASK_NOT_VALID' } }));
    });
    const p = protection({ agentUri: a.uri, log });

    // Act
    p.held(true);
    await eventually(() => logged.filter((l) => l['msg'] === 'could not set task scale-in protection'), (w) => w.length === 1, 'the warning');
    refuse = false;
    p.held(false);
    await p.close();

    // Assess
    expect(logged.find((l) => l['level'] === 'warn')).toMatchObject({ protectionEnabled: true, err: { name: 'TaskProtectionError', message: expect.stringContaining('TASK_NOT_VALID') as unknown } });
    expect(a.last()).toBe(false);
  });

  it('gives up on an agent that does not answer within its timeout', async () => {
    // Prepare
    const a = await agent(() => {});
    const p = protection({ agentUri: a.uri, log, requestTimeoutMs: 100 });

    // Act
    const started = Date.now();
    p.held(true);
    await p.close();

    // Assess
    expect(Date.now() - started).toBeLessThan(5000);
    expect(logged.find((l) => l['level'] === 'warn')).toMatchObject({ msg: 'could not set task scale-in protection', err: { name: 'TimeoutError' } });
  });

  it('is on only inside an ECS task (ECS_AGENT_URI set), and refuses a bad agent URI or expiry', () => {
    expect(taskProtectionFromEnv({}, log)).toBeUndefined();
    expect(taskProtectionFromEnv({ ECS_AGENT_URI: '' }, log)).toBeUndefined();
    expect(taskProtectionFromEnv({ ECS_AGENT_URI: 'http://169.254.170.2/api/abc' }, log)).toBeInstanceOf(TaskProtection);
    expect(() => new TaskProtection({ agentUri: 'not a url', log })).toThrow(new TaskProtectionError('ECS_AGENT_URI must be an http(s) URL, got "not a url"'));
    expect(() => new TaskProtection({ agentUri: 'http://a/b', log, expiresInMinutes: 0 })).toThrow(/expiresInMinutes must be a whole number from 1 to 2880, got 0/);
  });
});

describe('the GPU worker protects its task while it runs a job', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is protected from receipt of a task until the task is settled, and unprotected when idle', async () => {
    // Prepare
    const a = await agent();
    const p = protection({ agentUri: a.uri, log });
    const queueUrl = await h.newQueue();
    await h.startWorker({ queueUrl }, { onHeldChange: (held) => p.held(held > 0) });
    const task = h.task({ deadlineSeconds: 30 });
    h.sim.setFault(task.jobId, 'hang');

    // Act
    await h.send(task, queueUrl);
    await eventually(() => h.sim.stats().running, (r) => r !== null, 'the prompt to run');
    await eventually(() => a.last(), (v) => v === true, 'protection while the job runs');
    const whileRunning = a.calls.length;
    // The execution stops: the worker's next heartbeat sees it, stops the prompt and drops the message.
    h.sfn.close(task.taskToken);
    await eventually(() => h.queueCounts(queueUrl), (c) => c.visible === 0 && c.inFlight === 0, 'the message to be dropped');
    await eventually(() => a.last(), (v) => v === false, 'protection lifted once the task is settled');

    // Assess
    expect(whileRunning).toBe(1);
    expect(a.calls.map((c) => c.body['ProtectionEnabled'])).toEqual([true, false]);
  });
});
