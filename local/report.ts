/**
 * The final report of an offline run: the pack's counts, each job's status, attempts and
 * recovery path, and statistics computed from the jobs' recovery ledgers.
 */
import type { JobRecord, PackRecord } from '../core/job.ts';
import { percentile } from '../core/percentile.ts';
import { emptyCounts, type StatusCounts } from '../core/status.ts';
import { entryFor } from '../core/taxonomy.ts';

export interface JobReport {
  id: string;
  status: string;
  attempts: number;
  error: string | null;
  recoveries: { error: string; strategy: string; outcome: string; detail?: string }[];
}

export interface RunReport {
  pack: { id: string; name: string; status: string; counts: StatusCounts; total: number; elapsedSeconds: number };
  jobs: JobReport[];
  statistics: {
    errors: number;
    recovered: number;
    failed: number;
    recoveryRate: number | null;
    byError: Record<string, { errors: number; recovered: number; failed: number }>;
    byStrategy: Record<string, { runs: number; recovered: number }>;
    timeToRecoverMs: { p50: number | null; p95: number | null };
  };
}

export function buildReport(pack: PackRecord, jobs: readonly JobRecord[], elapsedSeconds: number): RunReport {
  const counts = emptyCounts();
  for (const j of jobs) counts[j.status]++;
  const byError: RunReport['statistics']['byError'] = {};
  const byStrategy: RunReport['statistics']['byStrategy'] = {};
  const ttr: number[] = [];
  let recovered = 0;
  let failed = 0;
  let errors = 0;
  for (const j of jobs) {
    for (const r of j.recoveries) {
      errors++;
      const e = (byError[r.error] ??= { errors: 0, recovered: 0, failed: 0 });
      const s = (byStrategy[r.strategy] ??= { runs: 0, recovered: 0 });
      e.errors++;
      s.runs++;
      if (r.outcome === 'recovered') {
        e.recovered++;
        s.recovered++;
        if (entryFor(r.error).recoverable) recovered++;
        if (r.resolvedAt) ttr.push(Date.parse(r.resolvedAt) - Date.parse(r.at));
      } else if (r.outcome === 'failed') {
        e.failed++;
        if (entryFor(r.error).recoverable) failed++;
      }
    }
  }
  return {
    pack: { id: pack.packId, name: pack.name, status: pack.status, counts, total: jobs.length, elapsedSeconds },
    jobs: [...jobs].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.jobId.localeCompare(b.jobId)).map((j) => ({
      id: j.jobId,
      status: j.status,
      attempts: j.attempts.gpu ?? 0,
      error: j.error?.name ?? null,
      recoveries: j.recoveries.map((r) => ({ error: r.error, strategy: r.strategy, outcome: r.outcome, ...(r.detail !== undefined && { detail: r.detail }) })),
    })),
    statistics: {
      errors, recovered, failed,
      recoveryRate: recovered + failed === 0 ? null : Math.round((recovered / (recovered + failed)) * 1000) / 10,
      byError, byStrategy,
      timeToRecoverMs: { p50: percentile(ttr, 50), p95: percentile(ttr, 95) },
    },
  };
}

/** The report as a person reads it in a terminal. */
export function formatReport(r: RunReport): string {
  const lines: string[] = [];
  const c = r.pack.counts;
  lines.push(`Pack ${r.pack.name} (${r.pack.id}): ${r.pack.status} in ${r.pack.elapsedSeconds.toFixed(1)} s — ${c.complete} complete, ${c.failed} failed of ${r.pack.total}`);
  lines.push('');
  lines.push(`${'job'.padEnd(10)} ${'status'.padEnd(10)} ${'GPU'.padStart(3)}  recovery path`);
  for (const j of r.jobs) {
    const path = j.recoveries.length === 0 ? '—' : j.recoveries.map((x) => `${x.error} → ${x.strategy} (${x.outcome})`).join('; ');
    const tail = j.error ? `  ✖ ${j.error}` : '';
    lines.push(`${j.id.slice(0, 8).padEnd(10)} ${j.status.padEnd(10)} ${String(j.attempts).padStart(3)}  ${path}${tail}`);
  }
  const s = r.statistics;
  lines.push('');
  lines.push(`Failures met: ${s.errors}; recoverable recovered: ${s.recovered}, not recovered: ${s.failed}; recovery rate: ${s.recoveryRate === null ? 'n/a' : `${s.recoveryRate} %`}; time to recover p50 ${fmtMs(s.timeToRecoverMs.p50)}, p95 ${fmtMs(s.timeToRecoverMs.p95)}`);
  for (const [name, e] of Object.entries(s.byError).sort()) {
    lines.push(`  ${name.padEnd(30)} met ${String(e.errors).padStart(3)}  recovered ${String(e.recovered).padStart(3)}  failed ${String(e.failed).padStart(3)}`);
  }
  return lines.join('\n');
}

const fmtMs = (ms: number | null) => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);
