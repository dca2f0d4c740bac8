/**
 * Every Lambda function of the product: its handler file, sizing, the providers it calls and
 * the AWS access it needs. The CDK stack creates one NodejsFunction per entry and grants it
 * exactly `access` (lib/grants.ts); the offline runtime imports the same handlers and refuses
 * any call those grants do not allow (local/iam/). A handler's access is the union of what
 * the adapters it calls declare beside their code.
 */
import { access, type Access } from '../adapters/access.ts';
import { ARTIFACTS_READ_ACCESS, ARTIFACTS_WRITE_ACCESS } from '../adapters/artifacts.ts';
import { JOB_STORE_ACCESS } from '../adapters/job-store.ts';
import { LEDGER_ACCESS } from '../adapters/ledger.ts';
import { PROVIDERS_ACCESS } from '../adapters/providers.ts';
import { RECOVERY_ACCESS } from '../adapters/recovery.ts';
import { STATE_HANDLER_ACCESS } from './state/state-handler.ts';
import { RECONCILE_ACCESS } from '../adapters/reconcile.ts';
import { LIFECYCLE_EVENTS_ACCESS } from '../adapters/lifecycle-events.ts';
import { WATCHDOG_LEASE_ACCESS } from '../adapters/watchdog-lease.ts';
import { WATCHDOG_SWEEP_ACCESS } from '../adapters/watchdog-sweep.ts';
import type { StateFunctionId } from '../statemachines/tasks.ts';

/** External providers a function calls; it gets their base URLs (lib/functions.ts). */
export type Provider = keyof typeof PROVIDERS_ACCESS;

export interface FunctionDef {
  /** Path of the handler module from the project root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  /** MiB. Image work (sharp) needs room; plain DynamoDB work does not. @default 512 */
  readonly memoryMiB?: number;
  /** Seconds. @default {@link DEFAULT_TIMEOUT_SECONDS} */
  readonly timeoutSeconds?: number;
  /** What it may call on AWS, and nothing more. */
  readonly access: Access;
  /** External providers it calls. @default - none */
  readonly providers?: readonly Provider[];
}

/** A function's timeout when its entry sets none (PipelineFunction's default). */
export const DEFAULT_TIMEOUT_SECONDS = 30;

/** The timeout a function is deployed with; the offline runtime enforces the same. */
export const timeoutSecondsOf = (def: FunctionDef): number => def.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;

const IMAGE = { memoryMiB: 1769, timeoutSeconds: 120 } as const;
const { writeJob, jobsOfPack, readPack, writePack } = JOB_STORE_ACCESS;

/** A job's stage or recovery function: the stack's access, the job write, and what else it calls. */
// Every status change announces itself once (lifecycle-events.ts claims each event id).
const jobStep = (...more: Access[]) => access(STATE_HANDLER_ACCESS.job, writeJob, LIFECYCLE_EVENTS_ACCESS, ...more);
const packStep = (...more: Access[]) => access(STATE_HANDLER_ACCESS.pack, LIFECYCLE_EVENTS_ACCESS, ...more);
const IMAGES = access(ARTIFACTS_READ_ACCESS, ARTIFACTS_WRITE_ACCESS);
const calls = (...providers: Provider[]) => ({ providers, providerAccess: access(...providers.map((p) => PROVIDERS_ACCESS[p])) });

const segmentation = calls('segmentation');
const hosted = calls('hostedInpaint');
const analyzer = calls('analyzer');

