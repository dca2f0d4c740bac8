/**
 * The reconciler: an execution of the job or pack machine ended FAILED, TIMED_OUT or
 * ABORTED (EventBridge "Step Functions Execution Status Change"), so DynamoDB is brought in
 * line at once and what is recoverable is restarted, with the watchdog's rules and bounds.
 * It does not fight the pipeline: a job whose run failed for real (its item already says
 * failed), anything during an emergency stop, and executions that are no longer the job's
 * or pack's current run are left alone (the job itself is still looked at when the run
 * that owns it now has ended too).
 */
import { z } from 'zod';
import { jobExecutionName } from '../core/job.ts';
import { isTerminalJob } from '../core/status.ts';
import { decide, decidePack, isReconciledStatus, type ExecutionView } from '../core/watchdog.ts';
import { config } from './config.ts';
import { access } from './access.ts';
import { JOB_EXECUTIONS_ACCESS, executionNameOf, viewExecution } from './job-executions.ts';
import { EMERGENCY_STOP_FLAG, JOB_STORE_ACCESS, findJob, getFlag, getPack, NotFoundError } from './job-store.ts';
import { WATCHDOG_ACTIONS_ACCESS, carryOut, carryOutPack, endedView, type ActionOutcome, type PackOutcome } from './watchdog-actions.ts';

/** The ended run's job or pack, the stop flag, the run that owns the job, and the watchdog's actions. */
export const RECONCILE_ACCESS = access(
  JOB_STORE_ACCESS.readJob, JOB_STORE_ACCESS.readPack, JOB_STORE_ACCESS.readFlag, JOB_EXECUTIONS_ACCESS.view('job'), WATCHDOG_ACTIONS_ACCESS.act,
);
import { watchdogSettingsFromEnv } from './watchdog-settings.ts';

/** Decisions tried when the job keeps changing under them. */
const RACE_ATTEMPTS = 4;
const RACE_PAUSE_MS = 250;

export const statusChangeSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    name: z.string().min(1),
    status: z.string(),
    // EventBridge leaves out inputs over 248 KB; the execution name then names the record.
    input: z.string().nullish(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});
export type StatusChange = z.infer<typeof statusChangeSchema>;

export type ReconcileOutcome =
  | { readonly kind: 'ignored'; readonly reason: string }
  | ({ readonly kind: 'job' } & ActionOutcome)
  | ({ readonly kind: 'pack' } & PackOutcome);

const ignored = (reason: string): ReconcileOutcome => ({ kind: 'ignored', reason });

function inputOf(d: StatusChange['detail']): Record<string, unknown> {
  try {
    const v: unknown = d.input ? JSON.parse(d.input) : {};
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** `${id}-${run}` → id. */
const recordIdOf = (executionName: string) => executionName.replace(/-\d+$/, '');

export async function reconcile(event: StatusChange, now: number = Date.now()): Promise<ReconcileOutcome> {
  const d = event.detail;
  const status = d.status;
  if (!isReconciledStatus(status)) return ignored(`status ${d.status} needs nothing`);
  const c = config();
  const input = inputOf(d);
  const machine = d.stateMachineArn === c.jobStateMachineArn ? 'job' : d.stateMachineArn === c.packStateMachineArn ? 'pack' : undefined;
  if (machine === undefined) return ignored(`not an execution of this pipeline's machines (${d.stateMachineArn})`);
  if ((await getFlag(EMERGENCY_STOP_FLAG))?.['active'] === true) return ignored('emergency stop: jobs keep their state for resume');
  const settings = watchdogSettingsFromEnv();

  if (machine === 'pack') {
    const packId = typeof input['packId'] === 'string' ? input['packId'] : recordIdOf(d.name);
    let pack;
    try {
      pack = await getPack(packId);
    } catch (e) {
      if (e instanceof NotFoundError) return ignored(`pack ${packId} does not exist`);
      throw e;
    }
    if (pack.executionArn !== d.executionArn) return ignored('not the pack\'s current run');
    return { kind: 'pack', ...(await carryOutPack(pack, decidePack(pack, false, settings), 'reconciler')) };
  }

  const jobId = typeof input['jobId'] === 'string' ? input['jobId'] : recordIdOf(d.name);
  // A function the stopped execution had already invoked may still write the job once (an
  // in-process or in-flight Lambda is not killed by StopExecution): when the job changes
  // under the decision, read it again and decide again, a bounded number of times.
  for (let attempt = 1; ; attempt++) {
    const job = await findJob(jobId);
    if (!job) return ignored(`job ${jobId} does not exist`);
    // A pending job's current run is the one named for it next (it died before claiming the job).
    const current = job.executionArn === d.executionArn || (job.status === 'pending' && executionNameOf(d.executionArn) === jobExecutionName(job));
    let execution: ExecutionView = endedView(status, d.error ?? null, d.cause ?? null);
    if (!current) {
      // Not this run's job any more; but the run that owns it may be dead too (a stopped run's
      // function, still in flight, claimed the job after it was reset): then act on that run.
      if (isTerminalJob(job.status) || job.executionArn === undefined) return ignored('not the job\'s current run');
      execution = await viewExecution(job.executionArn, false);
      if (execution.status === 'RUNNING') return ignored('not the job\'s current run');
    }
    const action = decide({ job, execution, now: Math.max(now, Date.now()), trigger: 'event' }, settings);
    const outcome = await carryOut(job, action, 'reconciler', settings);
    if (outcome.action !== 'skipped' || attempt >= RACE_ATTEMPTS) return { kind: 'job', ...outcome };
    await new Promise((r) => setTimeout(r, RACE_PAUSE_MS * attempt));
  }
}
