/**
 * startLocalStepFunctions: a local AWS Step Functions endpoint for @aws-sdk/client-sfn,
 * running ASL with aws-local-stepfunctions and in-process Lambda handlers. It knows no
 * particular state machine; callers register theirs with createStateMachine. Its callers
 * sign with one of `credentials`, as they would with IAM credentials on AWS.
 */
import type { VerifierCredentials } from '../sigv4-verify.ts';
import { runAction } from './api.ts';
import { Engine } from './engine.ts';
import { startJsonServer } from './http-server.ts';
import { loadStatesTimeoutError } from './task-errors.ts';
import { assertTimeScale } from './time-scale.ts';
import type { LocalStepFunctions, LocalStepFunctionsOptions } from './types.ts';

export const LOCAL_SFN_DEFAULTS = {
  region: 'us-east-1',
  accountId: '000000000000',
  timeScale: 1,
  maxExecutions: 10_000,
  lambdaTimeoutSeconds: 900,
  stopGraceMs: 2000,
} as const;

export async function startLocalStepFunctions(options: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
  const timeScale = options.timeScale ?? LOCAL_SFN_DEFAULTS.timeScale;
  assertTimeScale(timeScale);
  const account = { region: options.region ?? LOCAL_SFN_DEFAULTS.region, accountId: options.accountId ?? LOCAL_SFN_DEFAULTS.accountId };
  const engine = new Engine({
    account,
    timeScale,
    lambdaHandlers: options.lambdaHandlers,
    sqs: options.sqs,
    onStatusChange: options.onStatusChange,
    maxExecutions: options.maxExecutions ?? LOCAL_SFN_DEFAULTS.maxExecutions,
    lambdaTimeoutMs: (options.lambdaTimeoutSeconds ?? LOCAL_SFN_DEFAULTS.lambdaTimeoutSeconds) * 1000,
    lambdaConcurrency: options.lambdaConcurrency ?? Number.POSITIVE_INFINITY,
    statesTimeout: await loadStatesTimeoutError(),
  });
  const credentials = Array.isArray(options.credentials) ? options.credentials : [options.credentials as VerifierCredentials];
  const server = await startJsonServer(options.port ?? 0, { region: account.region, credentials }, (r) => runAction(engine, r.action, r.body));
  let stopped: Promise<void> | undefined;
  return {
    url: server.url,
    region: account.region,
    accountId: account.accountId,
    createStateMachine: (input) => ({ stateMachineArn: engine.createStateMachine(input).arn }),
    stop: () =>
      (stopped ??= (async () => {
        await engine.stop(options.stopGraceMs ?? LOCAL_SFN_DEFAULTS.stopGraceMs);
        await server.close();
      })()),
  };
}
