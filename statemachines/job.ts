/**
 * The job machine (docs/architecture.md §2, step 3): one job through segmentation, inpaint, compositing and
 * QA. Recovery strategies are states of their own, so the console graph shows the path a
 * job took; every Retry and Catch comes from the taxonomy.
 */
import { HOSTED_POLL } from '../core/resources.ts';
import { GPU_MESSAGE_FIELDS } from '../core/gpu-message.ts';
import type { StateMachineDefinition, State } from './asl-types.ts';
import { catchersFor } from './retry-catch.ts';
import { GPU_QUEUE_URL_KEY, lambdaInvoke, lambdaTask } from './tasks.ts';

export const JOB_STATES = {
  start: 'Start the job',
  chooseStage: 'Choose the stage to run',
  planSegmentation: 'Plan the segmentation calls',
  runSegmentation: 'Run the segmentation calls',
  segmentOne: 'Segment with one prompt',
  aggregate: 'Aggregate the masks',
  expand: 'Expand the mask',
  chooseBackend: 'Choose the inpaint backend',
  prepareGpu: 'Prepare the GPU workflow',
  runGpu: 'Run the inpaint on a GPU',
  hostedSubmit: 'Submit to the hosted inpaint API',
  hostedWait: 'Wait for the hosted inpaint',
  hostedPoll: 'Poll the hosted inpaint',
  hostedDone: 'Is the hosted inpaint done?',
  compose: 'Composite the result',
  qa: 'Check the quality',
  reduce: 'Reduce GPU parameters',
  switchModel: 'Switch model',
  resume: 'Resume from checkpoint',
  resegment: 'Choose alternative segmentation',
  planFix: 'Plan a fix',
  backoff: 'Back off before resubmitting',
  backoffWait: 'Wait before resubmitting',
  recordFailure: 'Record the failure',
  failed: 'Job failed',
  stopped: 'Stopped by emergency stop',
  done: 'Job complete',
} as const;

const S = JOB_STATES;
const failure = S.recordFailure;
const stop = S.stopped;

/** Recovery states: each may itself fail (bound reached) and then records the failure. */
const recoveryTask = (fn: Parameters<typeof lambdaTask>[0], comment: string, next: string): State =>
  lambdaTask(fn, { comment, next, failure, stop });