/** Functions the state machines invoke, keyed by the id their ASL placeholders use. */
export const STATE_FUNCTION_DEFS: Record<StateFunctionId, FunctionDef> = {
  JobStart: { entry: 'lambdas/handlers/job-start.ts', description: 'Loads a job and decides where its run begins', access: jobStep() },
  SegmentationPlan: { entry: 'lambdas/handlers/segmentation-plan.ts', description: 'Chooses segmentation prompts and providers', access: jobStep() },
  SegmentationCall: {
    entry: 'lambdas/handlers/segmentation-call.ts', description: 'Calls one segmentation provider and stores its mask', ...IMAGE,
    access: jobStep(IMAGES, segmentation.providerAccess), providers: segmentation.providers,
  },
  MaskAggregate: { entry: 'lambdas/handlers/mask-aggregate.ts', description: 'Votes masks with a quorum', ...IMAGE, access: jobStep(IMAGES) },
  MaskExpand: { entry: 'lambdas/handlers/mask-expand.ts', description: 'Dilates the aggregated mask and checkpoints it', ...IMAGE, access: jobStep(IMAGES) },
  InpaintPrepare: { entry: 'lambdas/handlers/inpaint-prepare.ts', description: 'Builds the ComfyUI workflow for a new GPU attempt', access: jobStep() },
  HostedSubmit: {
    entry: 'lambdas/handlers/hosted-submit.ts', description: 'Submits an inpaint to the hosted API', ...IMAGE,
    access: jobStep(ARTIFACTS_READ_ACCESS, hosted.providerAccess), providers: hosted.providers,
  },
  HostedPoll: {
    entry: 'lambdas/handlers/hosted-poll.ts', description: 'Polls the hosted inpaint API', ...IMAGE,
    access: jobStep(ARTIFACTS_WRITE_ACCESS, hosted.providerAccess), providers: hosted.providers,
  },
  Compose: { entry: 'lambdas/handlers/compose.ts', description: 'Composites the inpainted region through the mask', ...IMAGE, access: jobStep(IMAGES) },
  QaCheck: {
    entry: 'lambdas/handlers/qa-check.ts', description: 'Scores the result and completes the job', ...IMAGE,
    access: jobStep(ARTIFACTS_READ_ACCESS, analyzer.providerAccess), providers: analyzer.providers,
  },
  ReduceParams: { entry: 'lambdas/handlers/reduce-params.ts', description: 'Recovery: reduce GPU parameters', access: jobStep(RECOVERY_ACCESS) },
  SwitchModel: { entry: 'lambdas/handlers/switch-model.ts', description: 'Recovery: switch model along the fallback chain', access: jobStep(RECOVERY_ACCESS) },
  ResumeCheckpoint: { entry: 'lambdas/handlers/resume-checkpoint.ts', description: 'Recovery: resume from the last checkpoint', access: jobStep(RECOVERY_ACCESS) },
  Resegment: { entry: 'lambdas/handlers/resegment.ts', description: 'Recovery: segment again with alternatives', access: jobStep(RECOVERY_ACCESS) },
  PlanFix: { entry: 'lambdas/handlers/plan-fix.ts', description: 'Recovery: fixer derives parameters from the QA report', access: jobStep(RECOVERY_ACCESS) },
  BackoffGpu: { entry: 'lambdas/handlers/backoff-gpu.ts', description: 'Recovery: backoff before a new GPU attempt', access: jobStep(RECOVERY_ACCESS) },
  JobFail: { entry: 'lambdas/handlers/job-fail.ts', description: 'Marks a job failed with its reason and history', access: jobStep(LEDGER_ACCESS) },
  PackLoad: { entry: 'lambdas/handlers/pack-load.ts', description: 'Marks a pack running and lists its pending jobs', access: packStep(readPack, jobsOfPack, writePack) },
  PackFinalize: { entry: 'lambdas/handlers/pack-finalize.ts', description: 'Counts job outcomes and sets the pack status', access: packStep(readPack, jobsOfPack, writePack) },
  PackFail: { entry: 'lambdas/handlers/pack-fail.ts', description: 'Marks a pack failed', access: packStep(writePack) },
};

/** The watchdog (one sweep per schedule) and the reconciler (one ended execution per event). */
export const RECOVERY_FUNCTION_ACCESS = {
  watchdog: access(WATCHDOG_SWEEP_ACCESS, WATCHDOG_LEASE_ACCESS, LIFECYCLE_EVENTS_ACCESS),
  reconciler: access(RECONCILE_ACCESS, LIFECYCLE_EVENTS_ACCESS),
} as const;
