/**
 * In-process Lambda functions: finding a handler by FunctionName as Lambda accepts it
 * (ARN, qualified ARN or plain name) and building the context it is invoked with.
 */
import { lambdaContext as baseContext } from '../lambda-context.ts';
import { functionNameOf, lambdaFunctionArn, type Account } from './arns.ts';
import type { LambdaFunctionConfig, LambdaHandler, LambdaLikeContext } from './types.ts';

export interface ResolvedFunction {
  readonly handler: LambdaHandler;
  readonly functionName: string;
  readonly functionArn: string;
  /** The function's configured timeout (real ms). */
  readonly timeoutMs: number;
}

interface Registered {
  readonly handler: LambdaHandler;
  readonly timeoutMs: number;
}

/** Lambda accepts 1 to 900 s; a local test may go below 1 s to stay fast. */
function timeoutMsOf(key: string, seconds: number | undefined, fallbackMs: number): number {
  if (seconds === undefined) return fallbackMs;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 900) {
    throw new RangeError(`lambdaHandlers['${key}'].timeoutSeconds must be a number in (0, 900], got ${seconds}`);
  }
  return seconds * 1000;
}

export class LambdaRegistry {
  private readonly exact = new Map<string, Registered>();
  private readonly byName = new Map<string, Registered[]>();
  private readonly account: Account;

  constructor(handlers: Readonly<Record<string, LambdaHandler | LambdaFunctionConfig>>, account: Account, defaultTimeoutMs: number) {
    this.account = account;
    for (const [key, value] of Object.entries(handlers)) {
      const config: LambdaFunctionConfig = typeof value === 'function' ? { handler: value } : value;
      const registered = { handler: config.handler, timeoutMs: timeoutMsOf(key, config.timeoutSeconds, defaultTimeoutMs) };
      this.exact.set(key, registered);
      const name = functionNameOf(key);
      this.byName.set(name, [...(this.byName.get(name) ?? []), registered]);
    }
  }

  /** Exact key first, then the unique handler registered under the same function name. */
  resolve(nameOrArn: string): ResolvedFunction | undefined {
    const functionName = functionNameOf(nameOrArn);
    const candidates = this.byName.get(functionName);
    const found = this.exact.get(nameOrArn) ?? (candidates?.length === 1 ? candidates[0] : undefined);
    if (!found) return undefined;
    return { handler: found.handler, timeoutMs: found.timeoutMs, functionName, functionArn: lambdaFunctionArn(this.account, nameOrArn) };
  }
}

export interface ContextOptions {
  readonly fn: ResolvedFunction;
  readonly requestId: string;
  readonly executionArn: string;
  readonly abortSignal: AbortSignal;
  /** Epoch ms when the function must be done (its own timeout or the task's, whichever is first). */
  readonly deadline: number;
}

/** Lambda's context for a task's invocation, with the abort signal and execution the local service adds. */
export function lambdaContext(o: ContextOptions): LambdaLikeContext {
  return {
    ...baseContext({ functionName: o.fn.functionName, functionArn: o.fn.functionArn, memoryMiB: 1024, requestId: o.requestId, deadline: o.deadline }),
    abortSignal: o.abortSignal,
    executionArn: o.executionArn,
  };
}
