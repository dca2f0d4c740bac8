/**
 * Records as the API shows them: packs with counts, progress and console link; jobs with
 * their history and pre-signed output URLs.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { recoveryCount, type JobRecord, type PackRecord } from '../../core/job.ts';
import { emptyCounts, JOB_STATUSES, TERMINAL_JOB_STATUSES, livePackStatus, type StatusCounts } from '../../core/status.ts';
import { s3Client } from '../../adapters/aws-clients.ts';
import { config } from '../../adapters/config.ts';
import type { JobSummary, JobView, PackView } from './schemas.ts';
import { apiSettings, consoleUrl } from './settings.ts';
import { access, grant } from '../../adapters/access.ts';

/** Output URLs are pre-signed GETs, signed by the API's role. */
export const VIEWS_ACCESS = access(grant('objects:artifacts/packs/*', 's3', 'GetObject'));

export function countsOf(jobs: readonly Pick<JobRecord, 'status'>[]): StatusCounts {
  const counts = emptyCounts();
  for (const j of jobs) if (j.status in counts) counts[j.status]++;
  return counts;
}

export function progressOf(counts: StatusCounts): { done: number; total: number; percent: number } {
  const total = JOB_STATUSES.reduce((n, s) => n + counts[s], 0);
  const done = TERMINAL_JOB_STATUSES.reduce((n, s) => n + counts[s], 0);
  return { done, total, percent: total === 0 ? 100 : Math.round((done / total) * 1000) / 10 };
}

/**
 * A pack; `counts` from its jobs when given (the status then agrees with them: see
 * livePackStatus), else counts and status as stored at the last finalize.
 */
export function packView(p: PackRecord, counts?: StatusCounts): PackView {
  const c = counts ?? p.counts;
  return {
    packId: p.packId, name: p.name, status: counts === undefined ? p.status : livePackStatus(p.status, counts), createdAt: p.createdAt, updatedAt: p.updatedAt,
    inpaint: p.inpaint, jobCount: p.jobCount, runs: p.runs,
    ...(c !== undefined && { counts: c, progress: progressOf(c) }),
    ...(p.executionArn !== undefined && { executionArn: p.executionArn, consoleUrl: consoleUrl(p.executionArn) }),
    ...(p.sourcePackId !== undefined && { sourcePackId: p.sourcePackId }),
    ...(p.refineScope !== undefined && { refineScope: p.refineScope }),
    ...(p.error !== undefined && { error: { name: p.error.name, cause: p.error.cause } }),
    ...(p.webhook !== undefined && { webhook: { url: p.webhook.url, events: [...p.webhook.events], failures: p.webhookFailureCount } }),
  };
}

export function jobSummary(j: JobRecord): JobSummary {
  return {
    jobId: j.jobId, packId: j.packId, status: j.status, createdAt: j.createdAt, updatedAt: j.updatedAt,
    inpaint: j.inpaint, inputs: { person: j.inputs.person, garment: j.inputs.garment }, params: j.params,
    runs: j.runs, recoveriesUsed: j.recoveriesUsed,
    ...(j.error !== undefined && { error: j.error }),
    needsIntervention: j.needsIntervention === true,
  };
}

async function presign(key: string): Promise<{ key: string; url: string }> {
  const url = await getSignedUrl(s3Client(), new GetObjectCommand({ Bucket: config().bucket, Key: key }), { expiresIn: apiSettings().outputUrlTtlSeconds });
  return { key, url };
}

export async function jobView(j: JobRecord): Promise<JobView> {
  const outputs: JobView['outputs'] = {};
  for (const name of ['result', 'mask', 'inpainted'] as const) {
    const key = j.outputs[name];
    if (key !== undefined && key !== '') outputs[name] = await presign(key);
  }
  return {
    ...jobSummary(j),
    originalParams: j.originalParams,
    attempts: Object.fromEntries(Object.entries(j.attempts).filter((e): e is [string, number] => e[1] !== undefined)),
    triedModels: j.triedModels,
    checkpoints: Object.fromEntries(Object.entries(j.checkpoints).filter((e): e is [string, string] => e[1] !== undefined)),
    ...(j.qaReport !== undefined && { qaReport: j.qaReport }),
    recoveries: j.recoveries.map((r) => ({ ...r })),
    recoveryCount: recoveryCount(j),
    outputs,
    inputLinks: { person: await presign(j.inputs.person), garment: await presign(j.inputs.garment) },
    ...(j.executionArn !== undefined && { executionArn: j.executionArn, consoleUrl: consoleUrl(j.executionArn) }),
    ...(j.gpuSeconds !== undefined && { gpuSeconds: j.gpuSeconds }),
    ...(j.deferredReruns !== undefined && { deferredReruns: j.deferredReruns }),
  };
}
