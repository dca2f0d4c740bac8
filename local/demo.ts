/**
 * The demo pack `npm start` runs: synthetic person and garment images, and parameters
 * chosen so the simulators' physics meets the GPU failures (out of memory from size and
 * batch against the VRAM budget, a missing model from the installed list); the fault
 * profile adds the rest (transient errors, degenerate masks, hangs, fatal disk errors).
 */
import { createHash } from 'node:crypto';
import { newJobRecord, newPackRecord, type PackRecord, type JobRecord } from '../core/job.ts';
import { resolveParams, type PartialParams } from '../core/params.ts';
import { s3Keys } from '../core/resources.ts';
import { putObject } from '../adapters/artifacts.ts';
import { putPackWithJobs } from '../adapters/job-store.ts';
import { garmentImage, personImage, type Rgb } from './synthetic-images.ts';

/** A model no simulated GPU has installed: switching along the chain cures it. */
export const MISSING_MODEL = 'flux-fill-dev.safetensors';

const GARMENTS: Rgb[] = [[200, 30, 40], [30, 90, 200], [40, 160, 70], [230, 200, 40], [120, 40, 160], [20, 20, 20]];

/** Parameters of the i-th demo job: most are ordinary, a few are built to meet GPU physics. */
export function demoParams(i: number): PartialParams {
  switch (i % 8) {
    case 3: return { width: 1536, height: 1536, batch: 4, steps: 40 };
    case 5: return { model: MISSING_MODEL };
    default: return { seed: 1000 + i };
  }
}

/** A UUID derived from the seed, so the same seed meets the same faults (they are keyed by job id). */
export function seededUuid(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join(':')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The demo job whose garment upload is corrupt: an unreadable input is fatal, never retried. */
export const CORRUPT_INPUT_JOB = 21;

export async function createDemoPack(opts: { jobs: number; seed: number; name?: string; inpaint?: 'comfyui' | 'hosted'; size?: number }): Promise<{ pack: PackRecord; jobs: JobRecord[] }> {
  const packId = seededUuid('pack', opts.seed, Date.now());
  const now = new Date().toISOString();
  const size = opts.size ?? 384;
  const person = await putObject(s3Keys.upload(packId, 'person.png'), await personImage(size, size));
  const garments = await Promise.all(GARMENTS.map(async (c, i) => putObject(s3Keys.upload(packId, `garment-${i}.png`), await garmentImage(size, size, c))));
  const inpaint = opts.inpaint ?? 'comfyui';
  const corrupt = await putObject(s3Keys.upload(packId, 'garment-corrupt.png'), Buffer.from('this upload was cut short and is not a PNG'));
  const jobs = Array.from({ length: opts.jobs }, (_, i) => newJobRecord({
    packId, jobId: seededUuid('job', opts.seed, i), inpaint, now,
    inputs: { person, garment: i % 24 === CORRUPT_INPUT_JOB ? corrupt : garments[i % garments.length]! },
    params: resolveParams(demoParams(i)),
  }));
  const pack = newPackRecord({ packId, name: opts.name ?? `demo pack (${opts.jobs} jobs)`, inpaint, jobCount: jobs.length, now });
  await putPackWithJobs(pack, jobs);
  return { pack, jobs };
}
