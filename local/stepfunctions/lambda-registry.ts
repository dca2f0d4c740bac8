/**
 * In-process Lambda functions: finding a handler by FunctionName as Lambda accepts it
 * (ARN, qualified ARN or plain name) and building the context it is invoked with.
 */
import { randomUUID } from 'node:crypto';
import { functionNameOf, lambdaFunctionArn, type Account } from './arns.ts';
import type { LambdaHandler, LambdaLikeContext } from './types.ts';

export interface ResolvedFunction {
  readonly handler: LambdaHandler;
  readonly functionName: string;
  readonly functionArn: string;
}

export class LambdaRegistry {
  private readonly exact = new Map<string, LambdaHandler>();
  private readonly byName = new Map<string, LambdaHandler[]>();
  private readonly account: Account;

  constructor(handlers: Readonly<Record<string, LambdaHandler>>, account: Account) {
    this.account = account;
    for (const [key, handler] of Object.entries(handlers)) {
      this.exact.set(key, handler);
      const name = functionNameOf(key);
      this.byName.set(name, [...(this.byName.get(name) ?? []), handler]);
    }
  }

  /** Exact key first, then the unique handler registered under the same function name. */
  resolve(nameOrArn: string): ResolvedFunction | undefined {
    const functionName = functionNameOf(nameOrArn);
    const candidates = this.byName.get(functionName);
    const handler = this.exact.get(nameOrArn) ?? (candidates?.length === 1 ? candidates[0] : undefined);
    if (!handler) return undefined;
    return { handler, functionName, functionArn: lambdaFunctionArn(this.account, nameOrArn) };
  }
}

export interface ContextOptions {
  readonly fn: ResolvedFunction;
  readonly executionArn: string;
  readonly abortSignal: AbortSignal;
  /** Epoch ms when the function must be done (its own timeout or the task's, whichever is first). */
  readonly deadline: number;
}

/** A context close enough to Lambda's for Powertools Logger/Metrics and middy. */
export function lambdaContext(o: ContextOptions): LambdaLikeContext {
  const requestId = randomUUID();
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: o.fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: o.fn.functionArn,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${o.fn.functionName}`,
    logStreamName: `${day}/[$LATEST]${requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, o.deadline - Date.now()),
    // The callback-era methods exist on the type; async handlers never use them.
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
    abortSignal: o.abortSignal,
    executionArn: o.executionArn,
  };
}
