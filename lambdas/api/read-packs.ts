/** GET /packs, GET /packs/{id}, GET /packs/{id}/jobs. */
import { NotFoundError, getPack } from '../../adapters/job-store.ts';
import { isErasing } from '../../adapters/pack-erasure.ts';
import { decodeCursor, encodeCursor, jobCursorSchema, packCursorSchema } from './cursor.ts';
import { badRequest, notFound } from './errors.ts';
import { PAGE } from './limits.ts';
import type { Operation } from './operation.ts';
import { jobStatusesOfPack, jobsPage, packsPage } from './store.ts';
import { countsOf, jobSummary, packView } from './views.ts';

/** The pack, or 404 (also once its erasure began). */
export async function packOr404(packId: string) {
  let pack;
  try {
    pack = await getPack(packId);
  } catch (e) {
    if (e instanceof NotFoundError) throw notFound('pack', packId);
    throw e;
  }
  if (isErasing(pack)) throw notFound('pack', packId);
  return pack;
}

export const listPacks: Operation<'listPacks'> = async (req) => {
  const start = req.query.cursor === undefined ? undefined : decodeCursor(req.query.cursor, packCursorSchema);
  const page = await packsPage(req.query.limit ?? PAGE.default, start);
  return {
    status: 200,
    body: { items: page.items.map((p) => packView(p)), ...(page.lastKey && { nextCursor: encodeCursor(page.lastKey) }) },
  };
};

export const getPackById: Operation<'getPack'> = async (req) => {
  const pack = await packOr404(req.pathParams.id);
  const jobs = await jobStatusesOfPack(pack.packId);
  return { status: 200, body: packView(pack, countsOf(jobs)) };
};

export const listPackJobs: Operation<'listPackJobs'> = async (req) => {
  const packId = req.pathParams.id;
  const start = req.query.cursor === undefined ? undefined : decodeCursor(req.query.cursor, jobCursorSchema);
  if (start && start.packId !== packId) {
    throw badRequest('The cursor belongs to another pack', [{ path: 'query.cursor', message: 'was returned for another pack' }]);
  }
  await packOr404(packId);
  const page = await jobsPage(packId, req.query.status, req.query.limit ?? PAGE.default, start);
  return {
    status: 200,
    body: { items: page.items.map(jobSummary), ...(page.lastKey && { nextCursor: encodeCursor(page.lastKey) }) },
  };
};
