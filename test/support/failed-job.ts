/** A job of its own pack, seeded as failed a minute ago with a stored failure, as if a run had ended so. */
import { randomUUID } from 'node:crypto';
import { newJobRecord, newPackRecord, type JobRecord } from '../../core/job.ts';
import { DEFAULT_PARAMS } from '../../core/params.ts';
import { s3Keys } from '../../core/resources.ts';
import type { Stage } from '../../core/strategies.ts';
import { putObject } from '../../adapters/artifacts.ts';
import { putPackWithJobs } from '../../adapters/job-store.ts';
import { garmentImage, personImage } from './images.ts';

const FN_OF: Record<Stage, string> = { segmentation: 'SegmentationCall', inpaint: 'GPU', compositing: 'Composite', qa: 'QaCheck' };

/** The failure's `cause` is what the failure recorder stores: the Lambda error payload, as JSON. */
export async function seedFailedJob(name: string, cause: string, stage: Stage = 'segmentation'): Promise<JobRecord> {
  const packId = randomUUID();
  const now = new Date().toISOString();
  const at = new Date(Date.now() - 60_000).toISOString();
  const person = await putObject(s3Keys.upload(packId, 'person.png'), await personImage(256, 256));
  const garment = await putObject(s3Keys.upload(packId, 'garment.png'), await garmentImage(256, 256, [30, 90, 200]));
  const base = newJobRecord({ packId, jobId: randomUUID(), inpaint: 'comfyui', inputs: { person, garment }, params: { ...DEFAULT_PARAMS, width: 512, height: 512, steps: 20 }, now });
  const job: JobRecord = {
    ...base, status: 'failed', runs: 1, updatedAt: at, needsIntervention: true,
    error: { name, cause: JSON.stringify({ errorType: name, errorMessage: cause }), at },
    recoveries: [{ at, error: name, strategy: 'NEEDS_INTERVENTION', fn: FN_OF[stage], stage, attempt: 1, cause, outcome: 'failed' }],
  };
  await putPackWithJobs({ ...newPackRecord({ packId, name: 'failed job', inpaint: 'comfyui', jobCount: 1, now }), status: 'failed' }, [job]);
  return job;
}