export function buildJobMachine(): StateMachineDefinition {
  const states: Record<string, State> = {
    [S.start]: lambdaTask('JobStart', {
      comment: 'Loads the job, marks it started under this execution and decides where to begin from its checkpoints.',
      next: S.chooseStage, failure, stop,
    }),
    [S.chooseStage]: {
      Type: 'Choice',
      Comment: 'Finished stages are checkpointed and never re-run: start at the first stage without an output.',
      Choices: [
        { Variable: '$.job.resumeAt', StringEquals: 'inpaint', Next: S.chooseBackend },
        { Variable: '$.job.resumeAt', StringEquals: 'compositing', Next: S.compose },
        { Variable: '$.job.resumeAt', StringEquals: 'qa', Next: S.qa },
      ],
      Default: S.planSegmentation,
    },
    [S.planSegmentation]: lambdaTask('SegmentationPlan', {
      comment: 'Chooses the segmentation prompts and providers for this pass (alternatives after a degenerate mask).',
      next: S.runSegmentation, failure, stop,
    }),
    [S.runSegmentation]: {
      Type: 'Map',
      Comment: 'Runs the segmentation calls side by side; each returns one garment-area mask.',
      ItemsPath: '$.segmentation.calls',
      ItemSelector: { 'packId.$': '$.packId', 'jobId.$': '$.jobId', 'call.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index' },
      MaxConcurrency: 4,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: S.segmentOne,
        States: {
          // No Catch of its own: the Map catches (and routes) what its calls throw.
          [S.segmentOne]: lambdaInvoke('SegmentationCall', {
            comment: 'Calls one segmentation provider and stores its mask.',
            retries: (n) => n === 'Provider.MalformedResponse',
          }),
        },
      },
      ResultPath: '$.segmentation.masks',
      // A call that finds its own mask degenerate asks for alternative prompts, as the vote does.
      Catch: catchersFor({ RESEGMENT: S.resegment }, failure, { stop }),
      Next: S.aggregate,
    },
    [S.aggregate]: lambdaTask('MaskAggregate', {
      comment: 'Votes the masks pixel by pixel with a quorum; too few usable masks is a degenerate mask.',
      next: S.expand, failure, stop, routes: { RESEGMENT: S.resegment },
    }),
    [S.expand]: lambdaTask('MaskExpand', {
      comment: 'Dilates the aggregated mask so inpainting has margin, and checkpoints it.',
      next: S.chooseBackend, failure, stop, routes: { RESEGMENT: S.resegment },
    }),
    [S.chooseBackend]: {
      Type: 'Choice',
      Comment: 'The pack chose ComfyUI on our GPU workers or the hosted inpaint API.',
      Choices: [{ Variable: '$.job.inpaint', StringEquals: 'hosted', Next: S.hostedSubmit }],
      Default: S.prepareGpu,
    },
    [S.prepareGpu]: lambdaTask('InpaintPrepare', {
      comment: 'Builds the ComfyUI workflow from the current parameters and opens a new GPU attempt.',
      next: S.runGpu, failure, stop,
    }),
    [S.runGpu]: {
      Type: 'Task',
      Comment: 'Queues the workflow for a GPU worker and waits for its answer. Waiting for a free GPU is not failing: no heartbeat clock runs while the message waits, a dead worker\'s lease lapses and another worker takes the attempt, and the pack\'s wait budget plus the run bound limit the whole task.',
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: {
        QueueUrl: `\${${GPU_QUEUE_URL_KEY}}`,
        MessageBody: {
          'taskToken.$': '$$.Task.Token',
          'packId.$': '$.packId',
          'jobId.$': '$.jobId',
          // The task InpaintPrepare put in $.gpu, field by field (core/gpu-message.ts).
          ...Object.fromEntries(GPU_MESSAGE_FIELDS.map((f) => [`${f}.$`, `$.gpu.${f}`])),
        },
      },
      // Set by "Prepare the GPU workflow" from the job's wait budget (gpuTaskTimeoutSeconds).
      TimeoutSecondsPath: '$.gpu.timeoutSeconds',
      ResultPath: '$.inpaint',
      // GPU failures are caught, not retried in place: each becomes a recorded recovery
      // and a new attempt with fresh parameters, model or backoff.
      Catch: catchersFor(
        { REDUCE_PARAMS: S.reduce, SWITCH_MODEL: S.switchModel, RESUME_CHECKPOINT: S.resume, RETRY_BACKOFF: S.backoff },
        failure, { stop },
      ),
      Next: S.compose,
    },
    [S.hostedSubmit]: lambdaTask('HostedSubmit', {
      comment: 'Submits the inpaint to the hosted API (BitStudio-style) and opens a new attempt.',
      next: S.hostedWait, failure, stop,
      routes: { REDUCE_PARAMS: S.reduce, SWITCH_MODEL: S.switchModel },
      retries: (n) => n === 'Provider.MalformedResponse',
    }),
    [S.hostedWait]: {
      Type: 'Wait',
      Comment: 'The hosted API works asynchronously; poll it at a steady pace.',
      Seconds: HOSTED_POLL.waitSeconds,
      Next: S.hostedPoll,
    },
    [S.hostedPoll]: lambdaTask('HostedPoll', {
      comment: 'Asks the hosted API how the inpaint is going; its failures are classified like the GPU worker\'s.',
      next: S.hostedDone, failure, stop,
      routes: { REDUCE_PARAMS: S.reduce, SWITCH_MODEL: S.switchModel, RESUME_CHECKPOINT: S.resume },
      retries: (n) => n === 'Provider.MalformedResponse',
    }),
    [S.hostedDone]: {
      Type: 'Choice',
      Comment: 'Done when the hosted API reports success; otherwise wait and poll again.',
      Choices: [{ Variable: '$.hosted.status', StringEquals: 'succeeded', Next: S.compose }],
      Default: S.hostedWait,
    },
    [S.compose]: lambdaTask('Compose', {
      comment: 'Composites the inpainted region onto the original through the mask; pixels outside it are unchanged.',
      next: S.qa, failure, stop,
      routes: { RESUME_CHECKPOINT: S.resume },
      retries: (n) => n === 'Compositing.Failed',
      // An inpaint output that stays undecodable after the retries is regenerated: the
      // inpaint is not checkpointed until compositing succeeds, so resuming re-runs it.
      afterRetries: { 'Compositing.Failed': S.resume },
    }),
    [S.qa]: lambdaTask('QaCheck', {
      comment: 'Scores the result (blank output, mask coverage, change outside the mask, analyzer verdict) and completes the job when it passes.',
      next: S.done, failure, stop,
      routes: { FIX_AND_RETRY: S.planFix },
      retries: (n) => n === 'Provider.MalformedResponse',
    }),
    [S.reduce]: recoveryTask('ReduceParams', 'Out of GPU memory: halves the batch and shrinks size and steps (bounded), then resubmits.', S.chooseBackend),
    [S.switchModel]: recoveryTask('SwitchModel', 'Model missing or corrupt: takes the next model along the fallback chain (bounded), then resubmits.', S.chooseBackend),
    [S.resume]: recoveryTask('ResumeCheckpoint', 'No progress or no heartbeat: resumes from the last finished stage (bounded).', S.chooseStage),
    [S.resegment]: recoveryTask('Resegment', 'Degenerate mask: segments again with alternative prompts and providers (bounded).', S.planSegmentation),
    [S.planFix]: recoveryTask('PlanFix', 'QA rejected the result: the fixer derives corrected parameters from the report (bounded).', S.chooseBackend),
    [S.backoff]: recoveryTask('BackoffGpu', 'A transient GPU-side failure: records it and computes an exponential backoff with full jitter (bounded).', S.backoffWait),
    [S.backoffWait]: {
      Type: 'Wait',
      Comment: 'Waits out the backoff before a new GPU attempt.',
      SecondsPath: '$.backoff.waitSeconds',
      Next: S.chooseBackend,
    },
    [S.recordFailure]: {
      ...lambdaTask('JobFail', {
        comment: 'Marks the job failed with its error name, cause and full recovery history; unclassified errors are flagged for a person.',
        next: S.failed, failure: S.failed,
      }),
      // The failure recorder must not loop into itself: anything it cannot record ends the run.
      Catch: [{ ErrorEquals: ['States.ALL'], Next: S.failed, ResultPath: '$.recordError' }],
    },
    [S.failed]: {
      Type: 'Fail',
      Comment: 'The job ended failed; its item in DynamoDB says why.',
      ErrorPath: '$.lastError.Error',
      CausePath: '$.lastError.Cause',
    },
    [S.stopped]: {
      Type: 'Fail',
      Comment: 'Emergency stop: the job keeps its status and checkpoints and continues on resume.',
      Error: 'Control.Stopped',
      Cause: 'The pipeline is emergency-stopped.',
    },
    [S.done]: { Type: 'Succeed', Comment: 'The job passed QA and is complete.' },
  };
  return {
    Comment: 'VTO job: segmentation, inpaint (GPU workers or hosted API), compositing and QA, with recovery states generated from the error taxonomy.',
    StartAt: S.start,
    States: states,
  };
}
