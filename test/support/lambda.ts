import type { Context } from 'aws-lambda';
import { lambdaContext as offlineContext } from '../../local/lambda-context.ts';

/** A Lambda context as the runtime passes it, for calling handlers directly (a minute to run). */
export const lambdaContext = (functionName = 'test-fn'): Context => offlineContext({ functionName, deadline: Date.now() + 60_000 });
