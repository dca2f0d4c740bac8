/**
 * The API's Lambda function: every route of the REST API (Lambda proxy integration)
 * comes here. Thin: middy adds the Powertools logger context; lambdas/api/router.ts does
 * the rest.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { logger } from '../../adapters/logging.ts';
import { breakerStates } from '../../adapters/provider-breakers.ts';
import { autoRecoveryBreakerState } from '../../adapters/watchdog-deferred.ts';
import { useBreakerSource } from './health-hooks.ts';
import { dispatch } from './router.ts';

// GET /health reads the providers' circuit breakers, and auto-recovery's own, from the control table.
useBreakerSource(async () => [...(await breakerStates()), await autoRecoveryBreakerState()]);

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

// Metrics are published by the router when there is one to publish (faults), not after every request.
export const handler = middy(dispatch).use(injectLambdaContext(logger, { resetKeys: true })) as unknown as ApiHandler;
