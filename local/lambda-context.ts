/**
 * The context object Lambda passes a handler, built once for everything offline that calls
 * handlers itself (the local Step Functions service, the API gateway, the SQS event source,
 * the watchdog timer, the arm64 bundle host, tests): close enough to Lambda's for
 * Powertools Logger/Metrics and middy.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export interface LambdaContextOptions {
  readonly functionName: string;
  /** Epoch ms when the function must be done: getRemainingTimeInMillis counts down to it. */
  readonly deadline: number;
  /** @default arn:aws:lambda:us-east-1:000000000000:function:<functionName> */
  readonly functionArn?: string;
  /** @default 512 */
  readonly memoryMiB?: number;
  /** @default a random UUID */
  readonly requestId?: string;
  /** @default Lambda's form, `YYYY/MM/DD/[$LATEST]<request id without dashes>` */
  readonly logStreamName?: string;
}

export function lambdaContext(o: LambdaContextOptions): Context {
  const requestId = o.requestId ?? randomUUID();
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    // Lambda's default; async handlers never wait on the callback anyway.
    callbackWaitsForEmptyEventLoop: true,
    functionName: o.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: o.functionArn ?? `arn:aws:lambda:us-east-1:000000000000:function:${o.functionName}`,
    memoryLimitInMB: String(o.memoryMiB ?? 512),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${o.functionName}`,
    logStreamName: o.logStreamName ?? `${day}/[$LATEST]${requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, o.deadline - Date.now()),
    // The callback-era methods exist on the type; async handlers never use them.
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
