/**
 * Every Lambda function of the product: its handler file and sizing. The CDK stack
 * creates one NodejsFunction per entry; the offline runtime imports the same handlers.
 */
import type { StateFunctionId } from '../statemachines/tasks.ts';

export interface FunctionDef {
  /** Path of the handler module from the project root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  /** MiB. Image work (sharp) needs room; plain DynamoDB work does not. @default 512 */
  readonly memoryMiB?: number;
  /** Seconds. @default {@link DEFAULT_TIMEOUT_SECONDS} */
  readonly timeoutSeconds?: number;
}

/** A function's timeout when its entry sets none (PipelineFunction's default). */
export const DEFAULT_TIMEOUT_SECONDS = 30;

/** The timeout a function is deployed with; the offline runtime enforces the same. */
export const timeoutSecondsOf = (def: FunctionDef): number => def.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;

const IMAGE = { memoryMiB: 1769, timeoutSeconds: 120 } as const;

/** Functions the state machines invoke, keyed by the id their ASL placeholders use. */
export const STATE_FUNCTION_DEFS: Record<StateFunctionId, FunctionDef> = {
  JobStart: { entry: 'lambdas/handlers/job-start.ts', description: 'Loads a job and decides where its run begins' },
  SegmentationPlan: { entry: 'lambdas/handlers/segmentation-plan.ts', description: 'Chooses segmentation prompts and providers' },
  SegmentationCall: { entry: 'lambdas/handlers/segmentation-call.ts', description: 'Calls one segmentation provider and stores its mask', ...IMAGE },
  MaskAggregate: { entry: 'lambdas/handlers/mask-aggregate.ts', description: 'Votes masks with a quorum', ...IMAGE },
  MaskExpand: { entry: 'lambdas/handlers/mask-expand.ts', description: 'Dilates the aggregated mask and checkpoints it', ...IMAGE },
  InpaintPrepare: { entry: 'lambdas/handlers/inpaint-prepare.ts', description: 'Builds the ComfyUI workflow for a new GPU attempt' },
  HostedSubmit: { entry: 'lambdas/handlers/hosted-submit.ts', description: 'Submits an inpaint to the hosted API', ...IMAGE },
  HostedPoll: { entry: 'lambdas/handlers/hosted-poll.ts', description: 'Polls the hosted inpaint API', ...IMAGE },
  Compose: { entry: 'lambdas/handlers/compose.ts', description: 'Composites the inpainted region through the mask', ...IMAGE },
  QaCheck: { entry: 'lambdas/handlers/qa-check.ts', description: 'Scores the result and completes the job', ...IMAGE },
  ReduceParams: { entry: 'lambdas/handlers/reduce-params.ts', description: 'Recovery: reduce GPU parameters' },
  SwitchModel: { entry: 'lambdas/handlers/switch-model.ts', description: 'Recovery: switch model along the fallback chain' },
  ResumeCheckpoint: { entry: 'lambdas/handlers/resume-checkpoint.ts', description: 'Recovery: resume from the last checkpoint' },
  Resegment: { entry: 'lambdas/handlers/resegment.ts', description: 'Recovery: segment again with alternatives' },
  PlanFix: { entry: 'lambdas/handlers/plan-fix.ts', description: 'Recovery: fixer derives parameters from the QA report' },
  BackoffGpu: { entry: 'lambdas/handlers/backoff-gpu.ts', description: 'Recovery: backoff before a new GPU attempt' },
  JobFail: { entry: 'lambdas/handlers/job-fail.ts', description: 'Marks a job failed with its reason and history' },
  PackLoad: { entry: 'lambdas/handlers/pack-load.ts', description: 'Marks a pack running and lists its pending jobs' },
  PackFinalize: { entry: 'lambdas/handlers/pack-finalize.ts', description: 'Counts job outcomes and sets the pack status' },
  PackFail: { entry: 'lambdas/handlers/pack-fail.ts', description: 'Marks a pack failed' },
};
