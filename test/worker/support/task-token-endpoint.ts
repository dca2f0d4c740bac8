/**
 * A Step Functions task-token callback endpoint for the worker tests: it records the
 * SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat calls the real SFNClient sends
 * (JSON 1.0 protocol, X-Amz-Target AWSStepFunctions.*) and can refuse a token the way
 * Step Functions does (400 TaskTimedOut / InvalidToken).
 *
 * This is a test double for one path only; the local Step Functions service (local/)
 * covers the same calls end to end in the integration tests. Like Step Functions, it
 * closes a task once it is answered, so later calls with its token get TaskTimedOut.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type TaskAction = 'SendTaskSuccess' | 'SendTaskFailure' | 'SendTaskHeartbeat';

export interface TaskCall {
  readonly action: TaskAction;
  readonly taskToken: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
  /** What the endpoint answered: 'ok' or the error type. */
  readonly answer: string;
}

export type RefusalType = 'TaskTimedOut' | 'InvalidToken' | 'TaskDoesNotExist';

export interface TaskTokenEndpoint {
  readonly url: string;
  readonly calls: readonly TaskCall[];
  callsFor(taskToken: string, action?: TaskAction): TaskCall[];
  /** Every later call with this token is refused with `type`. */
  close(taskToken: string, type?: RefusalType): void;
  /** The next `times` heartbeats of the token fail with HTTP 500 (a service hiccup, not a closed task). */
  failHeartbeats(taskToken: string, times: number): void;
  /** Resolves with the first call matching `predicate`, already made or yet to come. */
  waitFor(predicate: (c: TaskCall) => boolean, timeoutMs?: number): Promise<TaskCall>;
  stop(): Promise<void>;
}

export async function startTaskTokenEndpoint(): Promise<TaskTokenEndpoint> {
  const calls: TaskCall[] = [];
  const closed = new Map<string, RefusalType>();
  const heartbeatFailures = new Map<string, number>();
  const waiters: { predicate: (c: TaskCall) => boolean; resolve: (c: TaskCall) => void }[] = [];

  const record = (call: TaskCall) => {
    calls.push(call);
    for (const w of [...waiters]) {
      if (w.predicate(call)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const action = target.replace(/^AWSStepFunctions\./, '') as TaskAction;
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, string>;
      const reply = (status: number, payload: unknown) =>
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(payload));
      if (!['SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat'].includes(action)) {
        reply(400, { __type: 'com.amazonaws.states#UnknownOperationException', message: `not served here: ${target}` });
        return;
      }
      const token = body['taskToken'] ?? '';
      const base = {
        action, taskToken: token,
        ...(body['output'] !== undefined && { output: body['output'] }),
        ...(body['error'] !== undefined && { error: body['error'] }),
        ...(body['cause'] !== undefined && { cause: body['cause'] }),
      };
      const refusal = closed.get(token);
      if (refusal !== undefined) {
        record({ ...base, answer: refusal });
        reply(400, { __type: `com.amazonaws.states#${refusal}`, message: `Task ${refusal === 'TaskTimedOut' ? 'timed out or closed' : 'token invalid'}` });
        return;
      }
      const failures = heartbeatFailures.get(token) ?? 0;
      if (action === 'SendTaskHeartbeat' && failures > 0) {
        heartbeatFailures.set(token, failures - 1);
        record({ ...base, answer: 'InternalFailure' });
        reply(500, { __type: 'com.amazonaws.states#InternalFailure', message: 'injected heartbeat failure' });
        return;
      }
      if (action !== 'SendTaskHeartbeat') closed.set(token, 'TaskTimedOut');
      record({ ...base, answer: 'ok' });
      reply(200, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    callsFor: (taskToken, action) => calls.filter((c) => c.taskToken === taskToken && (action === undefined || c.action === action)),
    close: (taskToken, type = 'TaskTimedOut') => void closed.set(taskToken, type),
    failHeartbeats: (taskToken, times) => void heartbeatFailures.set(taskToken, times),
    waitFor(predicate, timeoutMs = 10_000) {
      const done = calls.find(predicate);
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching task-token call within ${timeoutMs} ms; calls: ${JSON.stringify(calls.map((c) => [c.action, c.taskToken, c.answer, c.error]))}`));
        }, timeoutMs);
        const waiter = { predicate, resolve: (c: TaskCall) => { clearTimeout(timer); resolve(c); } };
        waiters.push(waiter);
      });
    },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
