/** Packs seeded straight into the tables in any state, as if the pipeline had run them. */
import type { JobRecord, PackRecord } from '../../../core/job.ts';
import type { PackStatus } from '../../../core/status.ts';
import { getJob, getPack, updatePack, type PackSet } from '../../../adapters/job-store.ts';
import { seedPack } from '../../support/jobs.ts';

export async function seedRunPack(jobs: readonly Partial<JobRecord>[], status: PackStatus, pack: PackSet = { runs: 1 }): Promise<{ pack: PackRecord; jobs: JobRecord[] }> {
  const seeded = await seedPack({ jobs: jobs.length, size: 64, mutate: (j, i) => Object.assign(j, jobs[i]) });
  await updatePack(seeded.pack.packId, pack, { status });
  return {
    pack: await getPack(seeded.pack.packId),
    jobs: await Promise.all(seeded.jobs.map((j) => getJob(j.jobId))),
  };
}

export const failedWith = (name: string, over: Partial<JobRecord> = {}): Partial<JobRecord> => ({
  status: 'failed',
  error: { name, cause: `${name} happened`, at: new Date().toISOString() },
  needsIntervention: !['Transient.Network', 'Transient.ServiceUnavailable', 'Gpu.OutOfMemory'].includes(name),
  ...over,
});
