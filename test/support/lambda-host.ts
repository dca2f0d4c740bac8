/**
 * Runs inside the linux-arm64 Node (under qemu-user) as a small Lambda runtime for many
 * functions at once, so one slow start serves them all. Requests come as JSON lines on
 * stdin: `{ id, bundle, env, event, functionName, memoryMiB, timeoutSeconds }`. For each,
 * the process environment becomes exactly the base plus the function's, the bundle's
 * index.mjs is imported (once, as Lambda's init) and its `handler` called with the event
 * and a context. Answers go to fd 3 as JSON lines, apart from the functions' own logs on
 * stdout. Only node: built-ins and local/lambda-context.ts (itself only node: built-ins) here: this file runs as is
 * (type stripping), outside vitest.
 */
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { lambdaContext } from '../../local/lambda-context.ts';

interface Request {
  readonly id: number;
  readonly bundle: string;
  readonly env: Record<string, string>;
  readonly event: unknown;
  readonly functionName: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const base = { ...process.env };
const modules = new Map<string, Promise<{ handler?: Handler }>>();

function setEnv(env: Record<string, string>): void {
  for (const k of Object.keys(process.env)) if (!(k in base)) delete process.env[k];
  Object.assign(process.env, base, env);
}

function answer(value: unknown): void {
  writeSync(3, `${JSON.stringify(value)}\n`);
}

async function invoke(r: Request): Promise<unknown> {
  setEnv({
    ...r.env,
    AWS_LAMBDA_FUNCTION_NAME: r.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(r.memoryMiB),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  });
  const url = pathToFileURL(r.bundle).href;
  let mod = modules.get(url);
  if (mod === undefined) {
    mod = import(url) as Promise<{ handler?: Handler }>;
    modules.set(url, mod);
  }
  const { handler } = await mod;
  if (typeof handler !== 'function') throw new TypeError(`${r.bundle} exports no handler function`);
  const context = lambdaContext({
    functionName: r.functionName,
    functionArn: `arn:aws:lambda:${process.env['AWS_REGION'] ?? 'us-east-1'}:000000000000:function:${r.functionName}`,
    memoryMiB: r.memoryMiB,
    deadline: Date.now() + r.timeoutSeconds * 1000,
  });

  return handler(r.event, context);
}

const lines = createInterface({ input: process.stdin });
// One invocation at a time, as one Lambda execution environment runs them.
let queue: Promise<void> = Promise.resolve();
lines.on('line', (line) => {
  const r = JSON.parse(line) as Request;
  queue = queue.then(async () => {
    const started = Date.now();
    try {
      const value = await invoke(r);
      answer({ id: r.id, ok: true, value: value ?? null, ms: Date.now() - started });
    } catch (e) {
      const err = e as { name?: string; message?: string; code?: string; stack?: string };
      answer({ id: r.id, ok: false, error: { name: err.name, message: err.message, code: err.code, stack: err.stack?.split('\n').slice(0, 6).join('\n') }, ms: Date.now() - started });
    }
  });
});
answer({ id: 0, ok: true, value: { arch: process.arch, platform: process.platform, version: process.version } });
