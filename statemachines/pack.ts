/**
 * The pack machine (docs/architecture.md §2, step 2): loads a pack, runs each job as its own child execution of
 * the job machine (so a large pack stays far below the 25,000-event history limit and
 * each job can be inspected alone), then finalizes the pack. One failed job never fails
 * the pack.
 */
import { PACK_MAP_CONCURRENCY } from '../core/resources.ts';
import type { StateMachineDefinition } from './asl-types.ts';
import { JOB_STATE_MACHINE_ARN_KEY, lambdaTask } from './tasks.ts';

export const PACK_STATES = {
  load: 'Load the pack',
  runJobs: 'Run every job',
  runJob: 'Run the job machine',
  noteFailure: "Note the job's failure",
  finalize: 'Finalize the pack',
  recordFailure: 'Record the pack failure',
  failed: 'Pack failed',
  stopped: 'Stopped by emergency stop',
  done: 'Pack finished',
} as const;

const S = PACK_STATES;

export function buildPackMachine(): StateMachineDefinition {
  return {
    Comment: 'VTO pack: runs every pending job of a pack as a child job execution, then counts the outcome.',
    StartAt: S.load,
    States: {
      [S.load]: lambdaTask('PackLoad', {
        comment: 'Marks the pack running and lists its pending jobs with the execution name of their next run.',
        next: S.runJobs, failure: S.recordFailure, stop: S.stopped,
      }),
      [S.runJobs]: {
        Type: 'Map',
        Comment: 'Each job runs as its own job execution, a bounded number at a time.',
        ItemsPath: '$.jobs',
        ItemSelector: { 'job.$': '$$.Map.Item.Value', 'packExecutionArn.$': '$$.Execution.Id' },
        MaxConcurrency: PACK_MAP_CONCURRENCY,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: S.runJob,
          States: {
            [S.runJob]: {
              Type: 'Task',
              Comment: 'Starts the job machine for one job and waits for it to end.',
              Resource: 'arn:aws:states:::states:startExecution.sync:2',
              Parameters: {
                StateMachineArn: `\${${JOB_STATE_MACHINE_ARN_KEY}}`,
                'Name.$': '$.job.executionName',
                Input: {
                  'packId.$': '$.job.packId',
                  'jobId.$': '$.job.jobId',
                  'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$.packExecutionArn',
                },
              },
              // Only the status travels back: job outputs stay in DynamoDB, not in this history.
              ResultSelector: { 'status.$': '$.Status' },
              Retry: [
                // AWS documents both spellings of the service error for .sync integrations.
                { ErrorEquals: ['StepFunctions.ExecutionLimitExceeded', 'StepFunctions.ExecutionLimitExceededException'], IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 6, MaxDelaySeconds: 60, JitterStrategy: 'FULL' },
              ],
              Catch: [{ ErrorEquals: ['States.ALL'], Next: S.noteFailure, ResultPath: '$.error' }],
              End: true,
            },
            [S.noteFailure]: {
              Type: 'Pass',
              Comment: 'A failed job is recorded in its own item; the pack goes on.',
              Parameters: { status: 'FAILED' },
              End: true,
            },
          },
        },
        ResultPath: null,
        Next: S.finalize,
      },
      [S.finalize]: lambdaTask('PackFinalize', {
        comment: 'Counts the jobs by status and sets the pack complete, completed with failures or failed.',
        next: S.done, failure: S.recordFailure, stop: S.stopped,
      }),
      [S.recordFailure]: {
        ...lambdaTask('PackFail', { comment: 'Marks the pack failed with the reason.', next: S.failed, failure: S.failed }),
        Catch: [{ ErrorEquals: ['States.ALL'], Next: S.failed, ResultPath: '$.recordError' }],
      },
      [S.failed]: { Type: 'Fail', Comment: 'The pack could not run; its item says why.', ErrorPath: '$.lastError.Error', CausePath: '$.lastError.Cause' },
      [S.stopped]: { Type: 'Fail', Comment: 'Emergency stop: the pack resumes on POST /resume.', Error: 'Control.Stopped', Cause: 'The pipeline is emergency-stopped.' },
      [S.done]: { Type: 'Succeed', Comment: 'Every job reached a terminal status.' },
    },
  };
}
