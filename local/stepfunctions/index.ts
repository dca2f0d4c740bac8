/** The local Step Functions service: see service.ts. */
export { startLocalStepFunctions, LOCAL_SFN_DEFAULTS } from './service.ts';
export type {
  CreateStateMachineInput,
  EventBridgeStepFunctionsStatusEvent,
  ExecutionStatus,
  LambdaFunctionConfig,
  LambdaHandler,
  LambdaLikeContext,
  LocalStepFunctions,
  LocalStepFunctionsOptions,
  SqsSender,
} from './types.ts';
export { waitForExecution, ExecutionWaitTimeout, type WaitOptions } from './wait-for-execution.ts';
