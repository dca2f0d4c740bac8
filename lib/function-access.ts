/**
 * What each state-machine function may touch, read off the adapters its handler uses:
 * every handler runs through lambdas/adapters/state-handler.ts, which reads the emergency
 * stop flag (control), loads the job (jobs) and keeps the recovery ledger (jobs + events);
 * pack handlers read and update the pack and query its jobs. Update this table when a
 * handler starts using another store; the infrastructure test checks it covers every id.
 */
import type { StateFunctionId } from '../statemachines/tasks.ts';
import type { TableKey } from './data.ts';

export type TableAccess = 'read' | 'write' | 'readWrite';
export type ArtifactAccess = 'read' | 'readWrite';
export type Provider = 'segmentation' | 'analyzer' | 'hostedInpaint';

export interface FunctionAccess {
  readonly tables: Readonly<Partial<Record<TableKey, TableAccess>>>;
  /** Objects of the artifacts bucket. @default - none */
  readonly artifacts?: ArtifactAccess;
  /** External providers it calls; it gets their base URLs (and the hosted API key's secret). @default - none */
  readonly providers?: readonly Provider[];
}

/**
 * Job stage and recovery functions: the stop flag, the job, the ledger; control is written
 * to claim each lifecycle event once (lambdas/adapters/lifecycle-events.ts).
 */
const JOB_STEP = { tables: { control: 'readWrite', jobs: 'readWrite', events: 'write' } } as const satisfies FunctionAccess;
/** Pack functions: the stop flag and lifecycle event claims, the pack, and the pack's jobs by the byPack index. */
const PACK_STEP = { tables: { control: 'readWrite', packs: 'readWrite', jobs: 'read' } } as const satisfies FunctionAccess;

export const FUNCTION_ACCESS: Readonly<Record<StateFunctionId, FunctionAccess>> = {
  JobStart: JOB_STEP,
  SegmentationPlan: JOB_STEP,
  SegmentationCall: { ...JOB_STEP, artifacts: 'readWrite', providers: ['segmentation'] },
  MaskAggregate: { ...JOB_STEP, artifacts: 'readWrite' },
  MaskExpand: { ...JOB_STEP, artifacts: 'readWrite' },
  InpaintPrepare: JOB_STEP,
  HostedSubmit: { ...JOB_STEP, artifacts: 'read', providers: ['hostedInpaint'] },
  HostedPoll: { ...JOB_STEP, artifacts: 'readWrite', providers: ['hostedInpaint'] },
  Compose: { ...JOB_STEP, artifacts: 'readWrite' },
  QaCheck: { ...JOB_STEP, artifacts: 'read', providers: ['analyzer'] },
  ReduceParams: JOB_STEP,
  SwitchModel: JOB_STEP,
  ResumeCheckpoint: JOB_STEP,
  Resegment: JOB_STEP,
  PlanFix: JOB_STEP,
  BackoffGpu: JOB_STEP,
  JobFail: JOB_STEP,
  PackLoad: PACK_STEP,
  PackFinalize: PACK_STEP,
  PackFail: PACK_STEP,
};
