/** GET /jobs/{id}. */
import { findJob } from '../../adapters/job-store.ts';
import { notFound } from './errors.ts';
import type { Operation } from './operation.ts';
import { jobView } from './views.ts';

export async function jobOr404(jobId: string) {
  const job = await findJob(jobId);
  if (!job) throw notFound('job', jobId);
  return job;
}

export const getJob: Operation<'getJob'> = async (req) => {
  const job = await jobOr404(req.pathParams.id);
  return { status: 200, body: await jobView(job) };
};
