/** Jobs as the CLI prints them for people: one job with its parameters and recovery path. */
import type { JobView } from '../lambdas/api/schemas.ts';
import type { SuccessOf } from './api-client.ts';
import { ago, formatTime, keyValues, section, table, truncate } from './format.ts';

type Recovery = JobView['recoveries'][number];

/** Current parameters, with the original value beside each one recovery changed. */
function paramsText(j: JobView): string {
  return Object.entries(j.params).map(([k, v]) => {
    const was = (j.originalParams as Record<string, unknown>)[k];
    return was === v ? `${k}=${v}` : `${k}=${v} (was ${String(was)})`;
  }).join(', ');
}

const OUTCOME_MARK = { pending: '↻', recovered: '✓', failed: '✗' } as const;

/** One failure a job met and what the pipeline did: `↻ 1a2b3c4d  Gpu.OutOfMemory → REDUCE_PARAMS (batch 2→1)  [pending]`. */
export function recoveryLine(jobId: string, r: Recovery): string {
  const detail = r.detail === undefined ? '' : ` (${r.detail})`;
  return `${OUTCOME_MARK[r.outcome]} ${jobId.slice(0, 8)}  ${r.error} → ${r.strategy}${detail}  [${r.outcome}]`;
}

function recoveryTable(rs: readonly Recovery[]): string {
  const rows = rs.map((r) => [formatTime(r.at), r.error, r.strategy, r.stage ?? '', r.attempt, r.outcome, r.detail ?? (r.cause === undefined ? '' : truncate(r.cause, 60))]);
  return table(['at', 'error', 'strategy', 'stage', 'attempt', 'outcome', 'detail'], rows, { align: ['left', 'left', 'left', 'left', 'right', 'left', 'left'], maxWidth: [undefined, undefined, undefined, undefined, undefined, undefined, 80] });
}

/** A QA report's top-level fields on one line; the API leaves its shape open. */
function qaText(report: unknown): string | undefined {
  if (report === undefined || report === null) return undefined;
  if (typeof report !== 'object') return String(report);
  const parts = Object.entries(report as Record<string, unknown>)
    .filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v)}`);
  return parts.length === 0 ? truncate(JSON.stringify(report), 200) : parts.join(', ');
}

export function renderJob(j: JobView, now = new Date()): string {
  const head = keyValues([
    ['job', j.jobId],
    ['pack', j.packId],
    ['status', j.needsIntervention ? `${j.status} (needs intervention)` : j.status],
    ['inpaint', j.inpaint],
    ['runs', j.runs],
    ['recoveries', j.recoveriesUsed],
    ['deferred re-runs', j.deferredReruns === undefined ? undefined : `${j.deferredReruns} (failed jobs run again once their cause passed; see the recovery path)`],
    ['error', j.error === undefined ? undefined : `${j.error.name}: ${truncate(j.error.cause, 300)} (${formatTime(j.error.at)})`],
    ['params', paramsText(j)],
    ['tried models', j.triedModels.length === 0 ? undefined : j.triedModels.join(', ')],
    ['person', j.inputs.person],
    ['garment', j.inputs.garment],
    ['qa', qaText(j.qaReport)],
    ['gpu time', j.gpuSeconds === undefined ? undefined : `${j.gpuSeconds.toFixed(1)} s`],
    ['created', `${formatTime(j.createdAt)} (${ago(j.createdAt, now)})`],
    ['updated', `${formatTime(j.updatedAt)} (${ago(j.updatedAt, now)})`],
    ['execution', j.executionArn],
    ['console', j.consoleUrl],
  ]);
  const checkpoints = keyValues(Object.entries(j.checkpoints));
  const outputs = keyValues((['result', 'mask', 'inpainted'] as const).map((k) => [k, j.outputs[k]?.url] as const));
  return head
    + section(
      j.recoveryCount > j.recoveries.length ? `\nrecovery path (the newest ${j.recoveries.length} of ${j.recoveryCount}; all are in \`vto stats\`)` : '\nrecovery path',
      j.recoveries.length === 0 ? 'no failures met' : recoveryTable(j.recoveries),
    )
    + section('\ncheckpoints', checkpoints)
    + section('\noutputs (pre-signed, valid a few minutes)', outputs);
}

export function renderRetried(r: SuccessOf<'retryJob'>): string {
  return [
    `job ${r.jobId} running again${r.forced ? ' (forced: attempt counters reset)' : ''}`,
    keyValues([['pack', r.packId], ['execution', r.executionArn], ['follow', `vto jobs show ${r.jobId}`]]),
  ].join('\n');
}

export function renderCancelledJob(r: SuccessOf<'cancelJob'>): string {
  return [
    `job ${r.jobId} ${r.alreadyCancelled ? 'was already cancelled' : 'cancelled'}`,
    keyValues([['pack', r.packId], ['run it again', `vto jobs retry ${r.jobId}`]]),
  ].join('\n');
}
