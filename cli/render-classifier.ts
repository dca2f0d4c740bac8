/** Taught classifier patterns and their dry runs as the CLI prints them for people. */
import type { SuccessOf } from './api-client.ts';
import { formatTime, keyValues, section, table } from './format.ts';

type Pattern = SuccessOf<'listClassifierPatterns'>['patterns'][number];
type Match = SuccessOf<'dryRunClassifierPattern'>['matches'][number];

const how = (p: Pick<Pattern, 'match' | 'pattern' | 'ignoreCase' | 'stage'>) =>
  `${p.match === 'regex' ? `/${p.pattern}/${p.ignoreCase ? 'i' : ''}` : JSON.stringify(p.pattern)}${p.match === 'substring' && !p.ignoreCase ? ' (case-sensitive)' : ''}${p.stage === undefined ? '' : ` in ${p.stage}`}`;

const yes = (b: boolean) => (b ? 'yes' : 'no');

function matchesTable(matches: readonly Match[]): string {
  if (matches.length === 0) return 'no recorded failure matches';
  return table(['job', 'pack', 'stage', 'before', 'after', 'recoverable', 're-run'],
    matches.map((m) => [m.jobId, m.packId, m.stage ?? '', m.before.name, m.after.name, `${yes(m.before.recoverable)} → ${yes(m.after.recoverable)}`, yes(m.rerunnable)]));
}

export function renderPatterns(l: SuccessOf<'listClassifierPatterns'>): string {
  const head = keyValues([['version', l.version], ['changed', l.updatedAt === null ? 'never' : `${formatTime(l.updatedAt)} by ${l.updatedBy ?? '?'}`]]);
  const rows = [...l.patterns].reverse().map((p) => [p.id, p.name, how(p), p.createdBy, formatTime(p.createdAt), p.note ?? '']);
  return head + section('\npatterns (tried in this order, before the built-in rules)',
    rows.length === 0 ? 'none taught' : table(['id', 'name', 'matches', 'by', 'at', 'note'], rows, { maxWidth: [undefined, undefined, 60, 50, undefined, 40] }));
}

export function renderDryRun(d: SuccessOf<'dryRunClassifierPattern'>): string {
  const head = keyValues([
    ['pattern', `${how(d.pattern)} → ${d.pattern.name}`],
    ['looked at', `${d.scanned} failed jobs${d.more ? ' (older ones exist: raise --limit)' : ''}`],
    ['matches', `${d.matches.length}, ${d.changed} renamed, ${d.rerunnable} deferred recovery could re-run`],
  ]);
  return head + section('\nwould change', matchesTable(d.matches));
}

export function renderAdded(a: SuccessOf<'addClassifierPattern'>): string {
  const head = keyValues([
    ['saved', `${a.pattern.id} (version ${a.version}) by ${a.pattern.createdBy}`],
    ['pattern', `${how(a.pattern)} → ${a.pattern.name}`],
    ['reclassified', a.reclassified.length === 0 ? 'none' : a.reclassified.join(', ')],
  ]);
  const reruns = a.reruns.length === 0 ? '' : section('\nre-runs', table(['job', 'action', 'reason'], a.reruns.map((r) => [r.jobId, r.action, r.reason])));
  return head + reruns;
}

export function renderRemoved(r: SuccessOf<'removeClassifierPattern'>): string {
  return `removed ${r.removed.id} (${how(r.removed)} → ${r.removed.name}); version ${r.version}`;
}
