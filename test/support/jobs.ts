/** Seeds packs and jobs with real input images in the emulators' table and bucket. */
import { randomUUID } from 'node:crypto';
import { newJobRecord, newPackRecord, type JobRecord, type PackRecord } from '../../core/job.ts';
import { DEFAULT_PARAMS, type InpaintParams } from '../../core/params.ts';
import { s3Keys } from '../../core/resources.ts';
import { putObject } from '../../adapters/artifacts.ts';
import { putPackWithJobs } from '../../adapters/job-store.ts';
import { garmentImage, personImage } from './images.ts';

export interface Seeded { pack: PackRecord; jobs: JobRecord[] }

export async function seedPack(opts: { jobs?: number; params?: Partial<InpaintParams>; inpaint?: 'comfyui' | 'hosted'; size?: number; mutate?: (j: JobRecord, i: number) => void } = {}): Promise<Seeded> {
  const packId = randomUUID();
  const now = new Date().toISOString();
  const size = opts.size ?? 256;
  const person = await putObject(s3Keys.upload(packId, 'person.png'), await personImage(size, size));
  const garment = await putObject(s3Keys.upload(packId, 'garment.png'), await garmentImage(size, size, [200, 30, 40]));
  const inpaint = opts.inpaint ?? 'comfyui';
  const jobs = Array.from({ length: opts.jobs ?? 1 }, (_, i) => {
    const j = newJobRecord({ packId, jobId: randomUUID(), inpaint, inputs: { person, garment }, params: { ...DEFAULT_PARAMS, ...opts.params }, now });
    opts.mutate?.(j, i);
    return j;
  });
  const pack = newPackRecord({ packId, name: `test pack ${packId.slice(0, 8)}`, inpaint, jobCount: jobs.length, now });
  await putPackWithJobs(pack, jobs);
  return { pack, jobs };
}
