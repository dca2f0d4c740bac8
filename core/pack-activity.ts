/**
 * Whether anything of a pack is running: its own run (pending or running), or a job worked
 * on after the pack's run ended (retried or re-run on its own), or a job whose run is
 * starting (pending with an execution recorded). Restart and erase refuse such a pack.
 */
import type { JobRecord, PackRecord } from './job.ts';
import { ACTIVE_JOB_STATUSES, type PackStatus } from './status.ts';

/** A pack in one of these statuses has (or is about to have) a running execution. */
export const RUNNING_PACK_STATUSES: readonly PackStatus[] = ['pending', 'running'];

export type RunningWork =
  | { readonly kind: 'pack'; readonly status: PackStatus }
  | { readonly kind: 'job'; readonly jobId: string; readonly status: JobRecord['status'] };

export function runningWork(pack: Pick<PackRecord, 'status'>, jobs: readonly Pick<JobRecord, 'jobId' | 'status' | 'executionArn'>[]): RunningWork | undefined {
  if (RUNNING_PACK_STATUSES.includes(pack.status)) return { kind: 'pack', status: pack.status };
  const starting = jobs.find((j) => j.status === 'pending' && j.executionArn !== undefined);
  // A stopped pack's active jobs keep the stages they were stopped in: nothing runs them.
  const working = pack.status === 'stopped' ? undefined : jobs.find((j) => ACTIVE_JOB_STATUSES.includes(j.status));
  const job = starting ?? working;
  return job && { kind: 'job', jobId: job.jobId, status: job.status };
}
