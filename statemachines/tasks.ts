/** Task state builders shared by the pack and job machines. */
import type { ErrorName } from '../core/taxonomy.ts';
import type { State } from './asl-types.ts';
import { catchersFor, isLambdaServiceError, retriersFor, type Routes } from './retry-catch.ts';

/** The Lambda functions the machines invoke; CDK and the offline runtime bind each id. */
export const STATE_FUNCTIONS = [
  'JobStart', 'SegmentationPlan', 'SegmentationCall', 'MaskAggregate', 'MaskExpand',
  'InpaintPrepare', 'HostedSubmit', 'HostedPoll', 'Compose', 'QaCheck',
  'ReduceParams', 'SwitchModel', 'ResumeCheckpoint', 'Resegment', 'PlanFix', 'BackoffGpu', 'JobFail',
  'PackLoad', 'PackFinalize', 'PackFail',
] as const;
export type StateFunctionId = (typeof STATE_FUNCTIONS)[number];

/** The definition-substitution key of a function's ARN (`${JobStartFunctionArn}`). */
export const functionArnKey = (id: StateFunctionId) => `${id}FunctionArn`;
export const GPU_QUEUE_URL_KEY = 'GpuQueueUrl';
export const JOB_STATE_MACHINE_ARN_KEY = 'JobStateMachineArn';

export interface LambdaTaskOptions {
  readonly comment: string;
  /** The next state; none ends the machine. */
  readonly next?: string;
  /** Recovery routes this state offers (strategy → state name). */
  readonly routes?: Routes;
  /** Where unrecoverable and exhausted errors go. */
  readonly failure: string;
  /** Where Control.Stopped goes (emergency stop). */
  readonly stop?: string;
  /** Which retried names this state can meet, beyond Lambda's and transport's. */
  readonly retries?: (name: ErrorName) => boolean;
  /** Where a retried name goes once its retries are spent, instead of the failure. */
  readonly afterRetries?: Partial<Record<ErrorName, string>>;
}

/** Names every Lambda task may meet: Lambda's own service errors (its timeout too) and transport hiccups. */
export const baseRetries = (name: ErrorName) => isLambdaServiceError(name) || name.startsWith('Transient.');

/**
 * A Lambda task. The handler receives the machine's state and the execution ARN, and
 * returns the next state (the middy stack merges its patch), so OutputPath drops
 * Lambda's invocation envelope.
 */
export function lambdaTask(fn: StateFunctionId, o: LambdaTaskOptions): State {
  // The Catch goes before End/Next, where the rendered ASL has always had it.
  const { End: _end, Next: _next, ...task } = lambdaInvoke(fn, o);
  return {
    ...task,
    Catch: catchersFor(o.routes ?? {}, o.failure, {
      ...(o.stop !== undefined && { stop: o.stop }),
      ...(o.afterRetries !== undefined && { afterRetries: o.afterRetries }),
    }),
    ...(o.next === undefined ? { End: true } : { Next: o.next }),
  };
}

/**
 * A Lambda task with Lambda's and transport's retriers and no Catch: for a task whose
 * errors its enclosing state catches (a Map's item). `lambdaTask` adds the Catch.
 */
export function lambdaInvoke(fn: StateFunctionId, o: Pick<LambdaTaskOptions, 'comment' | 'next' | 'retries'>): State {
  return {
    Type: 'Task',
    Comment: o.comment,
    Resource: 'arn:aws:states:::lambda:invoke',
    Parameters: {
      FunctionName: `\${${functionArnKey(fn)}}`,
      Payload: { 'state.$': '$', 'executionArn.$': '$$.Execution.Id' },
    },
    OutputPath: '$.Payload',
    Retry: retriersFor((n) => baseRetries(n) || (o.retries?.(n) ?? false)),
    ...(o.next === undefined ? { End: true } : { Next: o.next }),
  };
}
