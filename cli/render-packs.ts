/** Packs as the CLI prints them for people: lists, one pack with its jobs, what a command started. */
import type { JobSummary, PackCreated, PackView } from '../lambdas/api/schemas.ts';
import type { SuccessOf } from './api-client.ts';
import { ago, formatCounts, formatTime, keyValues, section, table } from './format.ts';

const progressText = (p: PackView) => (p.progress === undefined ? `?/${p.jobCount}` : `${p.progress.done}/${p.progress.total}`);

export function renderPackList(list: SuccessOf<'listPacks'>, now = new Date()): string {
  if (list.items.length === 0) return 'no packs yet: create one with `vto packs submit`';
  const rows = list.items.map((p) => [p.packId, p.name, p.status, progressText(p), p.inpaint, p.runs, ago(p.createdAt, now)]);
  const out = table(['pack', 'name', 'status', 'done', 'inpaint', 'runs', 'created'], rows, { align: ['left', 'left', 'left', 'right', 'left', 'right', 'left'], maxWidth: [undefined, 40] });
  return list.nextCursor === undefined ? out : `${out}\n\nmore: vto packs list --cursor ${list.nextCursor}`;
}

export function renderJobTable(jobs: readonly JobSummary[], now = new Date()): string {
  const rows = jobs.map((j) => [j.jobId, j.status, j.runs, j.recoveriesUsed, j.error === undefined ? '' : `${j.error.name}${j.needsIntervention ? ' (needs intervention)' : ''}`, ago(j.updatedAt, now)]);
  return table(['job', 'status', 'runs', 'recoveries', 'error', 'updated'], rows, { align: ['left', 'left', 'right', 'right', 'left', 'left'], maxWidth: [undefined, undefined, undefined, undefined, 60] });
}

export function renderPack(p: PackView, jobs?: readonly JobSummary[], now = new Date()): string {
  const head = keyValues([
    ['pack', p.packId],
    ['name', p.name],
    ['status', p.status],
    ['progress', p.progress === undefined ? undefined : `${p.progress.done}/${p.progress.total} done (${p.progress.percent} %)`],
    ['jobs', p.counts === undefined ? p.jobCount : `${p.jobCount}: ${formatCounts(p.counts)}`],
    ['inpaint', p.inpaint],
    ['runs', p.runs],
    ['created', `${formatTime(p.createdAt)} (${ago(p.createdAt, now)})`],
    ['updated', `${formatTime(p.updatedAt)} (${ago(p.updatedAt, now)})`],
    ['refines', p.sourcePackId === undefined ? undefined : `${p.sourcePackId} (${p.refineScope ?? 'refine'})`],
    ['error', p.error === undefined ? undefined : `${p.error.name}: ${p.error.cause}`],
    ['execution', p.executionArn],
    ['console', p.consoleUrl],
  ]);
  return jobs === undefined ? head : head + section('\njobs', jobs.length === 0 ? 'none' : renderJobTable(jobs, now));
}

export function renderCreated(c: PackCreated): string {
  const what = c.sourcePackId === undefined ? 'created' : `created, refining ${c.sourcePackId} (${c.refineScope ?? 'refine'})`;
  return [
    `pack ${c.packId} ${what}: ${c.jobIds.length} job${c.jobIds.length === 1 ? '' : 's'}, ${c.status}`,
    keyValues([['execution', c.executionArn], ['follow', `vto packs watch ${c.packId}`]]),
  ].join('\n');
}

export function renderRestarted(r: SuccessOf<'restartIncomplete'>): string {
  return [
    `pack ${r.packId} running again: ${r.resetJobs} job${r.resetJobs === 1 ? '' : 's'} back to pending`,
    keyValues([['execution', r.executionArn], ['follow', `vto packs watch ${r.packId}`]]),
  ].join('\n');
}

export function renderCancelledPack(r: SuccessOf<'cancelPack'>): string {
  return [
    `pack ${r.packId} ${r.alreadyCancelled ? 'was already cancelled' : 'cancelled'}: ${r.jobsCancelled} job${r.jobsCancelled === 1 ? '' : 's'} cancelled now (${formatCounts(r.counts)})`,
    keyValues([['run them again', `vto packs restart-incomplete ${r.packId}`]]),
  ].join('\n');
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What `vto packs delete` is about to erase, for its confirmation. */
export function renderErasureScope(r: SuccessOf<'getErasure'>): string {
  const what = `${plural(r.jobs, 'job')}, ${plural(r.objects, 'stored object')} (${plural(r.versions, 'version')}, delete markers included), its recovery events (kept for statistics without ids)`;
  return r.state === 'erasing'
    ? `pack ${r.packId} is being erased since ${formatTime(r.requestedAt ?? '')}; left: ${what}`
    : `erasing pack ${r.packId} deletes for good: ${what}`;
}

export function renderErasure(r: SuccessOf<'deletePack'>): string {
  const d = r.deleted;
  const head = r.state === 'erased' ? `pack ${r.packId} erased` : `pack ${r.packId} is being erased; the watchdog finishes it`;
  return [
    `${head}: ${plural(d.versions, 'object version')}, ${plural(d.jobs, 'job')}, ${plural(d.controlItems, 'control item')} deleted; ${plural(d.eventsAnonymized, 'recovery event')} kept without ids`,
    ...(r.state === 'erasing' ? [keyValues([['go on now', `vto packs delete ${r.packId} --yes`]])] : []),
  ].join('\n');
}

export function renderWebhookFailures(r: SuccessOf<'listWebhookFailures'>): string {
  if (r.total === 0) return `pack ${r.packId}: no webhook delivery failed`;
  return [
    `pack ${r.packId}: ${r.total} webhook deliver${r.total === 1 ? 'y' : 'ies'} given up on${r.items.length < r.total ? ` (first ${r.items.length} listed)` : ''}`,
    table(['EVENT', 'DELIVERY', 'STATUS', 'ATTEMPTS', 'FAILED', 'REASON'],
      r.items.map((f) => [f.type, f.deliveryId, f.status === undefined ? '-' : String(f.status), String(f.attempts), formatTime(f.failedAt), f.reason])),
  ].join('\n');
}

/** The closing line of a watch: how the pack ended. */
export function renderPackEnd(p: PackView): string {
  const counts = p.counts === undefined ? '' : ` (${formatCounts(p.counts)})`;
  return `pack ${p.packId} ${p.status}${counts}`;
}
